"""The generation-step runner: accounting, retries, errors file, resume, and kill -9 recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bimo.errors import BimoError
from bimo.runner import GenerationStep, Reject, RunConfig, errors_path, run_step
from fakes import ScriptedBackend, last_user

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


class Doubler(GenerationStep):
    """Asks for 2*x; the answer must be even and non-negative; x=7 yields two results."""

    name = "double"
    schema = SCHEMA

    def prompt(self, record):
        return [{"role": "user", "content": str(record["x"])}]

    def parse(self, record, output):
        n = output["n"]
        if n < 0:
            raise Reject("negative", retry=False)
        if n % 2:
            raise Reject("odd")
        k = 2 if record["x"] == 7 else 1
        return [{"messages": [{"role": "user", "content": str(record["x"])},
                              {"role": "assistant", "content": str(n)}], "meta": {"k": i}} for i in range(k)]


def answer(messages, seed):
    x = int(last_user(messages))
    if x == 3:
        return "not json at all"
    if x == 5:
        return {"n": -1}
    if x == 9:  # odd on the first seed, fixed on the retry
        return {"n": 19 if seed == 0 else 18}
    return {"n": 2 * x}


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_exact_accounting(tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": f"r{x}", "x": x}) for x in range(12)]
    lines.insert(4, "{broken")
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    stats = run_step(Doubler(ScriptedBackend(answer)), src, out, RunConfig(progress=False, retries=1))
    assert stats.ok == 10 and stats.failed == 3 and stats.retried == 2  # r3 (retried, failed), r9
    assert stats.outputs == 11  # r7 gave two results
    errs = {r["id"]: r for r in rows(errors_path(out))}
    assert errs["r3"]["reason"].startswith("unparseable output") and errs["r3"]["attempts"] == 2
    assert errs["r5"]["reason"] == "negative" and errs["r5"]["attempts"] == 1
    assert any(k.startswith("input:") for k in errs)
    got = rows(out)
    assert sorted({r["meta"]["source_id"] for r in got}) == sorted(f"r{x}" for x in range(12) if x not in (3, 5))
    assert all(r["messages"][-1]["content"] for r in got)  # no empty rows
    # A second run without --resume refuses; with --resume does nothing new.
    with pytest.raises(BimoError):
        run_step(Doubler(ScriptedBackend(answer)), src, out, RunConfig(progress=False))
    be = ScriptedBackend(answer)
    again = run_step(Doubler(be), src, out, RunConfig(progress=False, resume=True))
    assert again.skipped == 12 and again.ok == 0 and not be.requests
    assert len(rows(out)) == 11 and len(rows(errors_path(out))) == 3


def test_torn_group_is_redone(tmp_path):
    out = tmp_path / "out.jsonl"
    records = [{"id": "a", "x": 7}, {"id": "b", "x": 1}]
    run_step(Doubler(ScriptedBackend(answer)), records, out, RunConfig(progress=False))
    lines = out.read_text().splitlines()
    # simulate a crash that kept only part 0 of the two-part record and tore the next line
    keep = [ln for ln in lines if not (json.loads(ln)["meta"]["source_id"] == "a" and json.loads(ln)["meta"]["part"] == 1)]
    out.write_text("\n".join(keep) + "\n" + '{"messages": [')
    stats = run_step(Doubler(ScriptedBackend(answer)), records, out, RunConfig(progress=False, resume=True))
    assert stats.ok == 1 and stats.skipped == 1
    got = rows(out)
    assert sorted((r["meta"]["source_id"], r["meta"]["part"]) for r in got) == [("a", 0), ("a", 1), ("b", 0)]


def test_backend_errors_and_bugs_are_recorded(tmp_path):
    class Broken(Doubler):
        def process(self, record, attempt):
            if record["x"] == 1:
                raise BimoError("server said no (timeout)")
            if record["x"] == 2:
                raise KeyError("oops")
            return []

    out = tmp_path / "o.jsonl"
    stats = run_step(Broken(ScriptedBackend(answer)), [{"id": i, "x": i} for i in (1, 2, 4)], out,
                     RunConfig(progress=False))
    errs = {r["id"]: r for r in rows(errors_path(out))}
    assert stats.failed == 3 and not rows(out)
    assert errs["1"]["kind"] == "timeout" and errs["2"]["kind"] == "internal" and errs["4"]["reason"] == "no results"


def test_concurrency_overlaps_calls(tmp_path):
    """Calls overlap up to the backend's parallel slots and never beyond (counted, not timed)."""
    recs = [{"id": i, "x": 2} for i in range(16)]
    backend = ScriptedBackend(answer, delay=0.1, parallel=8)
    run_step(Doubler(backend), recs, tmp_path / "c.jsonl", RunConfig(progress=False))
    assert len(rows(tmp_path / "c.jsonl")) == 16
    assert 2 <= backend.peak <= 8


