"""`bimo train`: sft, dpo, pretrain, export, launch. Thin: parse, then call the library.

torch/transformers/TRL are imported inside the commands so `bimo --help` stays fast.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import typer

from bimo.cliutil import given
from bimo.extras import require

app = typer.Typer(help="Train writing models: continual pretraining, SFT and DPO (TRL), GGUF export.",
                  no_args_is_help=True)

_CONFIG = typer.Option(None, "--config", "-c", help="YAML config (flat or a recipe with a `train:` section).")
_SET = typer.Option([], "--set", help="Override any config key: --set lora_r=8 --set beta=0.1 (repeatable).")


def _run(stage: str, data: Path, base: str | None, output: Path | None, lora: bool | None, config: Path | None,
         sets: list[str], epochs: float | None, max_steps: int | None, lr: float | None, resume: bool) -> None:
    require("train", f"bimo train {stage}")
    from bimo.train.config import load_config, parse_overrides

    # an option left unset must not erase the same key given with --set
    overrides = parse_overrides(sets) | given(data=data, base=base, output_dir=output, lora=lora, epochs=epochs,
                                              max_steps=max_steps, learning_rate=lr, resume=resume or None)
    cfg = load_config(stage, config, overrides)

    from bimo.train.run import train

    result = train(cfg)
    shown = {k: result.metrics[k] for k in ("train_loss", "train_runtime", "num_tokens") if k in result.metrics}
    typer.echo(f"{stage} done: {result.model_dir}  {json.dumps(shown)}")
    for p in result.plots:
        typer.echo(f"curve: {p}")


def _stage_command(stage: str, data_help: str, base_help: str):
    def command(
        data: Path = typer.Argument(..., help=data_help),
        base: str = typer.Option(None, "--base", "-b", help=base_help),
        output: Path = typer.Option(None, "--output", "-o", help="Run folder to create (checkpoints, model, curves)."),
        lora: bool = typer.Option(None, "--lora/--full", help="LoRA adapter or full fine-tuning (default: config, else full)."),
        config: Path = _CONFIG,
        sets: list[str] = _SET,
        epochs: float = typer.Option(None, "--epochs", help="Training epochs."),
        max_steps: int = typer.Option(None, "--max-steps", help="Stop after N optimizer steps (overrides epochs)."),
        lr: float = typer.Option(None, "--lr", help="Learning rate."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in the run folder."),
    ) -> None:
        _run(stage, data, base, output, lora, config, sets, epochs, max_steps, lr, resume)

    command.__doc__ = {
        "sft": "Supervised fine-tuning on chat records {messages: [...]} (assistant-only loss, packing).",
        "dpo": "Direct preference optimisation on {prompt, chosen, rejected} pairs.",
        "pretrain": "Continual pretraining on curated text {id, text, metadata}.",
    }[stage]
    return command


_MODEL = "Registry name (small, local:NAME), a .gguf file, an HF checkpoint folder or a bimo run folder."
app.command("sft")(_stage_command("sft", "SFT records (JSONL).", _MODEL))
app.command("dpo")(_stage_command("dpo", "Preference pairs (JSONL).", "The SFT run folder (or any model spec). " + _MODEL))
app.command("pretrain")(_stage_command("pretrain", "Curated text records (JSONL).", _MODEL))


@app.command("export")
def export(
    run_dir: Path = typer.Argument(..., help="A finished bimo train run folder."),
    name: str = typer.Option(..., "--name", "-n", help="Register as local:NAME."),
    quant: str = typer.Option("q8_0", "--quant", "-q", help="f32, f16, bf16, q8_0 or auto."),
    no_register: bool = typer.Option(False, "--no-register", help="Only write RUN/export/NAME.QUANT.gguf."),
) -> None:
    """Merge LoRA, convert to GGUF and register it so `--model local:NAME` works."""
    require("train", "bimo train export")
    from bimo.train.export import export_run

    path = export_run(run_dir, name, quant, register=not no_register)
    typer.echo(f"wrote {path}" + ("" if no_register else f"; use --model local:{name}"))


@app.command("launch", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def launch(
    ctx: typer.Context,
    accelerate_config: str = typer.Argument(..., help="multi-gpu, deepspeed-zero2, deepspeed-zero3, fsdp, cpu-ddp or a YAML path."),
    num_processes: int = typer.Option(None, "--num-processes", help="Override the config's process count."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the accelerate command instead of running it."),
) -> None:
    """Run a stage on several GPUs: bimo train launch deepspeed-zero2 -- sft data.jsonl --base ... -o ..."""
    require("train", "bimo train launch")
    from bimo.train.launch import accelerate_command

    cmd = accelerate_command(accelerate_config, list(ctx.args), num_processes)
    typer.echo(shlex.join(cmd))
    if not dry_run:
        raise typer.Exit(subprocess.call(cmd))


def main() -> None:
    """Standalone entry (`python -m bimo.train`), with the same one-line errors as `bimo`."""
    from bimo.cliutil import run_app

    run_app(app)
