"""One training stage (pretrain, SFT or DPO) on TRL, from a checked config to a finished run folder.

Run folder layout (what `bimo train dpo --base RUN` and `bimo train export RUN` read):
  bimo_run.json        stage, base spec, base checkpoint path, lora flag, config, finished, metrics
  checkpoints/         Trainer checkpoints (checkpoint-N), used by --resume
  model/               final weights: a LoRA adapter (lora) or a full checkpoint, plus tokenizer
  log_history.jsonl    the trainer's log records; loss.png / rewards.png drawn from them
Everything cheap (config, data records, base model spec, LoRA module names) is checked
before the first step, so mistakes surface as one-line BimoErrors, not mid-run tracebacks.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bimo.binding import differences, make_binding
from bimo.errors import BimoError
from bimo.io import atomic_write_jsonl, atomic_write_text, sha256_file
from bimo.train.config import TrainConfig
from bimo.train.data import load_records, split_last_turn, to_dataset
from bimo.train.models import RUN_FILE, resolve_base


@dataclass
class RunResult:
    run_dir: Path
    model_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)


def _torch_dtype(cfg: TrainConfig):
    import torch

    if cfg.dtype != "auto":
        return getattr(torch, cfg.dtype)
    # bf16 where the hardware has it; fp32 on CPU (bf16 matmuls on CPU are slow and lossy).
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _check_paths(cfg: TrainConfig) -> Path:
    for key in ("data", "base", "output_dir"):
        if getattr(cfg, key) in (None, ""):
            raise BimoError(f"training needs `{key}` (on the command line or in the config file)")
    out = Path(cfg.output_dir)
    ckpts = out / "checkpoints"
    if not cfg.resume and ckpts.exists() and any(ckpts.glob("checkpoint-*")):
        raise BimoError(f"{out} already holds checkpoints; pass --resume to continue or choose another -o")
    return out


#: Settings a resumed run may change: how long it runs and how it saves and logs, not what
#: it learns from or how (every other field of TrainConfig, plus the data's and the base's
#: identity, must match the run being continued).
RESUME_MAY_CHANGE = frozenset({"epochs", "max_steps", "logging_steps", "save_steps", "save_total_limit", "resume",
                               "output_dir", "gradient_checkpointing", "trl_args"})


def training_binding(cfg: TrainConfig) -> dict[str, Any]:
    """What a run's weights depend on: the settings outside RESUME_MAY_CHANGE, the learning
    rate as resolved, and the data file's content (a different file under the same name too)."""
    settings = {k: v for k, v in json.loads(cfg.model_dump_json()).items() if k not in RESUME_MAY_CHANGE}
    settings["learning_rate"] = cfg.resolved_lr()
    del settings["data"]  # the data by its content: the file may have moved, or changed in place
    data = Path(cfg.data) if cfg.data else None
    settings["data_sha256"] = sha256_file(data) if data is not None and data.is_file() else None
    return make_binding(cfg.base, **settings)


def _check_resume(cfg: TrainConfig, out: Path) -> None:
    """Refuse to continue a run with settings or data other than it was started with: the
    checkpoint's weights and optimizer state would be trained on a mix of the two."""
    if not cfg.resume or not (out / RUN_FILE).is_file():
        return
    try:
        recorded = json.loads((out / RUN_FILE).read_text(encoding="utf-8")).get("binding")
    except (OSError, ValueError, AttributeError):
        raise BimoError(f"{out / RUN_FILE} is damaged; it cannot say what the run was started with") from None
    if recorded is None:  # a run folder from before bindings were recorded
        return
    diff = differences(recorded, training_binding(cfg))
    if diff:
        raise BimoError(f"{out} was started with other settings ({'; '.join(diff)}); continuing would train "
                        "one model on a mix of them: start a new run with another -o")


def _last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    ckpts = out / "checkpoints"
    return get_last_checkpoint(str(ckpts)) if ckpts.is_dir() else None


def _sft_loss_mode(tokenizer: Any, cfg: TrainConfig) -> str:
    """'assistant' (masks from {% generation %}), 'completion' (prompt/completion split) or 'full'."""
    if cfg.stage == "pretrain" or not cfg.assistant_only_loss:
        return "full"
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if has_generation_markers(tokenizer.chat_template):
        return "assistant"
    try:
        # TRL ships marker-carrying twins of common templates (Qwen2.5, Llama 3, ...).
        if get_training_chat_template(tokenizer):
            return "assistant"
    except Exception:  # unknown template: TRL raises; fall back below
        pass
    return "completion"


def _common_args(cfg: TrainConfig, out: Path, dtype: Any) -> dict[str, Any]:
    import torch

    args = {
        "output_dir": str(out / "checkpoints"),
        "learning_rate": cfg.resolved_lr(),
        "num_train_epochs": cfg.epochs,
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "warmup_steps": cfg.warmup_ratio,  # transformers 5: a float < 1 is a ratio
        "lr_scheduler_type": cfg.lr_scheduler,
        "weight_decay": cfg.weight_decay,
        "seed": cfg.seed,
        "logging_steps": cfg.logging_steps,
        "save_steps": cfg.save_steps,
        "save_total_limit": cfg.save_total_limit,
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "max_length": cfg.max_length,
        "report_to": [],
        # Pinned memory only helps copies to a GPU; on CPU torch warns about it on every run.
        "dataloader_pin_memory": torch.cuda.is_available(),
    }
    if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Several processes and no GPU (`accelerate launch` on CPU): DDP over gloo. Without
        # this, transformers finds no accelerator and every process trains alone on all data.
        args["use_cpu"] = True
    args.update(cfg.trl_args)
    return args


