"""The long-form writer accepts only new text: repeats, leaks, dangling endings, duplicate plans."""

from __future__ import annotations

import json

import pytest
from write_fakes import A, B, C, RequestLog, last_user

from bimo.errors import BimoError
from bimo.integrity import dangling_ending, language_leaks, measure
from bimo.write.longform import LongformConfig, LongformWriter
from bimo.write.plan import Plan, Section, dedupe_sections


def test_repeated_continuation_is_dropped_and_asked_again_with_anti_repetition():
    def answer(req):
        if len(req["messages"]) <= 2:
            return A                                  # first piece
        if req.get("presence_penalty"):
            return B                                  # only the anti-repetition retry brings new text
        return A                                      # a plain continuation pastes the piece again

    be = RequestLog(answer)
    w = LongformWriter(be, LongformConfig(length=count(A + B), seed=3, lang="zh"))
    res = w.run("以外婆的菜园为题写一篇散文。")
    assert res.text.count("南瓜躺在田埂边") == 1 and "白菜" in res.text
    assert measure(res.text).repeated_share == 0.0
    retry = [r for r in be.requests if r.get("presence_penalty")]
    assert retry and retry[0]["frequency_penalty"] > 0 and retry[0]["seed"] != be.requests[0]["seed"]
    assert "dry_multiplier" not in retry[0]  # this backend does not declare DRY support
    assert w.repeats >= 1 and not w.stops


def test_sections_use_dry_from_the_first_try_when_asked_and_the_backend_has_it():
    class DryLog(RequestLog):
        supports_dry = True

    plan = json.dumps({"title": "", "sections": [{"heading": "秋", "points": [], "length": 400},
                                                 {"heading": "冬", "points": [], "length": 400}]})
    be = DryLog(lambda req: plan if "response_format" in req else A + B + C)
    LongformWriter(be, LongformConfig(length=900, seed=1, lang="zh", dry=True)).run("写散文。")
    planned, first = be.requests[0], be.requests[1]
    assert "response_format" in planned and "dry_multiplier" not in planned
    assert first["dry_multiplier"] == 0.8 and "presence_penalty" not in first
    be = DryLog(lambda req: plan if "response_format" in req else A + B + C)
    LongformWriter(be, LongformConfig(length=900, seed=1, lang="zh")).run("写散文。")  # default: re-asks only
    assert "dry_multiplier" not in be.requests[1]


def count(text):
    from bimo.text import count_length

    return count_length(text)


def test_stops_short_instead_of_padding(tmp_path, capsys):
    be = RequestLog(lambda req: A)  # can only ever repeat itself
    w = LongformWriter(be, LongformConfig(length=400, seed=1, lang="zh"))
    events = []
    res = w.run("写一篇散文。", run_dir=tmp_path / "run", on_event=events.append, progress=True)
    assert res.text == A
    note = f"stopped at {count(A)} of 400 字 to avoid repetition"
    assert note in capsys.readouterr().err.splitlines()
    state = json.loads((tmp_path / "run" / "state.json").read_text(encoding="utf-8"))
    assert state["stopped"]["message"] == note and state["stopped"]["length"] == count(A)
    assert {"type": "stopped", "message": note} in events
    # the new-sub-point request was tried before giving up
    assert any("新方面" in last_user(r) for r in be.requests)


def test_language_leak_is_repaired():
    leaky = "每到傍晚，她 always会在厨房里忙碌，锅里的汤咕嘟咕嘟地响。" + B

    def answer(req):
        if "纯中文" in last_user(req):
            return "每到傍晚，她总会在厨房里忙碌，锅里的汤咕嘟咕嘟地响。"
        return leaky

    w = LongformWriter(RequestLog(answer), LongformConfig(length=count(leaky), seed=1, lang="zh"))
    res = w.run("写一段关于外婆的文字。")
    assert language_leaks(res.text) == [] and "她总会在厨房里忙碌" in res.text


def test_never_ends_on_a_dangling_heading_or_colon():
    text = "这个记账小程序界面清爽，每天打开记一笔，月底就能看清钱花在了哪里。\n\n现在，让我们来看看这个小程序的具体优惠："
    w = LongformWriter(RequestLog(lambda req: text), LongformConfig(length=count(text), seed=1, lang="zh"))
    res = w.run("写一篇小红书笔记，推荐一个记账小程序，300字左右。")
    assert dangling_ending(res.text) is None and res.text.endswith("哪里。")


