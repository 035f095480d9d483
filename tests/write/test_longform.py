"""Long-form writing with the real tiny model: length control, plans, resume."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bimo.errors import BimoError
from bimo.text import count_length
from bimo.write.longform import LongformConfig, LongformWriter, cut_to_length
from bimo.write.plan import Plan, Section, rescale, split_oversized, untitled_if_not_a_title


def test_cut_to_length_keeps_whole_sentences():
    text = "第一句话很短。第二句话稍微长一点。第三句话更加更加长一些！Last one here."
    cut = cut_to_length(text, 14)
    assert cut == "第一句话很短。第二句话稍微长一点。"
    assert cut_to_length("One. Two three. Four five six.", 3) == "One. Two three."


def test_plan_targets_rescaled_to_requirement():
    plan = rescale(Plan(title="T", sections=[Section(heading="A b", length=1), Section(heading="C", length=3)]), 3000)
    body = 3000 - count_length("T") - count_length("A b") - count_length("C")
    assert abs(sum(s.length for s in plan.sections) - body) <= 1
    assert plan.sections[1].length == pytest.approx(3 * plan.sections[0].length, rel=0.01)


def test_a_title_that_only_says_plan_is_dropped():
    """Seen in held-out runs: a 2,000字 activity plan opened with "# 写作计划", a story with "# :",
    a survey report with "# 调研报告计划" and a story with "# 故事的设定"."""
    for title in ("写作计划", "大纲", "Writing plan", " outline ", ":", "——", "调研报告计划", "故事的设定",
                  "小说大纲", "Story outline", "The essay plan"):
        assert untitled_if_not_a_title(Plan(title=title, sections=[Section(heading="a")])).title == ""
    for title in ("全民阅读月活动计划", "A plan for the river", "国家五年计划的得失", "The Outline of History",
                  "关于弹性工作制的通知"):
        assert untitled_if_not_a_title(Plan(title=title, sections=[Section(heading="a")])).title == title


def test_oversized_sections_are_split():
    plan = split_oversized(rescale(Plan(title="", sections=[Section(heading="All", points=["a", "b"], length=9)]), 1000),
                           500, "en")
    assert [s.heading for s in plan.sections] == ["All", "All (continued)"]
    assert [s.points for s in plan.sections] == [["a"], ["b"]]
    assert sum(s.length for s in plan.sections) == pytest.approx(1000 - 1, abs=2)


def test_a_split_section_goes_on_under_its_own_heading():
    from bimo.write.runstate import RunState, SectionText

    plan = split_oversized(Plan(title="潮汐", sections=[Section(heading="前言", length=2100),
                                                       Section(heading="结语", length=300)]), 500, "zh")
    assert [s.heading for s in plan.sections] == ["前言", "前言（续）", "前言（续）", "结语"]
    texts = ("月亮转一圈。", "地球也在转。", "它们步调一致。", "这就是潮汐锁定。")
    state = RunState(instruction="写科普。", config=LongformConfig(length=2400), plan=plan,
                     sections=[SectionText(text=t, length=count_length(t)) for t in texts])
    assert state.render() == ("# 潮汐\n\n## 前言\n\n月亮转一圈。\n\n地球也在转。\n\n它们步调一致。"
                              "\n\n## 结语\n\n这就是潮汐锁定。")


@pytest.mark.parametrize("length", [250, 900])
def test_length_control_with_real_model(tiny_backend, tmp_path, length):
    cfg = LongformConfig(length=length, seed=5, lang="en")
    events = []
    result = LongformWriter(tiny_backend, cfg).run(
        f"Write a story of {length} words about a lighthouse keeper who finds a message in a bottle.",
        run_dir=tmp_path / "run", on_event=events.append)
    kinds = [e["type"] for e in events]
    # the length is met, or — the tiny model loops on longer texts — the writer stops short and
    # says so rather than pad (never silently short)
    stopped = [e["message"] for e in events if e["type"] == "stopped"]
    if abs(result.length - length) > 0.1 * length:
        assert result.length < length and stopped == [f"stopped at {result.length} of {length} words to avoid "
                                                      "repetition"], (result.length, stopped)
    assert length > 500 or abs(result.length - length) <= 0.1 * length, result.length  # short texts: always met
    assert (tmp_path / "run" / "output.md").read_text().strip() == result.text
    assert kinds[0] == "plan" and kinds[-1] == "done" and kinds.count("section") == len(result.plan.sections)


def test_context_too_small_is_a_clear_error(tiny_path):
    from bimo.llm import get_backend

    with get_backend("local:tiny", n_ctx=512) as small:
        plan = Plan(title="", sections=[Section(heading=f"Part {i}", points=["x"], length=1000) for i in range(3)])
        with pytest.raises(BimoError, match="cannot hold the instruction"):
            LongformWriter(small, LongformConfig(length=3000, lang="en")).run("Write a long essay.", plan=plan)


def _run_dir(stderr: str) -> Path:
    m = re.search(r"run folder: (\S+)", stderr)
    assert m, stderr
    return Path(m.group(1))


def test_resume_after_kill_loses_and_duplicates_nothing(tiny_path, tmp_path):
    cmd = [sys.executable, "-m", "bimo.cli", "write", "-m", "local:tiny", "--seed", "3", "--length", "1000",
           "Write an essay about the history of lighthouses."]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    while "run folder" not in line:
        line = proc.stderr.readline()
        assert line or proc.poll() is None, "the run ended before it started: " + proc.stderr.read()[-500:]
    run_dir = _run_dir(line)
    state_file = run_dir / "state.json"
    # no wall-clock deadline (a loaded machine may take minutes per section): pytest's timeout guards
    while proc.poll() is None:
        if state_file.exists() and json.loads(state_file.read_text())["sections"]:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = json.loads(state_file.read_text())
    first = dict(state["sections"])
    n_sections = len(state["plan"]["sections"])
    assert 0 < len(first) < n_sections, "the run should be interrupted mid-way"
    out = tmp_path / "final.md"
    done = subprocess.run([sys.executable, "-m", "bimo.cli", "write", "--resume", str(run_dir), "-o", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    final = json.loads(state_file.read_text())
    assert len(final["sections"]) == n_sections
    for k, sec in first.items():  # finished sections are kept verbatim, not rewritten
        assert final["sections"][k]["text"] == sec["text"]
    text = out.read_text()
    for sec in final["sections"].values():
        assert text.count(sec["text"]) == 1
    lines = text.splitlines()
    for s in final["plan"]["sections"]:  # a later part of a split section has no heading of its own
        assert lines.count(f"## {s['heading']}") == (0 if s["heading"].endswith(" (continued)") else 1)


def test_show_plan_then_write_from_edited_plan(bimo_cli, tiny_path, tmp_path):
    proc = bimo_cli("write", "-m", "local:tiny", "--seed", "2", "--show-plan",
                    "Write a 1200-word guide to keeping houseplants alive.")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["sections"] and sum(s["length"] for s in plan["sections"]) <= 1200
    edited = {"title": "Houseplants", "sections": [{"heading": "Light", "points": ["windows"], "length": 150},
                                                    {"heading": "Water", "points": ["less is more"], "length": 150}]}
    pf = tmp_path / "plan.json"
    pf.write_text(json.dumps(edited))
    out = tmp_path / "out.md"
    proc = bimo_cli("write", "-m", "local:tiny", "--seed", "2", "--plan", str(pf), "-o", str(out),
                    "Write a short guide to keeping houseplants alive.")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "## Light" in text and "## Water" in text and text.startswith("# Houseplants")


def test_bad_lengths_and_plans(bimo_cli, tiny_path, tmp_path):
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps({"title": "T", "sections": [{"heading": "Light", "points": ["windows"], "length": 300},
                                                          {"heading": "Light", "points": ["windows"], "length": 300}]}))
    for args, msg in [(["--length", "0"], "length must be positive"),
                      (["--length", "-5"], "length must be positive"),
                      (["--length", "200000"], "beyond the supported maximum of 100,000"),
                      (["--plan", str(tmp_path / "none.json")], "plan file not found"),
                      (["--plan", str(dup)], "the plan has duplicate sections: 1 and 2"),
                      (["--resume", str(tmp_path)], "no long-form run to resume")]:
        proc = bimo_cli("write", "-m", "local:tiny", *args, "Write an essay.")
        err = proc.stderr.decode().strip()
        assert proc.returncode == 2 and msg in err and len(err.splitlines()) == 1, (args, err)


def _two_section_run(backend, run_dir: Path) -> dict:
    """A finished two-section run folder (short sections, so it is quick)."""
    plan = Plan(title="", sections=[Section(heading="Rain", points=["sound"], length=40),
                                    Section(heading="Sun", points=["warmth"], length=40)])
    LongformWriter(backend, LongformConfig(length=80, lang="en", seed=4)).run(
        "Write a short piece about weather.", run_dir=run_dir, plan=plan)
    return json.loads((run_dir / "state.json").read_text())


def test_resume_continues_with_the_recorded_model_and_refuses_another(tiny_backend, bimo_cli, tmp_path):
    run_dir = tmp_path / "run"
    state = _two_section_run(tiny_backend, run_dir)
    assert state["model"] == "local:tiny" and state["binding"]["model"] == "local:tiny"
    assert state["binding"]["seed"] == 4 and state["binding"]["instruction"].startswith("Write a short piece")
    kept = state["sections"]["0"]["text"]
    del state["sections"]["1"]  # as if killed after the first section
    (run_dir / "state.json").write_text(json.dumps(state))
    env = {"BIMO_MODEL": ""}

    other = bimo_cli("write", "--resume", str(run_dir), "-m", "local:small", env=env)
    err = other.stderr.decode().strip()
    assert other.returncode == 2 and len(err.splitlines()) == 1, err
    assert "local:tiny" in err and "local:small" in err

    out = tmp_path / "final.md"
    done = bimo_cli("write", "--resume", str(run_dir), "-o", str(out), env=env)  # no --model: the recorded one
    assert done.returncode == 0, done.stderr.decode()
    assert "resuming with local:tiny" in done.stderr.decode()
    final = json.loads((run_dir / "state.json").read_text())
    assert final["sections"]["0"]["text"] == kept and final["sections"]["1"]["text"].strip()
    assert out.read_text().count(kept) == 1


def test_resume_of_a_run_without_a_recorded_model_needs_model(tiny_backend, bimo_cli, tmp_path):
    run_dir = tmp_path / "old"
    state = _two_section_run(tiny_backend, run_dir)
    del state["model"], state["binding"]  # a run folder written before models were recorded
    (run_dir / "state.json").write_text(json.dumps(state))
    proc = bimo_cli("write", "--resume", str(run_dir), env={"BIMO_MODEL": ""})
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "pass --model" in err, err
    proc = bimo_cli("write", "--resume", str(run_dir), "-m", "local:tiny", env={"BIMO_MODEL": ""})
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads((run_dir / "state.json").read_text())["binding"]["model"] == "local:tiny"


def test_writer_refuses_a_run_folder_of_another_model(tiny_backend, tiny_path, tmp_path):
    from bimo.llm import get_backend

    run_dir = tmp_path / "run"
    _two_section_run(tiny_backend, run_dir)
    with get_backend(f"gguf:{tiny_path}", n_ctx=2048) as other:
        with pytest.raises(BimoError, match=r"model local:tiny → gguf:"):
            LongformWriter(other, LongformConfig(length=80, lang="en", seed=4)).run("x", run_dir=run_dir)


def test_headings_the_model_echoes_or_writes_elsewhere_are_not_kept():
    """Seen in held-out runs: "---" and "### 前言" opening the 前言 section, "### 背景知识"
    again inside 背景知识, "### 物理原理" (the next section) inside it, and a report's last
    section starting over with "### 引言" (the first)."""
    from bimo.write.longform import _clean_section, writes_elsewhere

    text = "---\n\n### 前言\n\n老电影院要拆了。\n\n### 前言\n\n放映室里很安静。"
    assert _clean_section(text, "前言") == "老电影院要拆了。\n\n放映室里很安静。"
    text = "潮汐是引力造成的。\n\n### 背景知识\n\n月球绕地球转。\n\n### 物理原理\n\n引力使月球变形。"
    assert writes_elsewhere(text, ["物理原理", "结语"]) == text.index("### 物理原理")
    assert _clean_section(text, "背景知识", ("第二部分：物理原理",)) == "潮汐是引力造成的。\n\n月球绕地球转。"
    assert writes_elsewhere("### Part 2: Tides\n\nThe sea rises.", ["Tides"]) == 0
    assert writes_elsewhere("物理原理很简单。\n\n引力使月球变形。", ["物理原理"]) is None  # prose, not a heading
    assert writes_elsewhere(text, []) is None and writes_elsewhere(text, [""]) is None
    # a dev plan's 「宣传推广」 opened "## 宣传推广", "## 1. 社交媒体平台", "### Facebook" and a list
    # about Facebook: the sub-heading is kept, or the list loses what it is about
    text = "## 宣传推广\n\n## 1. 社交媒体平台\n\n### Facebook\n- 目标人群：本地居民。"
    assert _clean_section(text, "宣传推广") == "### Facebook\n- 目标人群：本地居民。"
    # a split section's later part echoing the first part's heading; a header with no name
    assert _clean_section("### 物理原理\n\n引力使月球变形。", "物理原理（续）") == "引力使月球变形。"
    assert _clean_section("### 第二部分\n\n引力使月球变形。", "物理原理") == "引力使月球变形。"
    assert _clean_section("#话题# 今天天气好。", "日记") == "#话题# 今天天气好。"  # a hashtag, not a header
    # the new-sub-point request's words as a heading (a held-out report: "### 新的细节：")
    assert _clean_section("服务不足。\n\n### 新的细节：\n\n许多老人心存疑虑。", "存在问题") == \
        "服务不足。\n\n许多老人心存疑虑。"
    assert _clean_section("Soil matters.\n\n#### New detail:\nUse pots.", "Soil") == "Soil matters.\n\nUse pots."
    assert _clean_section("### 细节描写\n\n灯光昏黄。", "X") == "### 细节描写\n\n灯光昏黄。"  # a real sub-heading
    text = "政府应加大投入。\n\n### 引言\n\n预制菜是指……"
    assert _clean_section(text, "6. 结论与建议", ("2. 引言", "3. 行业现状")) == "政府应加大投入。"


def test_other_headings_are_every_section_but_the_parts_of_its_own():
    from bimo.write.plan import other_headings

    secs = split_oversized(Plan(sections=[Section(heading="引言", length=300), Section(heading="现状", length=1000),
                                          Section(heading="结论", length=300)]), 300, "zh")
    assert [s.heading for s in secs.sections] == ["引言", "现状", "现状（续）", "现状（续）", "结论"]
    assert other_headings(secs.sections, 0) == ("现状", "现状（续）", "现状（续）", "结论")
    assert other_headings(secs.sections, 2) == other_headings(secs.sections, 1) == ("引言", "结论")
    assert other_headings(secs.sections, 4) == ("引言", "现状", "现状（续）", "现状（续）")


def test_a_split_section_keeps_its_points_in_order_and_points_lose_markdown():
    """A held-out report's split section wrote "2.1" and "2.2" out of order: the parts took
    every other point; the plan's points also came as "> 2.2 ..." quote lines."""
    plan = split_oversized(Plan(sections=[Section(heading="引言", points=["> 2.1 定义", "- 2.2 历史", "2.3 现状"],
                                                  length=1000)]), 300, "zh")
    assert [s.points for s in plan.sections] == [["2.1 定义"], ["2.2 历史"], ["2.3 现状"]]
    plan = split_oversized(Plan(sections=[Section(heading="引言", points=["a", "b", "c"], length=1000)]), 600, "zh")
    assert [s.points for s in plan.sections] == [["a", "b"], ["c"]]
    # fewer points than parts: the first parts (the first under the real heading) get them
    plan = split_oversized(Plan(sections=[Section(heading="引言", points=["a"], length=1000)]), 600, "zh")
    assert [s.points for s in plan.sections] == [["a"], []]
    plan = split_oversized(Plan(sections=[Section(heading="引言", points=["a", "b"], length=1600)]), 300, "zh")
    assert [s.points for s in plan.sections] == [["a"], ["b"], [], []]
    assert Section(points=["**粗体**", "-3 度", "> > * 引用", "•要点", " ", "* * *", "+ 加号"]).points == [
        "**粗体**", "-3 度", "引用", "要点", "加号"]


