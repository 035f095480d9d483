"""The model stages: [pretrain] -> SFT -> DPO on TRL (`bimo.train.run.train`), then GGUF export.

Each training stage is a `bimo train` run folder; its config is the recipe's `train:`
section exactly as `bimo train STAGE --config RECIPE` reads it, with data, base and output
filled in by the pipeline. The base of a stage is the previous training stage's run folder
(the recipe's `base` for the first). An interrupted stage continues from its newest
checkpoint (`save_steps`) with optimizer and scheduler state, as `bimo train --resume` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import atomic_write_text, iter_jsonl
from bimo.pipeline.context import StageContext, StageResult
from bimo.pipeline.recipe import TRAIN_STAGES


def _base(ctx: StageContext) -> str:
    prev = ctx.earlier(*TRAIN_STAGES)
    return str(ctx.path(ctx.output(prev, "run"))) if prev else ctx.recipe.base


def _data(ctx: StageContext) -> Path:
    if ctx.name == "pretrain":
        from bimo.pipeline.data import pretrain_text

        return pretrain_text(ctx)
    if ctx.name == "sft" and ctx.earlier("backward"):  # the synth pairs and those from the backward model
        return ctx.path(ctx.output("backward", "sft"))
    return ctx.path(ctx.output("synth", "sft" if ctx.name == "sft" else "pairs"))


def run_train(ctx: StageContext) -> StageResult:
    from bimo.train.models import is_run_dir, read_run

    out = ctx.dir
    finished = is_run_dir(out) and read_run(out).get("finished")
    if not finished:  # else: training ended but the pipeline stopped before recording it
        data = _data(ctx)
        resume = ctx.resume and any((out / "checkpoints").glob("checkpoint-*"))
        if ctx.recipe.launch is not None:
            _launch(launch_command(ctx, data, resume))
        else:
            from bimo.train.run import train

            train(ctx.recipe.train_config(ctx.name, data=data, base=_base(ctx), output_dir=out, resume=resume or None))
    info = read_run(out)
    metrics: dict[str, Any] = info.get("metrics") or {}
    history = list(iter_jsonl(out / "log_history.jsonl")) if (out / "log_history.jsonl").exists() else []
    steps = max((int(h["step"]) for h in history if "step" in h), default=0)
    figures: dict[str, Any] = {"steps": steps, "train_loss": metrics.get("train_loss"),
                               "train_runtime": metrics.get("train_runtime"), "lora": info.get("lora")}
    line = f"{steps} steps, train loss {_num(metrics.get('train_loss'))}"
    if ctx.name == "dpo":
        last = next((h for h in reversed(history) if "rewards/margins" in h), {})
        figures.update(reward_margin=last.get("rewards/margins"), reward_accuracy=last.get("rewards/accuracies"))
        line += f", reward margin {_num(last.get('rewards/margins'))}"
    outputs = {"run": ctx.rel(out), "model": ctx.rel(out / "model")}
    curves = [ctx.rel(p) for p in sorted(out.glob("*.png"))]
    if curves:
        outputs["curves"] = curves
    return StageResult(outputs=outputs, figures=figures, summary=line)


def launch_command(ctx: StageContext, data: Path, resume: bool) -> list[str]:
    """`accelerate launch ... -m bimo.train STAGE DATA --base B -o OUT --config OUT/train.yaml` for this stage:
    every process runs the same `bimo train` stage on the recipe's `train:` section as the run read it at
    the start (written to the stage folder: an edit of the recipe file mid-run changes nothing)."""
    import yaml

    from bimo.train.launch import accelerate_command

    assert ctx.recipe.launch is not None
    config = ctx.dir / "train.yaml"
    atomic_write_text(config, yaml.safe_dump({"train": ctx.recipe.train}, allow_unicode=True, sort_keys=False))
    args = [ctx.name, str(data), "--base", _base(ctx), "--output", str(ctx.dir), "--config", str(config)]
    return accelerate_command(ctx.recipe.launch.config, args + (["--resume"] if resume else []),
                              ctx.recipe.launch.num_processes)


def _launch(cmd: list[str]) -> None:
    import subprocess

    code = subprocess.call(cmd)
    if code != 0:
        raise BimoError(f"training under accelerate failed (exit code {code}): {' '.join(cmd[:6])} ...")


def run_export(ctx: StageContext) -> StageResult:
    from bimo.train.export import export_run

    cfg = ctx.recipe.export
    name = ctx.recipe.export_name
    src = ctx.path(ctx.output(ctx.earlier(*TRAIN_STAGES) or "sft", "run"))
    ctx.dir.mkdir(parents=True, exist_ok=True)
    gguf = Path(export_run(src, name, cfg.quant, register=cfg.register_model, out_dir=ctx.dir))
    uri = f"local:{name}" if cfg.register_model else f"gguf:{gguf.resolve()}"
    size_mb = round(gguf.stat().st_size / 1e6, 1)
    info = {"name": name, "uri": uri, "gguf": str(gguf.resolve()), "quant": cfg.quant, "size_mb": size_mb,
            "from": str(src.resolve())}
    atomic_write_text(ctx.dir / "export.json", json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    return StageResult(outputs={"uri": uri, "gguf": ctx.rel(gguf)},
                       figures={"model": uri, "quant": cfg.quant, "size_mb": size_mb},
                       summary=f"{uri} ({cfg.quant}, {size_mb} MB)")


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
