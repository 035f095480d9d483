"""The `backward` stage: the synth stage's pairs reversed, a backward model trained on them
(tiny random Llama, LoRA, two steps), exported, and used as the generator on documents synth
did not use; interrupted after training it resumes without training or exporting again;
its settings are checked before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_util import tiny_recipe, write_recipe

from bimo.errors import BimoError
from bimo.pipeline.recipe import load_pipeline_recipe
from bimo.pipeline.run import run_pipeline
from bimo.runner import errors_path


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def backward_recipe(base: Path, toy: dict[str, Path], **backward) -> dict:
    recipe = tiny_recipe(base, toy, stages=["curate", "synth", "backward", "sft"])
    recipe["backward"] = {"base": str(base), "quant": "f16", "docs": 1, "min_sft": 0,
                          "train": {"lora": True, "max_length": 128, "allow_truncation": True, "batch_size": 4, "save_steps": 1,
                                    "sft": {"max_steps": 2, "learning_rate": 2e-3}},
                          "backtranslate": {"score": False, "max_tokens": 48, "max_source_chars": 300}, **backward}
    return recipe


def test_backward_stage_trains_uses_and_resumes(tmp_path, tiny_llama, toy, home_env, monkeypatch):
    import bimo.synth.backtranslate as bt

    recipe = load_pipeline_recipe(write_recipe(tmp_path / "r.yaml", backward_recipe(tiny_llama, toy)))
    run = tmp_path / "run"
    real = bt.run_backtranslate
    calls: list[str] = []

    def interrupted(backend, docs, out, config, run_config, writer=None):
        calls.append(config.generator)
        if config.backward:
            raise KeyboardInterrupt
        return real(backend, docs, out, config, run_config, writer)

    monkeypatch.setattr(bt, "run_backtranslate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(recipe, run)
    stage = run / "03-backward"
    gguf = stage / "pipe-tiny-backward.f16.gguf"
    assert calls[0] == "prompted" and calls[-1] == f"gguf:{gguf.resolve()}"
    assert gguf.read_bytes()[:4] == b"GGUF" and json.loads((stage / "train" / "bimo_run.json").read_text())["finished"]
    stamps = {p: p.stat().st_mtime_ns for p in (gguf, stage / "train" / "bimo_run.json")}

    monkeypatch.setattr(bt, "run_backtranslate", real)
    state = run_pipeline(recipe, run, resume=True)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # not trained nor exported again
    rec = state.stage("backward")
    assert rec["status"] == "done" and rec["attempts"] == 2
    figs = rec["figures"]
    synth_sft = _rows(run / state.stage("synth")["outputs"]["sft"])
    # every reversible synth pair was reversed (the toy extras have no anchor: all are)
    assert figs["reversed"] == len([r for r in synth_sft if r["meta"].get("anchor") != "input"]) >= 64
    back = _rows(stage / "back.jsonl")
    assert all(r["meta"]["direction"] == "backward" for r in back)
    # one new document (not the one synth used), its request accounted for as a pair or a reason
    used = {d["id"] for d in _rows(run / state.stage("synth")["outputs"]["docs"])}
    new = _rows(stage / "docs.jsonl")
    assert len(new) == figs["docs"] == 1 and not used & {d["id"] for d in new}
    plans, made, errs = _rows(stage / "sft.plan.jsonl"), _rows(stage / "sft.jsonl"), _rows(errors_path(stage / "sft.jsonl"))
    assert len(made) + len(errs) == len(plans) and figs["kept"] == len(made) and figs["rejected"] == len(errs)
    assert len(plans) == 1 and not _rows(errors_path(stage / "sft.plan.jsonl"))  # described: the model was called
    assert all(e["reason"] and e["task"] == "backward" for e in errs)
    # the SFT stage trains on the synth pairs followed by the backward model's
    mixed = _rows(run / rec["outputs"]["sft"])
    assert mixed == synth_sft + made
    sft_info = json.loads((run / "04-sft" / "bimo_run.json").read_text())
    assert Path(sft_info["config"]["data"]).resolve() == (run / rec["outputs"]["sft"]).resolve()


@pytest.mark.parametrize(("change", "message"), [
    ({"backward": {"base": "/nonexistent/model"}}, None),
    ({"backward": {"train": {"lora_r": 0}}}, "backward.train"),
    ({"backward": {"docs": 0}}, "backward.docs"),
    ({"backward": {"backtranslate": {"generator": "gguf:/x.gguf"}}}, "backward.backtranslate.generator"),
    ({"backward": {"backtranslate": {"tasks_per_doc": 2}}}, "backward.backtranslate.tasks_per_doc"),
    ({"backward": {"epochs": 2}}, "backward.epochs: unknown setting"),
    ({"synth": {"backtranslate": {"generator": "backward"}}}, "synth.backtranslate.generator"),
    ({"stages": ["curate", "backward"]}, "backward needs synth"),
])
def test_backward_settings_are_one_line_errors(tmp_path, tiny_llama, toy, change, message):
    recipe = backward_recipe(tiny_llama, toy)
    for key, value in change.items():
        recipe[key] = {**recipe[key], **value} if isinstance(value, dict) else value
    path = write_recipe(tmp_path / "r.yaml", recipe)
    if message is None:  # a missing base is found by the check before the run
        from bimo.pipeline.checks import check_ready

        with pytest.raises(BimoError, match="base model not found: /nonexistent/model"):
            check_ready(load_pipeline_recipe(path))
        return
    with pytest.raises(BimoError, match=message) as err:
        load_pipeline_recipe(path)
    assert "\n" not in str(err.value)