CHILD = textwrap.dedent("""
    import sys
    from bimo.runner import RunConfig, run_step
    from fakes import ScriptedBackend
    from test_runner import Doubler, answer
    recs = [{"id": f"r{i}", "x": i} for i in range(int(sys.argv[2]))]
    run_step(Doubler(ScriptedBackend(answer, delay=0.02, parallel=4)), recs, sys.argv[1],
             RunConfig(progress=False, resume=True, retries=1))
""")


def test_kill9_then_resume_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / "k.jsonl"
    n = 300
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(n)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(rows(out)) < 40:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(rows(out))
    assert 0 < before < n, "the kill should land mid-run"
    subprocess.run([sys.executable, "-c", CHILD, str(out), str(n)], env=env, check=True, timeout=120)
    got = rows(out)
    keys = [(r["meta"]["source_id"], r["meta"]["part"]) for r in got]
    assert len(keys) == len(set(keys)), "duplicated records"
    errs = [r["id"] for r in rows(errors_path(out))]
    assert len(errs) == len(set(errs))
    done = {k for k, _ in keys} | set(errs)
    assert done == {f"r{i}" for i in range(n)}, "lost records"
    assert len(got) == n - 2 + 1  # r3, r5 fail; r7 has two parts


def test_errors_path_is_one_rule():
    from bimo import io, runner
    from bimo.evaluate import judge, pairwise

    assert io.errors_path("runs/out.jsonl") == Path("runs/out.errors.jsonl")
    assert io.errors_path("out.txt") == Path("out.txt.errors.jsonl")
    assert runner.errors_path is judge.errors_path is pairwise.errors_path is io.errors_path


class Described(Doubler):
    def describe(self, record):
        return {"x": record["x"], "id": "never wins over the runner's own fields"}


