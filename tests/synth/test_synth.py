"""`bimo synth`: verification logic, exact accounting with a scripted backend, and every
command end to end with the tiny real model (poor outputs; the machinery is what's tested)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from synth_fakes import ScriptedBackend

from bimo.runner import RunConfig, errors_path, run_step
from bimo.synth.backtranslate import BacktranslateConfig, BacktranslateStep, expand_docs
from bimo.synth.constitution import ConstitutionStep
from bimo.synth.library import load_principles
from bimo.synth.verify import is_minimal_edit, span_score

DATA = Path(__file__).parent / "data"


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def ids_in(path: Path) -> set[str]:
    return {r["meta"]["source_id"] for r in rows(path)} | {r["id"] for r in rows(errors_path(path))}


def assert_trl_shape(path: Path, kind: str) -> None:
    for r in rows(path):
        if kind == "sft":
            assert r["messages"][-1]["role"] == "assistant" and r["messages"][-1]["content"]
        else:
            assert r["prompt"][-1]["role"] == "user" and r["chosen"][0]["role"] == "assistant"
            assert r["chosen"][0]["content"] != r["rejected"][0]["content"]
    datasets = pytest.importorskip("datasets")
    if rows(path):
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
        assert len(ds) == len(rows(path))


def test_span_and_minimality_checks():
    src = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    assert span_score("举头望明月，低头思故乡。", src) == 100
    assert span_score("举头望明月,  低头思故乡", src) >= 90  # re-punctuated copy still counts
    assert span_score("白日依山尽，黄河入海流。", src) < 60
    good = "It was the best of times, it was the worst of times."
    assert is_minimal_edit(good, "It was the best of times, it was the saddest of times.") is None
    assert "identical" in is_minimal_edit(good, good)
    assert "too large" in is_minimal_edit(good, "Completely different words here now.")
    assert "length" in is_minimal_edit(good, good + " And it went on and on, for ever.")


def test_principles_library():
    ps = load_principles()
    assert len(ps) >= 60
    assert {p.lang for p in ps} == {"zh", "en"}
    assert {"fiction", "creative_nonfiction", "marketing", "technical"} <= {p.domain for p in ps}
    assert all(p.statement and p.follows and p.violates and p.why for p in ps)


def test_backtranslate_accounting_with_scripted_model(tmp_path):
    """Exact outcomes: a verbatim span passes (and is snapped), an invented output and a
    low score are rejected with reasons, a repeated instruction is deduplicated."""
    docs = [{"id": "a", "text": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"},
            {"id": "b", "text": "It was the best of times, it was the worst of times, it was the age of wisdom, "
                                  "it was the age of foolishness, it was the epoch of belief."},
            {"id": "c", "text": "I went to the woods because I wished to live deliberately, to front only the "
                                  "essential facts of life, and see if I could not learn what it had to teach."},
            {"id": "d", "text": "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"}]

    def answer(prompt: str, seed):
        if "1 to 5" in prompt or "1 到 5" in prompt:  # the scoring call
            return {"reason": "ok", "score": 2 if "woods" in prompt else 5}
        if "床前" in prompt:
            out = "举头望明月, 低头思故乡。"
        elif "春眠" in prompt:
            out = "这是模型自己编的句子，原文里没有。"
        else:
            out = "It was the best of times" if "best of" in prompt else "I went to the woods"
        instr = "Write a line." if "best of" in prompt or "woods" in prompt else "写两句诗。"
        return {"reasoning": "r", "instruction": instr, "input": "", "output": out, "domain": "fiction"}

    cfg = BacktranslateConfig(tasks=["write"], tasks_per_doc=1)
    out = tmp_path / "sft.jsonl"
    stats = run_step(BacktranslateStep(ScriptedBackend(answer), cfg), list(expand_docs(docs, cfg)), out,
                     RunConfig(progress=False, concurrency=1, retries=0))
    got = {r["meta"]["doc_id"]: r for r in rows(out)}
    errs = {r["id"]: r["reason"] for r in rows(errors_path(out))}
    assert set(got) == {"a", "b"} and stats.ok == 2 and stats.failed == 2
    assert got["a"]["messages"][-1]["content"] == "举头望明月，低头思故乡。"  # snapped to the source
    assert "not a span of the source" in errs["d#write"]
    assert "score 2 < 4" in errs["c#write"] or "near-duplicate" in errs["c#write"]
    assert_trl_shape(out, "sft")


def test_constitution_minimality_with_scripted_model(tmp_path):
    def answer(prompt: str, seed):
        if "best of times" in prompt:
            return {"principle_id": "gen-coherent", "reasoning": "r",
                    "rejected": "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of certainty."}
        if "床前" in prompt:
            return {"principle_id": "zh-gen-coherent", "reasoning": "r", "rejected": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"}
        return {"principle_id": "made-up", "reasoning": "r", "rejected": "x"}

    out = tmp_path / "dpo.jsonl"
    run_step(ConstitutionStep(ScriptedBackend(answer)), DATA / "sft.jsonl", out,
             RunConfig(progress=False, retries=0))
    good = rows(out)
    errs = [r["reason"] for r in rows(errors_path(out))]
    assert len(good) == 1 and good[0]["meta"]["principle"] == "gen-coherent"
    assert 0.6 <= good[0]["meta"]["similarity"] <= 0.98
    assert sorted(e.split(":")[0].split(" (")[0] for e in errs) == sorted(
        ["not minimal", "unknown principle id 'made-up'", "below quality bar"])
    assert_trl_shape(out, "preference")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("synth")


@pytest.mark.slow
def test_backtranslate_cli_tiny_model_and_resume(bimo_cli, tiny_path, work):
    out = work / "bt.jsonl"
    args = ["synth", "backtranslate", str(DATA / "docs.jsonl"), "-o", str(out), "--model", "local:tiny",
            "--limit", "3", "--tasks-per-doc", "1", "--max-tokens", "160", "-q"]
    r = bimo_cli(*args, env={"BIMO_N_CTX": "4096"})
    assert r.returncode == 0, r.stderr.decode()[-800:]
    work_ids = {"tang-jingyesi", "tang-chunxiao", "luxun-qiuye"}
    assert {i.split("#")[0] for i in ids_in(out)} == work_ids  # every pair accounted for
    assert all(e["reason"] for e in rows(errors_path(out)))
    assert_trl_shape(out, "sft")
    before = out.read_text(), errors_path(out).read_text()
    r2 = bimo_cli(*args, "--resume", env={"BIMO_N_CTX": "4096"})
    assert r2.returncode == 0 and (out.read_text(), errors_path(out).read_text()) == before
    assert b"3 skipped" in r2.stderr
    r3 = bimo_cli(*args, env={"BIMO_N_CTX": "4096"})
    assert r3.returncode == 2 and b"--resume" in r3.stderr


@pytest.mark.slow
def test_constitution_cli_tiny_model(bimo_cli, tiny_path, work):
    out = work / "dpo.jsonl"
    r = bimo_cli("synth", "constitution", str(DATA / "sft.jsonl"), "-o", str(out), "--model", "local:tiny",
                 "--max-tokens", "160", "-q", env={"BIMO_N_CTX": "4096"})
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert len(ids_in(out)) == 4
    assert any("below quality bar" in e["reason"] for e in rows(errors_path(out)))
    for rec in rows(out):
        assert rec["meta"]["principle"] and 0.6 <= rec["meta"]["similarity"] <= 0.98
    assert_trl_shape(out, "preference")


@pytest.mark.slow
def test_rank_cli_tiny_model(bimo_cli, tiny_path, work):
    out = work / "rank.jsonl"
    r = bimo_cli("synth", "rank", str(DATA / "instructions.jsonl"), "--models", "local:tiny,local:tiny",
                 "--judge", "local:tiny", "-o", str(out), "--max-tokens", "48", "-q", env={"BIMO_N_CTX": "4096"})
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert ids_in(out) == {"i1", "i2"}
    assert_trl_shape(out, "preference")


def test_backward_rag_tools_stats(bimo_cli, work):
    sft = DATA / "sft.jsonl"
    back = work / "back.jsonl"
    assert bimo_cli("synth", "backward-model", str(sft), "-o", str(back), "-q").returncode == 0
    b = rows(back)
    by_doc = {r["meta"]["doc_id"]: r for r in b}  # the runner writes in completion order
    assert len(b) == 4 and by_doc["dickens-two-cities"]["messages"][-1]["content"].startswith("Write the opening")
    rag = work / "rag.jsonl"
    r = bimo_cli("synth", "rag", str(sft), "-o", str(rag), "--refs", str(DATA / "docs.jsonl"), "--share", "1", "-q")
    assert r.returncode == 0, r.stderr.decode()[-800:]
    for rec in rows(rag):
        assert rec["meta"]["rag"] and "<reference>" in rec["messages"][0]["content"]
        assert not rec["meta"]["reference_id"].startswith(rec["meta"]["doc_id"] + ":")  # never its own doc
    tools = work / "tools.jsonl"
    r = bimo_cli("synth", "tools", str(sft), "-o", str(tools), "--refs", str(DATA / "docs.jsonl"), "--share", "1", "-q")
    assert r.returncode == 0, r.stderr.decode()[-800:]
    for rec in rows(tools):
        names = {t["function"]["name"] for t in rec["tools"]}
        assert {"search_references", "count_length", "lookup_word"} <= names
        assert rec["messages"][1]["tool_calls"][0]["function"]["name"] in names
        assert rec["messages"][2]["role"] == "tool"
    assert_trl_shape(tools, "sft")
    shutil.copy(DATA / "sft.jsonl", work / "s.jsonl")
    r = bimo_cli("synth", "stats", str(work / "s.jsonl"))
    assert r.returncode == 0 and b"By task" in r.stdout
    assert (work / "s.stats.png").exists() and (work / "s.stats.md").exists()


@pytest.mark.slow
def test_longform_cli_tiny_model(bimo_cli, tiny_path, work):
    pytest.importorskip("bimo.write.longform")
    src = work / "long_in.jsonl"
    src.write_text(json.dumps({"id": "l1", "instruction": "Write a 120-word story about a lighthouse."}) + "\n")
    out = work / "long.jsonl"
    r = bimo_cli("synth", "longform", str(src), "-o", str(out), "--model", "local:tiny", "-q",
                 env={"BIMO_N_CTX": "4096"}, timeout=240)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert ids_in(out) == {"l1"}
    for rec in rows(out):
        assert rec["meta"]["length_score"] >= 80
