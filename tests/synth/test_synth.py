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
from bimo.synth.verify import is_minimal_edit, snap, span_score

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
    poem = "《感遇》\n兰叶春葳蕤，桂华秋皎洁。\n欣欣此生意，自尔为佳节。"
    copy = "兰叶春葳蕤桂华秋皎洁欣欣此生意自尔为佳节。"  # line breaks and commas dropped
    assert span_score(copy, poem) == 100 and snap(copy, poem) == poem.split("\n", 1)[1]
    assert snap("it was the age  of foolishness", "It was the age of wisdom, it was the age of foolishness.") \
        == "it was the age of foolishness"  # the source's spacing; no punctuation the copy lacks
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
    """Exact outcomes: a verbatim span passes (and is snapped), an invented output, a copied
    example, a sliver of the source, a missing draft and a low score are rejected with
    reasons, a repeated instruction is deduplicated."""
    docs = [{"id": "a", "text": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"},
            {"id": "b", "text": "It was the best of times, it was the worst of times, it was the age of wisdom, "
                                  "it was the age of foolishness, it was the epoch of belief."},
            {"id": "c", "text": "I went to the woods because I wished to live deliberately, to front only the "
                                  "essential facts of life, and see if I could not learn what it had to teach."},
            {"id": "d", "text": "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"},
            {"id": "e", "text": "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"},
            {"id": "f", "text": "It is a truth universally acknowledged, that a single man in possession of a "
                                  "good fortune, must be in want of a wife."},
            {"id": "g", "text": "Call me Ishmael. Some years ago, never mind how long precisely, having little "
                                  "or no money in my purse, I thought I would sail about a little."}]

    def answer(prompt: str, seed):
        if "1 to 5" in prompt or "1 到 5" in prompt:  # the scoring call
            return {"reason": "ok", "score": 2 if "woods" in prompt else 5}
        instr, inp = ("写两句诗。", "") if "床前" in prompt or "春眠" in prompt or "白日" in prompt else ("Write an opening line.", "")
        if "床前" in prompt:
            out = "举头望明月, 低头思故乡。"  # re-punctuated: still a span
        elif "春眠" in prompt:
            out = "这是模型自己编的句子，原文里没有。"
        elif "白日" in prompt:
            out = "天下事有难易乎？为之，则难者亦易矣；不为，则易者亦难矣。"  # the write example
        elif "truth" in prompt:
            out = "a truth universally acknowledged"  # a sliver
        elif "Ishmael" in prompt:
            out, instr = prompt.split("<<<")[1].split(">>>")[0].strip(), "Polish my draft."  # no draft given
        elif "best of" in prompt:
            out = "It was the best of times, it was the worst of times, it was the age of wisdom"
            instr = "Write a line."
        else:
            out = "I went to the woods because I wished to live deliberately"
            instr = "Write a line."
        return {"reasoning": "r", "instruction": instr, "input": inp, "output": out, "domain": "fiction"}

    cfg = BacktranslateConfig(tasks=["write"], tasks_per_doc=1)
    work = list(expand_docs(docs, cfg))
    work[-1].update(id="g#polish", task="polish")
    out = tmp_path / "sft.jsonl"
    stats = run_step(BacktranslateStep(ScriptedBackend(answer), cfg), work, out,
                     RunConfig(progress=False, concurrency=1, retries=0))
    got = {r["meta"]["doc_id"]: r for r in rows(out)}
    errs = {r["id"]: r["reason"] for r in rows(errors_path(out))}
    assert set(got) == {"a", "b"} and stats.ok == 2 and stats.failed == 5
    assert got["a"]["messages"][-1]["content"] == "举头望明月，低头思故乡。"  # snapped to the source
    assert "not a span of the source" in errs["d#write"]
    assert "copies an annotated example" in errs["e#write"]
    assert "covers only" in errs["f#write"]
    assert "input is empty" in errs["g#polish"]
    assert "score 2 < 4" in errs["c#write"] or "near-duplicate" in errs["c#write"]
    assert_trl_shape(out, "sft")


def test_backtranslate_prompt_shows_annotated_examples_as_turns():
    """Two annotated examples per task and language; the prompt shows `examples` of them as
    earlier turns (source → complete JSON answer, reasoning first), the real source last."""
    from bimo.synth.backtranslate import TASK_ORDER, task_table

    table = task_table()["tasks"]
    for name in TASK_ORDER:
        for lang in ("zh", "en"):
            exs = table[name]["examples"][lang]
            assert len(exs) >= 2, (name, lang)
            for ex in exs:  # the anchored field of every example is its source, verbatim
                field = "output" if table[name]["anchor"] == "output" else "input"
                assert ex["json"][field] == ex["source"] and ex["reasoning"]
    doc = {"id": "x", "text": "It was the best of times, it was the worst of times, it was the age of wisdom, "
                             "it was the age of foolishness."}
    for n in (0, 1, 2):
        cfg = BacktranslateConfig(tasks=["polish"], examples=n)
        rec = next(expand_docs([doc], cfg))
        msgs = BacktranslateStep(None, cfg).prompt(rec)
        assert [m["role"] for m in msgs] == ["system", *["user", "assistant"] * n, "user"]
        assert doc["text"] in msgs[-1]["content"] and "rougher draft" in msgs[0]["content"]
        for m in msgs[2:-1:2]:
            assert list(json.loads(m["content"])) == ["reasoning", "instruction", "input", "output", "domain"]


def test_constitution_minimality_with_scripted_model(tmp_path):
    """The rewrite replaces the named sentence in place; an unchanged (or only re-spaced)
    sentence, a sentence that does not exist, an unknown principle and a low score are
    rejected with reasons."""
    def answer(prompt: str, seed):
        ans = {"principle_id": "gen-coherent", "reasoning": "r", "sentence": 1}
        if "best of times" in prompt:
            assert "[1] It was the best of times" in prompt  # numbered sentences
            return {**ans, "rewritten": "It was the best of times, it was the worst of times, it was the age of "
                                        "wisdom, it was the age of certainty."}
        if "truth universally" in prompt:
            return {**ans, "rewritten": "It is a truth universally  acknowledged, that a single man in possession "
                                        "of a good fortune, must be in want of a wife."}
        if "woods" in prompt:
            return {**ans, "sentence": 7, "rewritten": "x"}
        return {**ans, "principle_id": "made-up", "rewritten": "y"}

    sft = tmp_path / "in.jsonl"
    recs = rows(DATA / "sft.jsonl")
    recs[3]["meta"]["score"] = 5
    recs.append({**recs[3], "meta": {**recs[3]["meta"], "score": 2}, "id": "low"})
    sft.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    out = tmp_path / "dpo.jsonl"
    run_step(ConstitutionStep(ScriptedBackend(answer)), sft, out, RunConfig(progress=False, retries=0))
    good = rows(out)
    errs = [r["reason"] for r in rows(errors_path(out))]
    assert len(good) == 1 and good[0]["meta"]["principle"] == "gen-coherent"
    chosen, rejected = good[0]["chosen"][0]["content"], good[0]["rejected"][0]["content"]
    assert rejected == chosen.replace("foolishness", "certainty") and good[0]["meta"]["edited"]
    assert 0.6 <= good[0]["meta"]["similarity"] <= 0.98
    assert sorted(e.split(":")[0].split(" (")[0] for e in errs) == sorted(
        ["not minimal", "no sentence '7' in the response", "unknown principle id 'made-up'", "below quality bar"])
    assert any("identical to the original" in e for e in errs)
    assert_trl_shape(out, "preference")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("synth")


# The tiny real model (SmolLM2-135M) writes poor data; these tests check the machinery
# on real documents: parsing, verification, rejection with reasons, resume, TRL formats.
# Kept fast: few records, short generations and prompts, no retries. One llama.cpp thread:
# on a busy 2-core machine two threads that wait for each other by spinning made these
# tests several times slower. The 4 slots share the context.
TINY = {"BIMO_N_CTX": "4096", "BIMO_THREADS": "1"}


def test_backtranslate_cli_tiny_model_and_resume(bimo_cli, tiny_path, work):
    docs = work / "docs.jsonl"
    keep = ("tang-jingyesi", "dickens-two-cities", "thoreau-walden")  # Chinese and English
    docs.write_text("".join(line + "\n" for line in (DATA / "docs.jsonl").read_text().splitlines()
                            if json.loads(line)["id"] in keep))
    out = work / "bt.jsonl"
    args = ["synth", "backtranslate", str(docs), "-o", str(out), "--model", "local:tiny",
            "--tasks-per-doc", "1", "--examples", "1", "--max-tokens", "128", "--retries", "0", "-q"]
    r = bimo_cli(*args, env=TINY)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert {i.split("#")[0] for i in ids_in(out)} == set(keep)  # every pair accounted for
    assert len(rows(out)) + len(rows(errors_path(out))) == 3
    assert all(e["reason"] and e["step"] == "backtranslate" for e in rows(errors_path(out)))
    for rec in rows(out):  # what passed is verified human text with its provenance
        assert rec["meta"]["span_match"] >= 90 and rec["meta"]["score"] >= 4
    assert_trl_shape(out, "sft")
    before = out.read_text(), errors_path(out).read_text()
    r2 = bimo_cli(*args, "--resume", env=TINY)
    assert r2.returncode == 0 and (out.read_text(), errors_path(out).read_text()) == before
    assert b"3 skipped" in r2.stderr
    r3 = bimo_cli(*args, env=TINY)
    assert r3.returncode == 2 and b"--resume" in r3.stderr
    r4 = bimo_cli("synth", "stats", str(out))  # the rejection reasons of a real run
    assert r4.returncode == 0, r4.stderr.decode()[-800:]
    assert (work / "bt.stats.md").exists()
    if rows(errors_path(out)):
        assert b"Rejection reasons" in r4.stdout


def test_constitution_cli_tiny_model(bimo_cli, tiny_path, work):
    out = work / "dpo.jsonl"
    r = bimo_cli("synth", "constitution", str(DATA / "sft.jsonl"), "-o", str(out), "--model", "local:tiny",
                 "--max-tokens", "96", "--max-principles", "4", "--retries", "0", "-q", env=TINY)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert len(ids_in(out)) == 4
    assert any("below quality bar" in e["reason"] for e in rows(errors_path(out)))
    for rec in rows(out):
        assert rec["meta"]["principle"] and 0.6 <= rec["meta"]["similarity"] <= 0.98
    assert_trl_shape(out, "preference")


def test_rank_cli_tiny_model(bimo_cli, tiny_path, work):
    out = work / "rank.jsonl"
    r = bimo_cli("synth", "rank", str(DATA / "instructions.jsonl"), "--models", "local:tiny,local:tiny",
                 "--judge", "local:tiny", "-o", str(out), "--max-tokens", "32", "--judge-tokens", "48",
                 "--retries", "0", "-q", env=TINY)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert ids_in(out) == {"i1", "i2"}
    for rec in rows(out):
        assert rec["meta"]["chosen_score"] > rec["meta"]["rejected_score"]
    for e in rows(errors_path(out)):
        assert e["reason"]
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


def test_longform_cli_tiny_model(bimo_cli, tiny_path, work):
    pytest.importorskip("bimo.write.longform")
    src = work / "long_in.jsonl"
    src.write_text(json.dumps({"id": "l1", "instruction": "Write a 60-word story about a lighthouse."}) + "\n")
    out = work / "long.jsonl"
    r = bimo_cli("synth", "longform", str(src), "-o", str(out), "--model", "local:tiny", "--retries", "0",
                 "-q", env=TINY)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert ids_in(out) == {"l1"}
    for rec in rows(out):
        assert rec["meta"]["length_score"] >= 80


def test_longform_rejects_repeated_text_with_reason(work):
    """A length reached by pasting the same paragraph again is never kept as training data."""
    from bimo.synth.longform import LongformStep

    para = ("The lighthouse keeper counted the ships every night and wrote their names in a blue book. "
            "When the storm came in March, a whale lay stranded on the rocks below the tower. ")
    out = work / "loop.jsonl"
    recs = [{"id": "loop", "instruction": "Write a 100-word story about a lighthouse.", "length": 100}]
    run_step(LongformStep(ScriptedBackend(lambda msg, seed: para * 3)), recs, out,
             RunConfig(progress=False, retries=1))
    assert rows(out) == []
    errs = rows(errors_path(out))
    assert [e["id"] for e in errs] == ["loop"]
    assert "integrity" in errs[0]["reason"] or "effective" in errs[0]["reason"]
