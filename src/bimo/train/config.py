"""Training configuration: one pydantic model, filled from YAML, then CLI overrides.

A config file may be flat (keys of `TrainConfig`) or a recipe with a top-level `train:`
section; inside it, common keys apply to every stage and a `sft:` / `dpo:` / `pretrain:`
sub-section overrides them for that stage only. So one recipe describes a whole
Weaver-style run (pretrain -> SFT -> DPO) and each `bimo train STAGE --config` picks its part.
Precedence: defaults < file common < file stage section < `--set key=value` < explicit flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bimo.errors import BimoError, validation_line
from bimo.io import read_yaml_mapping

Stage = Literal["sft", "dpo", "pretrain"]
STAGES: tuple[str, ...] = ("sft", "dpo", "pretrain")


class TrainConfig(BaseModel):
    """Everything one training stage needs; unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid")

    stage: Stage = "sft"
    data: Path | None = None
    base: str | None = None
    output_dir: Path | None = None

    # Adapter or full fine-tuning.
    lora: bool = False
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    # "all-linear" (PEFT's shorthand) or explicit module names such as [q_proj, v_proj].
    lora_target_modules: list[str] | str = "all-linear"

    # Optimisation.
    learning_rate: float | None = Field(None, gt=0)  # None: 2e-5 full / 2e-4 LoRA for SFT, 5e-7 / 5e-6 for DPO
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(2048, ge=16)
    # SFT records longer than max_length lose the end of their answer, which for long-output
    # data is the point: refuse them unless truncation is asked for.
    allow_truncation: bool = False
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    lr_scheduler: str = "linear"
    weight_decay: float = Field(0.0, ge=0.0)
    seed: int = 42
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    gradient_checkpointing: bool = False

    # Bookkeeping.
    logging_steps: int = Field(1, ge=1)
    save_steps: int = Field(500, ge=1)
    save_total_limit: int | None = 2
    resume: bool = False

    # SFT / pretrain. TRL's best-fit packing runs padding-free: the whole batch becomes one
    # sequence with a block-diagonal mask. That is fast with FlashAttention on GPUs but
    # quadratic in batch x length on CPU (fewer tokens/s than no packing, docs/train.md), so
    # "auto" packs on GPUs only, except pretraining, which packs "wrapped" rows on CPU.
    packing: bool | Literal["auto"] = "auto"
    packing_strategy: Literal["auto", "bfd", "bfd_split", "wrapped"] = "auto"
    assistant_only_loss: bool = True

    # DPO (Weaver's Constitutional DPO: beta 0.1, lr 5e-7).
    beta: float = Field(0.1, gt=0)
    # One TRL DPO loss or several mixed, e.g. [sigmoid, sft] with loss_weights [1.0, 0.5]
    # (an SFT term on the chosen answers, close to Ziya's SFT-like alignment on ranked pairs).
    loss_type: str | list[str] = "sigmoid"
    loss_weights: list[float] | None = None

    # Passed verbatim to the TRL config (e.g. deepspeed, fsdp, report_to, optim) for GPU users.
    trl_args: dict[str, Any] = Field(default_factory=dict)

    def resolved_packing(self, gpu: bool) -> tuple[bool, str]:
        """(pack?, TRL packing_strategy) for this stage on this hardware."""
        pack = (gpu or self.stage == "pretrain") if self.packing == "auto" else bool(self.packing)
        strategy = self.packing_strategy
        if strategy == "auto":
            # Pretraining text may be longer than max_length: split it rather than drop the rest.
            strategy = ("bfd_split" if gpu else "wrapped") if self.stage == "pretrain" else "bfd"
        return pack, strategy

    def resolved_lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        if self.stage == "dpo":
            return 5e-6 if self.lora else 5e-7
        return 2e-4 if self.lora else 2e-5


def _stage_view(data: dict[str, Any], stage: str) -> dict[str, Any]:
    """Common keys of the (train) section with the stage's sub-section laid over them."""
    section = data.get("train", data)
    if not isinstance(section, dict):
        raise BimoError("config: `train:` must be a mapping")
    merged = {k: v for k, v in section.items() if k not in STAGES}
    stage_part = section.get(stage) or {}
    if not isinstance(stage_part, dict):
        raise BimoError(f"config: `{stage}:` must be a mapping")
    merged.update(stage_part)
    return merged


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` strings; values are read as YAML so `lora=true`, `lr=1e-4`, `[q_proj,v_proj]` work."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BimoError(f"--set expects key=value, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def load_config(stage: str, file: Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config for `stage` from a config file (flat or a recipe); a one-line BimoError naming the bad key."""
    data = read_yaml_mapping(file, kind="config file", shape="expected a mapping at the top level") if file else {}
    return build_config(stage, data, overrides)


def build_config(stage: str, data: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config for `stage` from a mapping already read (a config file's, or a recipe's `train:` section)."""
    values = _stage_view(data, stage)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    values["stage"] = stage
    try:
        return TrainConfig(**values)
    except ValidationError as exc:
        raise BimoError(validation_line(exc, "bad training config")) from None