def _write_run(out: Path, cfg: TrainConfig, base_ckpt: Path, **extra: Any) -> None:
    info = {
        "stage": cfg.stage,
        "base": cfg.base,
        "base_checkpoint": str(Path(base_ckpt).resolve()),
        "lora": cfg.lora,
        "config": json.loads(cfg.model_dump_json()),
        "binding": training_binding(cfg),
        **extra,
    }
    atomic_write_text(out / RUN_FILE, json.dumps(info, ensure_ascii=False, indent=2))


def build_trainer(cfg: TrainConfig):
    """Check everything and build the TRL trainer; returns (trainer, tokenizer, base_ckpt, out, notes)."""
    out = _check_paths(cfg)
    _check_resume(cfg, out)
    records = load_records(cfg.data, cfg.stage)
    base_ckpt = resolve_base(cfg.base)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bimo.train.lora import peft_config

    tokenizer = AutoTokenizer.from_pretrained(base_ckpt)
    if cfg.stage != "pretrain" and not tokenizer.chat_template:
        raise BimoError(f"base model {cfg.base} has no chat template; SFT/DPO need one (train a chat model or add one)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = _torch_dtype(cfg)
    model = AutoModelForCausalLM.from_pretrained(base_ckpt, dtype=dtype)
    lora_cfg = peft_config(cfg, model) if cfg.lora else None
    args = _common_args(cfg, out, dtype)
    notes: dict[str, Any] = {}

    if cfg.stage in ("sft", "pretrain"):
        from trl import SFTConfig, SFTTrainer

        if cfg.stage == "sft" and not cfg.allow_truncation:
            from bimo.train.data import check_lengths

            check_lengths(records, tokenizer, cfg.max_length, str(cfg.data))
        mode = _sft_loss_mode(tokenizer, cfg)
        notes["loss_mode"] = mode
        if mode == "completion":
            records = [split_last_turn(r) for r in records]
        import torch

        pack, strategy = cfg.resolved_packing(gpu=torch.cuda.is_available())
        notes["packing"] = strategy if pack else False
        trl_cfg = SFTConfig(
            packing=pack,
            packing_strategy=strategy,
            assistant_only_loss=mode == "assistant",
            completion_only_loss=mode == "completion",
            **args,
        )
        trainer_cls, extra = SFTTrainer, {}
    else:
        from trl import DPOConfig, DPOTrainer

        # LoRA: the reference is the adapter-disabled policy (TRL does this when ref_model
        # is None). Full: an explicit copy loaded from the same *saved* path, never a
        # rebuild from config._name_or_path.
        ref = None if cfg.lora else AutoModelForCausalLM.from_pretrained(base_ckpt, dtype=dtype)
        losses = [cfg.loss_type] if isinstance(cfg.loss_type, str) else list(cfg.loss_type)
        trl_cfg = DPOConfig(beta=cfg.beta, loss_type=losses, loss_weights=cfg.loss_weights, **args)
        trainer_cls, extra = DPOTrainer, {"ref_model": ref}
    trainer = trainer_cls(model=model, args=trl_cfg, train_dataset=to_dataset(records), processing_class=tokenizer,
                          peft_config=lora_cfg, **extra)
    return trainer, tokenizer, base_ckpt, out, notes


def train(cfg: TrainConfig) -> RunResult:
    """Run one stage to completion (or continue it with cfg.resume) and write the run folder."""
    from bimo.train.plots import save_curves

    trainer, tokenizer, base_ckpt, out, notes = build_trainer(cfg)
    resume_from = _last_checkpoint(out) if cfg.resume else None
    if cfg.resume and resume_from is None and (out / "model").exists():
        raise BimoError(f"{out} is already finished; nothing to resume")
    if trainer.is_world_process_zero():
        _write_run(out, cfg, base_ckpt, finished=False, **notes)

    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    elapsed = time.perf_counter() - start

    model_dir = out / "model"
    trainer.save_model(str(model_dir))  # collective under DeepSpeed/FSDP: every process calls it
    history = list(trainer.state.log_history)
    metrics = dict(result.metrics)
    metrics["wall_s"] = round(elapsed, 3)
    metrics["resumed_from"] = resume_from
    num_tokens = [h["num_tokens"] for h in history if "num_tokens" in h]
    if num_tokens:
        metrics["num_tokens"] = num_tokens[-1]
    plots: list[Path] = []
    # Under `accelerate launch` every process runs this; only one writes the run's files.
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(model_dir))
        atomic_write_jsonl(out / "log_history.jsonl", history)
        plots = save_curves(history, out)
        _write_run(out, cfg, base_ckpt, finished=True, metrics=metrics, **notes)
    return RunResult(run_dir=out, model_dir=model_dir, metrics=metrics, history=history, plots=plots)