def test_retry_failed_and_error_context(tmp_path):
    out = tmp_path / "o.jsonl"
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{x}", "x": x}) + "\n" for x in (1, 3, 5)) + "{broken\n")
    run_step(Described(ScriptedBackend(answer)), src, out, RunConfig(progress=False, retries=0))
    errs = {r["id"]: r for r in rows(errors_path(out))}
    assert set(errs) == {"r3", "r5", f"input:{src}:4"}
    assert errs["r3"]["x"] == 3 and errs["r3"]["detail"] == "not json at all"
    # plain resume: failures are done; retry_failed: tried again, listed once, bad line kept
    be = ScriptedBackend(answer)
    run_step(Described(be), src, out, RunConfig(progress=False, resume=True))
    assert not be.requests
    be = ScriptedBackend(answer)
    stats = run_step(Described(be), src, out, RunConfig(progress=False, resume=True, retry_failed=True, retries=0))
    assert len(be.requests) == 2 and stats.skipped == 1 and stats.failed == 3
    assert sorted(r["id"] for r in rows(errors_path(out))) == sorted(errs)


def test_torn_group_repair_keeps_rows_without_bookkeeping(tmp_path):
    out = tmp_path / "o.jsonl"
    legacy = {"note": "written by hand, no meta.source_id"}
    torn = {"messages": [], "meta": {"source_id": "a", "part": 0, "parts": 2}}
    out.write_text(json.dumps(legacy) + "\n" + json.dumps(torn) + "\n")
    run_step(Doubler(ScriptedBackend(answer)), [{"id": "a", "x": 7}], out, RunConfig(progress=False, resume=True))
    got = rows(out)
    assert got[0] == legacy and [r["meta"]["part"] for r in got[1:]] == [0, 1]


def test_map_step_in_memory():
    from bimo.runner import map_step

    recs = [{"id": f"r{x}", "x": x} for x in (1, 3, 9)]
    outcomes = {o.key: o for o in map_step(Doubler(ScriptedBackend(answer, parallel=2)), recs, retries=1)}
    assert outcomes["r1"].ok and outcomes["r1"].results[0]["messages"][-1]["content"] == "2"
    assert not outcomes["r3"].ok and outcomes["r3"].reason.startswith("unparseable") and outcomes["r3"].attempts == 2
    assert outcomes["r9"].ok and outcomes["r9"].attempts == 2 and outcomes["r9"].record["x"] == 9


class OneLine(GenerationStep):
    """Free text from the real model: one short line per record."""

    name = "oneline"

    def prompt(self, record):
        return [{"role": "user", "content": f"Write one short sentence about {record['topic']}."}]

    def parse(self, record, output):
        return [{"topic": record["topic"], "text": output}]


def test_resume_with_another_model_or_settings_is_refused(tiny_backend, tiny_path, tmp_path, capsys):
    from bimo.binding import read_sidecar, sidecar_path
    from bimo.llm import GenParams, get_backend

    records = [{"id": "a", "topic": "rain"}, {"id": "b", "topic": "snow"}]
    out = tmp_path / "out.jsonl"
    params = GenParams(temperature=0.7, max_tokens=12, seed=0)
    cfg = RunConfig(progress=False, resume=True)
    assert run_step(OneLine(tiny_backend, params), records[:1], out, cfg).ok == 1
    recorded = read_sidecar(out)
    assert recorded["model"] == "local:tiny" and recorded["max_tokens"] == 12 and recorded["step"] == "oneline"

    with pytest.raises(BimoError, match=r"seed 0 → 5.*resuming would mix them"):
        run_step(OneLine(tiny_backend, params.model_copy(update={"seed": 5})), records, out, cfg)
    with get_backend(f"gguf:{tiny_path}", n_ctx=1024) as other:
        with pytest.raises(BimoError, match=r"model local:tiny → gguf:"):
            run_step(OneLine(other, params), records, out, cfg)
    assert len(rows(out)) == 1  # nothing was added by the refused runs

    stats = run_step(OneLine(tiny_backend, params), records, out, cfg)  # same settings: continues
    assert stats.skipped == 1 and stats.ok == 1 and len(rows(out)) == 2

    sidecar_path(out).unlink()  # an output from before bindings: adopted, with a note
    run_step(OneLine(tiny_backend, params), records, out, cfg)
    assert "no record of the model" in capsys.readouterr().err and read_sidecar(out) == recorded

    # --overwrite starts over and records the new settings
    run_step(OneLine(tiny_backend, params.model_copy(update={"seed": 5})), records[:1], out,
             RunConfig(progress=False, overwrite=True))
    assert read_sidecar(out)["seed"] == 5 and len(rows(out)) == 1


def test_duplicate_ids_are_recorded_not_dropped(tmp_path):
    """A repeated id is not run twice, but it is listed with the row it repeats, once."""
    src = tmp_path / "in.jsonl"
    recs = [{"id": "a", "x": 1}, {"id": "b", "x": 2}, {"id": "a", "x": 4}, {"id": "c", "x": 6}, {"id": "a", "x": 8}]
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "out.jsonl"
    stats = run_step(Doubler(ScriptedBackend(answer)), src, out, RunConfig(progress=False))
    assert stats.ok == 3 and stats.duplicates == 2 and "2 duplicate ids" in stats.summary()
    assert sorted(r["meta"]["source_id"] for r in rows(out)) == ["a", "b", "c"]
    dups = [r for r in rows(errors_path(out)) if r.get("kind") == "duplicate"]
    assert [(d["id"], d["row"], d["reason"]) for d in dups] == [("a", 3, "duplicate id of row 1"),
                                                                  ("a", 5, "duplicate id of row 1")]
    # resumed (and retried): the duplicates are neither run nor listed a second time
    for cfg in (RunConfig(progress=False, resume=True), RunConfig(progress=False, resume=True, retry_failed=True)):
        be = ScriptedBackend(answer)
        again = run_step(Doubler(be), src, out, cfg)
        assert be.requests == [] and again.ok == 0
        assert len([r for r in rows(errors_path(out)) if r.get("kind") == "duplicate"]) == 2


def test_a_duplicate_row_does_not_mark_its_first_record_done(tmp_path):
    """Killed after the duplicate was listed but before the first record finished: the
    resume still runs the first record."""
    out = tmp_path / "out.jsonl"
    errors_path(out).write_text(json.dumps({"id": "a", "step": "double", "kind": "duplicate",
                                            "reason": "duplicate id of row 1", "row": 2, "attempts": 0}) + "\n")
    out.write_text("")
    stats = run_step(Doubler(ScriptedBackend(answer)), [{"id": "a", "x": 1}, {"id": "a", "x": 2}], out,
                     RunConfig(progress=False, resume=True))
    assert stats.ok == 1 and [r["meta"]["source_id"] for r in rows(out)] == ["a"]
    assert len(rows(errors_path(out))) == 1


def test_long_answers_at_once_fit_the_shared_context(tiny_path):
    from bimo.llm import get_backend
    from bimo.llm.base import GenParams
    from bimo.runner import GenerationStep

    backend = get_backend("local:tiny")
    try:
        assert backend.n_ctx and backend.parallel >= 2
        long = GenerationStep(backend, GenParams(max_tokens=6144))
        short = GenerationStep(backend, GenParams(max_tokens=1024))
        assert long.parallel == 1  # 6,144 + prompt in a shared 8,192-token pool: one at a time
        assert short.parallel == min(backend.parallel, backend.n_ctx // 2048) >= 2
    finally:
        backend.close()