def test_a_table_of_contents_is_not_a_section_and_a_part_name_is_not_a_title():
    """Seen in held-out runs: a 5,000字 report planned as 目录 + 引言; a plan titled 引言."""
    from bimo.write.plan import without_contents

    plan = without_contents(Plan(title="引言", sections=[Section(heading="目录"), Section(heading="引言"),
                                                        Section(heading="Table of Contents")]))
    assert [s.heading for s in plan.sections] == ["引言"]
    for title in ("引言", "Introduction", "目录"):
        assert untitled_if_not_a_title(Plan(title=title, sections=[Section(heading="a")])).title == ""
    assert untitled_if_not_a_title(Plan(title="引言的艺术", sections=[Section(heading="a")])).title == "引言的艺术"


def test_a_plan_that_is_only_contents_and_introduction_is_asked_again():
    from write_fakes import RequestLog

    plans = [{"title": "", "sections": [{"heading": "目录", "points": [], "length": 100},
                                        {"heading": "引言", "points": [], "length": 1900}]},
             {"title": "", "sections": [{"heading": h, "points": [], "length": 500} for h in "甲乙丙丁"]}]
    be = RequestLog(lambda req: json.dumps(plans[len(be.requests) - 1], ensure_ascii=False))
    plan = LongformWriter(be, LongformConfig(length=2000, seed=1, lang="zh")).make_plan("写一份报告。", "zh")
    assert [s.heading for s in plan.sections] == list("甲乙丙丁") and len(be.requests) == 2
    schema = be.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["sections"]["minItems"] == 2  # half of the 4 sections asked for


