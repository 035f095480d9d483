"""Checkpoints and --resume: a run stopped after 2 steps continues to 4 from checkpoint-2, and
only with the settings and data it was started with."""

from __future__ import annotations

from pathlib import Path

import pytest

from bimo.errors import BimoError
from bimo.train.models import read_run


def test_resume_continues_from_last_checkpoint(tmp_path, tiny_base, toy_data, bimo_home, run_stage):
    out = tmp_path / "run"
    common = {"data": toy_data["sft"], "base": str(tiny_base), "output_dir": out, "save_steps": 2, "lora": True,
              "lora_target_modules": ["q_proj", "v_proj"],
              "packing": True}  # best-fit packing with assistant masks is covered here
    first = run_stage("sft", max_steps=2, **common)
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    assert first.metrics["resumed_from"] is None

    with pytest.raises(BimoError, match="--resume"):
        run_stage("sft", max_steps=4, **common)
    # a resume must train on what the run was started with: other settings or other data
    # (by content, wherever the file lies) are refused before any weights are loaded
    with pytest.raises(BimoError, match=r"learning_rate 0.0002 → 0.001.*start a new run"):
        run_stage("sft", max_steps=4, resume=True, learning_rate=1e-3, **common)
    with pytest.raises(BimoError, match="lora_r 16 → 8"):
        run_stage("sft", max_steps=4, resume=True, lora_r=8, **common)
    changed = tmp_path / "changed.jsonl"
    changed.write_text(Path(toy_data["sft"]).read_text(encoding="utf-8").replace("a", "b", 1), encoding="utf-8")
    with pytest.raises(BimoError, match="data_sha256"):
        run_stage("sft", max_steps=4, resume=True, **{**common, "data": changed})

    second = run_stage("sft", max_steps=4, resume=True, **common)
    assert second.metrics["resumed_from"].endswith("checkpoint-2")
    steps = [h["step"] for h in second.history if "loss" in h]
    assert steps == [1, 2, 3, 4]  # history of the first 2 steps comes back from the checkpoint
    assert (out / "checkpoints" / "checkpoint-4").is_dir()
    assert read_run(out)["packing"] == "bfd"