def test_a_section_sees_points_and_last_paragraph_not_the_whole_text():
    first = "第一段写外婆的菜园在村子东头，种着青菜和萝卜。\n\n" + A

    def answer(req):
        return first if "1/2" in last_user(req) else B

    be = RequestLog(answer)
    plan = Plan(title="", sections=[Section(heading="秋", points=["辣椒"], length=count(first)),
                                    Section(heading="冬", points=["白菜"], length=count(B))])
    LongformWriter(be, LongformConfig(length=count(first + B), seed=1, lang="zh")).run("写散文。", plan=plan)
    second = next(last_user(r) for r in be.requests if "2/2" in last_user(r))
    assert "村子东头" not in second          # earlier paragraphs are not pasted into the prompt
    assert A in second                       # the last paragraph is, verbatim
    assert "1. 秋: 辣椒" in second            # and the points already covered


def test_restating_section_is_rewritten():
    def answer(req):
        user = last_user(req)
        if "2/2" in user and req.get("presence_penalty"):
            return C
        return A if ("1/2" in user or "2/2" in user) else ""

    be = RequestLog(answer)
    plan = Plan(title="", sections=[Section(heading="秋", points=["辣椒"], length=count(A)),
                                    Section(heading="春", points=["新芽"], length=count(C))])
    res = LongformWriter(be, LongformConfig(length=count(A + C), seed=1, lang="zh")).run("写散文。", plan=plan)
    assert res.text.count("南瓜躺在田埂边") == 1 and "嫩绿的芽" in res.text


def test_duplicate_plan_sections():
    dup = Plan(title="", sections=[Section(heading="秋天的菜园", points=["辣椒", "南瓜"], length=300),
                                   Section(heading="冬天", points=["白菜"], length=300),
                                   Section(heading="秋天的菜园", points=["辣椒", "南瓜"], length=300)])
    with pytest.raises(BimoError, match="duplicate sections: 1 and 3"):
        LongformWriter(RequestLog(lambda r: A), LongformConfig(length=900)).run("写散文。", plan=dup)
    kept = dedupe_sections([s.model_copy() for s in dup.sections])
    assert [s.heading for s in kept] == ["秋天的菜园", "冬天"] and kept[0].length == 600
    split = [Section(heading="Light", points=["a"], length=1), Section(heading="Light (continued)", points=["a"])]
    assert dedupe_sections(split) == split  # parts of one split section are not duplicates


def test_an_echoed_continue_request_is_not_kept():
    def answer(req):
        if len(req["messages"]) <= 2:
            return A
        # the model copies the request's own sentence into the text, then continues
        ask = last_user(req).split("。")[1] + "。"
        return ask + B

    res = LongformWriter(RequestLog(answer), LongformConfig(length=count(A + B), seed=1, lang="zh")).run("写散文。")
    assert "紧接上文" not in res.text and "白菜" in res.text


def test_a_piece_cut_mid_sentence_is_kept_to_its_last_finished_sentence():
    def answer(req):
        if len(req["messages"]) <= 2:
            return A + "冬天的菜园安静下来，只剩几垄"   # cut off by max_tokens
        return B + C

    res = LongformWriter(RequestLog(answer), LongformConfig(length=count(A + B + C), seed=1, lang="zh")).run("写散文。")
    assert "只剩几垄\n" not in res.text and "只剩几垄冬" not in res.text and res.text.count("冬天的菜园安静下来") == 1


def test_a_plan_cut_off_at_its_budget_keeps_its_finished_sections():
    whole = {"heading": "秋", "points": ["辣椒"], "length": 500}
    cut = json.dumps({"title": "菜园", "sections": [whole, {**whole, "heading": "冬"}, {**whole, "heading": "春"}]},
                     ensure_ascii=False)
    cut = cut[:cut.index("春") + 3]  # stopped inside the third section

    class CutPlan(RequestLog):
        def _complete(self, request):
            resp = super()._complete(request)
            if request.get("json_schema") or request.get("response_format"):
                resp["choices"][0]["finish_reason"] = "length"
            return resp

    be = CutPlan(lambda req: cut if ("json_schema" in req or "response_format" in req) else A + B + C)
    plan = LongformWriter(be, LongformConfig(length=1500, section_size=500, lang="zh")).make_plan("写散文。", "zh")
    assert [s.heading for s in plan.sections] == ["秋", "冬"] and abs(sum(s.length for s in plan.sections) - 1500) < 10
    assert len(be.requests) == 1  # not asked again


