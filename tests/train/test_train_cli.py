"""The command shapes scripts depend on, through the real Typer app: pretrain and SFT from the CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from bimo.train.cli import app
from bimo.train.models import read_run


def test_cli_pretrain_then_sft_with_config(tmp_path, tiny_base, toy_data, bimo_home):
    runner = CliRunner()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  max_length: 128\n  batch_size: 4\n  pretrain: {packing: true}\n  sft: {lora: true, lora_r: 4}\n")
    res = runner.invoke(app, ["pretrain", str(toy_data["pretrain"]), "--base", str(tiny_base), "-o", str(tmp_path / "pt"),
                              "--config", str(cfg), "--max-steps", "2"])
    assert res.exit_code == 0, res.output
    info = read_run(tmp_path / "pt")
    assert info["loss_mode"] == "full" and info["packing"] == "wrapped"  # CPU pretraining packs plain rows
    res = runner.invoke(app, ["sft", str(toy_data["sft"]), "--base", str(tmp_path / "pt"), "-o", str(tmp_path / "sft"),
                              "--config", str(cfg), "--max-steps", "2", "--set", "lora_alpha=8"])
    assert res.exit_code == 0, res.output
    info = read_run(tmp_path / "sft")
    assert info["lora"] and info["config"]["lora_r"] == 4 and info["config"]["lora_alpha"] == 8
    assert "sft done" in res.output
