"""The whole pipeline on tiny models through the real CLI, stopped and resumed; an interrupted
stage continuing with its own resume; stale stages refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_util import tiny_recipe, write_recipe

from bimo.errors import BimoError
from bimo.pipeline.recipe import load_pipeline_recipe
from bimo.pipeline.run import run_pipeline
from bimo.pipeline.state import STATE_FILE


def _state(run: Path) -> dict:
    return json.loads((run / STATE_FILE).read_text())


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_end_to_end_stop_and_resume(bimo_cli, tmp_path, tiny_llama, toy, home_env):
    recipe = write_recipe(tmp_path / "tiny.yaml", tiny_recipe(tiny_llama, toy))
    run = tmp_path / "run"

    first = bimo_cli("pipeline", "run", str(recipe), "-o", str(run), "--stop-after", "sft", env=home_env, timeout=900)
    assert first.returncode == 0, first.stderr.decode()[-3000:]
    stages = _state(run)["stages"]
    assert [s for s, r in stages.items() if r["status"] == "done"] == ["curate", "synth", "sft"]
    assert "dpo" not in stages and "stopped after sft" in first.stderr.decode()
    synth = stages["synth"]["figures"]
    # Every sampled document's work item is accounted for (made or failed), then the toy data is mixed in.
    assert synth["docs"] == 1 and synth["sft"] == synth["sft_made"] + 64 and synth["pairs"] == synth["pairs_made"] + 32
    before = {d: _mtimes(run / d) for d in ("01-curate", "02-synth", "03-sft")}

    second = bimo_cli("pipeline", "run", str(recipe), "-o", str(run), "--resume", env=home_env, timeout=900)
    err, out = second.stderr.decode(), second.stdout.decode()
    assert second.returncode == 0, err[-3000:]
    for stage in ("curate", "synth", "sft"):
        assert f"{stage}: done before" in err
    assert {d: _mtimes(run / d) for d in before} == before  # finished stages were not touched
    state = _state(run)["stages"]
    assert all(state[s]["status"] == "done" and state[s]["seconds"] > 0 for s in state)
    assert list(state) == ["curate", "synth", "sft", "dpo", "export", "eval"]
    assert state["curate"]["attempts"] == 1 and state["sft"]["attempts"] == 1
    assert state["sft"]["figures"]["steps"] == 2 and state["dpo"]["figures"]["steps"] == 2
    assert state["export"]["outputs"]["uri"] == "local:pipe-tiny"
    assert (Path(home_env["BIMO_HOME"]) / "models" / "pipe-tiny.gguf").exists()
    ev = state["eval"]["figures"]
    assert ev["prompts"] == 2 and ev["battles"] + _lines(run / "06-eval" / "battles.errors.jsonl") == 2
    assert "06-eval" in out and "total" in out and "win rate" in out  # the summary table
    failed = _rows(run / "06-eval" / "battles.errors.jsonl")  # the tiny judge's answers it could not parse
    assert all(e["kind"] == "reject" and e["reason"] and not e["reason"].startswith("backend error") for e in failed)
    if ev["battles"]:  # and otherwise every battle is one of the recorded rejections just checked
        assert 0 <= ev["win_rate"] <= 1 and (run / "06-eval" / "report" / "index.html").exists()
    summary = json.loads((run / "06-eval" / "summary.json").read_text())
    assert summary["baseline"] == f"hf:{tiny_llama}" and summary["model"] == "local:pipe-tiny"

    again = bimo_cli("pipeline", "run", str(recipe), "-o", str(run), env=home_env)
    assert again.returncode == 2 and b"--resume" in again.stderr and len(again.stderr.splitlines()) == 1

    changed = tiny_recipe(tiny_llama, toy)
    changed["eval"] = {**changed["eval"], "limit": 1}
    write_recipe(recipe, changed)
    stale = bimo_cli("pipeline", "run", str(recipe), "-o", str(run), "--resume", env=home_env)
    assert stale.returncode == 2 and b"stage eval finished before" in stale.stderr, stale.stderr.decode()
    assert b"06-eval" in stale.stderr and len(stale.stderr.splitlines()) == 1


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _lines(path: Path) -> int:
    return len(_rows(path))


def test_interrupted_stage_resumes_with_its_own_resume(tmp_path, tiny_llama, toy, monkeypatch):
    """Curation stopped between its per-shard pass and the global pass: the resumed stage
    reuses the finished shard (its marker is untouched) and the run completes."""
    import bimo.curate.pipeline as curate

    recipe = load_pipeline_recipe(write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_llama, toy, stages=["curate"])))
    run = tmp_path / "run"
    real_stage_b = curate.stage_b

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(curate, "stage_b", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(recipe, run)
    rec = _state(run)["stages"]["curate"]
    assert rec["status"] == "failed" and rec["error"] == "interrupted"
    marker = run / "01-curate" / ".work" / "shard-00000.a.done.json"
    stamp = marker.stat().st_mtime_ns

    monkeypatch.setattr(curate, "stage_b", real_stage_b)
    with pytest.raises(BimoError, match="--resume"):
        run_pipeline(recipe, run)
    state = run_pipeline(recipe, run, resume=True)
    rec = state.stage("curate")
    assert rec["status"] == "done" and rec["attempts"] == 2 and rec["figures"]["docs_kept"] > 0
    assert marker.stat().st_mtime_ns == stamp
    assert (run / rec["outputs"]["corpus"][0]).exists()