def test_a_plan_with_too_few_sections_is_asked_once_more():
    one = json.dumps({"title": "", "sections": [{"heading": "全部", "points": [], "length": 1500}]})
    three = json.dumps({"title": "", "sections": [{"heading": h, "points": [], "length": 500} for h in "春夏秋"]})
    answers = iter([one, three])
    be = RequestLog(lambda req: next(answers))
    plan = LongformWriter(be, LongformConfig(length=1500, lang="zh")).make_plan("写散文。", "zh")
    assert [s.heading for s in plan.sections] == ["春", "夏", "秋"] and len(be.requests) == 2


def test_salvage_plan():
    from bimo.write.plan import salvage_plan

    assert salvage_plan('{"title": "t", "sections": [{"heading": "a", "points": [], "length": 3}]}').sections[0].heading == "a"
    assert salvage_plan('{"title": "t", "sections": [{"heading": "a", "points": ["x"], "length": 3}, {"head') \
        .sections[0].points == ["x"]
    assert salvage_plan('{"title": "t", "sections": [{"heading": "a", "poi') is None
    assert salvage_plan("not json") is None


def test_bare_list_markers_are_dropped():
    from bimo.write.longform import _clean_section

    text = "1. 炒菜：火候是关键。\n\n2.\n\n3.\n4.\n16。\n\n5. 蒸煮：水要烧开。"
    assert _clean_section(text, "") == "1. 炒菜：火候是关键。\n\n5. 蒸煮：水要烧开。"


def test_lines_about_the_writing_are_dropped_from_a_section():
    from bimo.write.longform import _clean_section

    text = "（前文最后一段略）\n\n李明推开门。\n\n这一部分写完后：\n\n他看见了胶片。"
    assert _clean_section(text, "") == "李明推开门。\n\n他看见了胶片。"


def test_seed_schedule_gives_each_kind_of_call_its_own_fixed_seed():
    from bimo.write.runstate import SeedSchedule

    s = SeedSchedule(10)  # the offsets are part of what a seeded run writes: pinned here
    assert (s.plan(1), s.piece(2, 1), s.piece(2, 1, redo=True), s.bridge(3), s.leak_fix(4), s.summary(5)) == \
        (11, 112, 162, 513, 714, 915)
    assert SeedSchedule(None).piece(0, 0) is None
    be = RequestLog(lambda req: A if "1/2" in last_user(req) else B)
    plan = Plan(title="", sections=[Section(heading="秋", points=["辣椒"], length=count(A)),
                                    Section(heading="冬", points=["白菜"], length=count(B))])
    LongformWriter(be, LongformConfig(length=count(A + B), seed=10, lang="zh", context="summary")).run(
        "写散文。", plan=plan)
    # section 1, its summary, section 2 and two continuations of it
    assert [r["seed"] for r in be.requests] == [10, 910, 11, 111, 211]


def test_run_state_reads_and_writes_the_run_folder_format(tmp_path):
    """Sections on disk are keyed by number; a folder written so (by any version) resumes."""
    from bimo.write.runstate import RunState, load_state

    disk = {"instruction": "写散文。", "config": {"length": 300, "seed": 1}, "lang": "zh", "note": "kept",
            "plan": {"title": "", "sections": [{"heading": h, "points": [], "length": 100} for h in "春夏秋"]},
            "sections": {"0": {"text": A, "length": count(A)}, "2": {"text": C, "length": count(C), "bridged": True}},
            "summaries": {"0": "秋天。"}}
    (tmp_path / "state.json").write_text(json.dumps(disk, ensure_ascii=False), encoding="utf-8")
    state = load_state(tmp_path)
    assert [s and s.text for s in state.sections] == [A, None, C] and state.sections[2].bridged
    assert state.binding is None and state.summaries == {0: "秋天。"} and state.finished() == 2
    again = state.model_dump(mode="json")
    assert again["sections"] == disk["sections"] and again["summaries"] == disk["summaries"] and again["note"] == "kept"
    assert RunState.model_validate(again).sections == state.sections
    first_only = RunState.model_validate({**disk, "sections": {"0": disk["sections"]["0"]}})
    assert first_only.sections[1:] == [None, None]  # one slot per planned section, however many are written
    (tmp_path / "state.json").write_text(json.dumps({**disk, "sections": "none"}), encoding="utf-8")
    with pytest.raises(BimoError, match=r"state.json is damaged: sections"):
        load_state(tmp_path)