def test_the_plan_grammar_holds_the_model_to_its_minimum_of_sections(tiny_backend):
    """Through real llama.cpp: under `plan_schema(n)` the JSON cannot close its list early."""
    from bimo.llm.base import GenParams
    from bimo.write.plan import plan_schema

    msg = [{"role": "user", "content": "Plan a story about a fox in sections, as JSON."}]
    for seed in (1, 2):
        comp = tiny_backend.chat(msg, GenParams(json_schema=plan_schema(4), max_tokens=3000, seed=seed,
                                                temperature=0.8), cache=False)
        assert comp.finish_reason == "stop", comp.text[-200:]
        assert len(json.loads(comp.text)["sections"]) >= 4


def test_pieces_join_on_paragraphs_and_an_empty_sub_heading_goes():
    """A dev run joined "#### 1.2 抖音平台#### 1.3 网页广告" on one line: the list under 1.2 had
    been dropped as a repeat and the next piece opened with the next sub-heading."""
    from bimo.write.longform import _join

    assert _join("文字。\n\n#### 1.2 抖音平台", "#### 1.3 网页广告\n\n- 内容") == "文字。\n\n#### 1.3 网页广告\n\n- 内容"
    assert _join("文字。\n\n### 1. 平台", "#### 1.1 微信\n- 内容") == "文字。\n\n### 1. 平台\n\n#### 1.1 微信\n- 内容"
    assert _join("他走进了", "房间。") == "他走进了房间。"  # a piece cut mid-sentence goes on
    assert _join("他走进了房间", "## 结语\n后来。") == "他走进了房间\n\n## 结语\n后来。"
    assert _join("", "b") == "b" and _join("a。", "") == "a。" and _join("   ", "b") == "b"
    assert _join("他走进了\n", "房间。") == "他走进了\n\n房间。"  # `a` ended its line
    assert _join("文字。\n\n### X\n\n", "正文。") == "文字。\n\n### X\n\n正文。"
