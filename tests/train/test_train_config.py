"""YAML recipes with per-stage sections, CLI overrides, shipped recipes and accelerate configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bimo.errors import BimoError
from bimo.train.config import load_config, parse_overrides
from bimo.train.launch import SHIPPED, accelerate_command, find_config, load_accelerate_config

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_stage_sections_and_overrides(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("train:\n  lora: true\n  epochs: 3\n  sft: {learning_rate: 1.0e-4}\n  dpo: {beta: 0.2, epochs: 1}\n")
    sft = load_config("sft", f)
    dpo = load_config("dpo", f, parse_overrides(["beta=0.1", "lora_target_modules=[q_proj, v_proj]"]))
    assert sft.lora and sft.epochs == 3 and sft.learning_rate == 1e-4 and sft.beta == 0.1
    assert dpo.epochs == 1 and dpo.beta == 0.1 and dpo.lora_target_modules == ["q_proj", "v_proj"]
    assert dpo.resolved_lr() == 5e-6  # DPO + LoRA default
    with pytest.raises(BimoError, match="key=value"):
        parse_overrides(["beta"])
    with pytest.raises(BimoError, match="config file not found"):
        load_config("sft", tmp_path / "missing.yaml")


def _training_recipes() -> list[str]:
    # Other stages' recipes may sit beside ours; only those with a `train:` section are ours to check.
    return sorted(p.name for p in RECIPES.glob("*.yaml") if "train" in (yaml.safe_load(p.read_text()) or {}))


@pytest.mark.parametrize("recipe", _training_recipes())
def test_shipped_recipes_parse(recipe):
    for stage in ("pretrain", "sft", "dpo"):
        load_config(stage, RECIPES / recipe)


@pytest.mark.parametrize("name", SHIPPED)
def test_accelerate_configs_parse_and_launch_line(name):
    path = find_config(name)
    cfg = load_accelerate_config(path)
    assert cfg.num_processes >= 2
    cmd = accelerate_command(name, ["sft", "d.jsonl", "--base", "small", "-o", "runs/x"], num_processes=2)
    i = cmd.index("--config_file")
    assert cmd[i + 1] == str(path) and cmd[cmd.index("--num_processes") + 1] == "2"
    assert cmd[-7:] == ["-m", "bimo.train", "sft", "d.jsonl", "--base", "small", "-o", "runs/x"][-7:]


def test_launch_dry_run_via_cli():
    from typer.testing import CliRunner

    from bimo.train.cli import app

    res = CliRunner().invoke(app, ["launch", "deepspeed-zero2", "--dry-run", "--", "dpo", "p.jsonl", "--base", "runs/sft",
                                   "-o", "runs/dpo"])
    assert res.exit_code == 0, res.output
    assert "deepspeed-zero2.yaml" in res.output and "-m bimo.train dpo p.jsonl" in res.output
    with pytest.raises(BimoError, match="accelerate config not found"):
        accelerate_command("nope", ["sft"])