def test_parallel_counters_add_up_from_worker_threads():
    def answer(req):
        return B if "衔接" in last_user(req) else A  # the transitions at the joins, else a section

    be = RequestLog(answer)
    plan = Plan(title="", sections=[Section(heading=h, points=[h], length=count(A)) for h in ("秋", "冬", "春")])
    w = LongformWriter(be, LongformConfig(length=3 * count(A), seed=1, lang="zh", parallel=3))
    res = w.run("写散文。", plan=plan)
    assert res.calls == w.calls == len(be.requests) > 3
    assert sorted(r["seed"] for r in be.requests if answer(r) == B) == [502, 503]  # seed 1 + 500 + section
    assert res.tokens == w.tokens == sum(max(1, len(answer(r)) // 2) for r in be.requests)


def test_for_prompt_takes_the_given_then_the_stated_then_the_default_length():
    be = RequestLog(lambda req: A)
    assert LongformWriter.for_prompt(be, "Write a 1,200-word essay.").config.length == 1200
    assert LongformWriter.for_prompt(be, "Write a 1,200-word essay.", 300, default=500).config.length == 300
    writer = LongformWriter.for_prompt(be, "Write an essay.", default=500, parallel=2, seed=7)
    assert (writer.config.length, writer.config.parallel, writer.config.seed) == (500, 2, 7)
    with pytest.raises(BimoError, match="length must be positive"):
        LongformWriter.for_prompt(be, "Write an essay.")


def test_each_continuation_extends_the_conversation_the_backend_has_cached():
    """A section's continuation repeats the previous request and the piece as it was decoded
    (an echoed heading included), then asks for more: what the backend's KV cache holds is a
    prefix of the next request. Only a piece with repeats dropped inside it is shown as kept."""
    def answer(req):
        n = len(req["messages"])
        return {2: "## 秋\n\n" + A, 4: B + A[:30], 6: C}.get(n, C)  # the second piece ends repeating A

    be = RequestLog(answer)
    res = LongformWriter(be, LongformConfig(length=count(A + B + C), seed=2, lang="zh")).run("写散文。")
    assert res.text.count("南瓜躺在田埂边") == 1 and "第二年春天" in res.text
    first, second, third = be.requests[:3]
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2] == {"role": "assistant", "content": "## 秋\n\n" + A}  # as decoded
    assert second["messages"][3]["role"] == "user"
    assert third["messages"][:4] == second["messages"]
    # B + A[:30]: the copy of A was dropped, so the turn shows what was kept (B), not the repeat
    assert third["messages"][4] == {"role": "assistant", "content": B}


def test_continuations_extend_the_cached_conversation_with_a_real_model(tiny_backend):
    """The same, through real llama.cpp: every request of a section after its first extends
    the one before it with an assistant turn."""
    requests: list[list[dict]] = []

    class Recording:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def stream(self, messages, params=None, **kw):
            requests.append(messages)
            return self.inner.stream(messages, params, **kw)

        def chat(self, messages, params=None, **kw):
            requests.append(messages)
            return self.inner.chat(messages, params, **kw)

    res = LongformWriter(Recording(tiny_backend), LongformConfig(length=1200, seed=5, lang="en")).run(
        "Write a story of 1200 words about a lighthouse keeper who finds a message in a bottle.")
    assert res.length > 0
    follow = [(a, b) for a, b in zip(requests, requests[1:], strict=False) if len(b) > len(a) and b[:2] == a[:2]]
    # the tiny model ends its pieces early: at this length some section is continued twice, and
    # the second continuation extends the first (a merged text would not)
    assert any(len(before) >= 4 for before, _ in follow), [len(m) for m in requests]
    for before, after in follow:
        assert after[:len(before)] == before and after[len(before)]["role"] == "assistant"
