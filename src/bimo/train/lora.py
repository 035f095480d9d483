"""LoRA settings -> PEFT config, checked against the real module names of the model.

PEFT's own error for a wrong `target_modules` name comes late and reads poorly; checking
first gives a one-line BimoError listing the names that do exist.
"""

from __future__ import annotations

from typing import Any

from bimo.errors import BimoError
from bimo.train.config import TrainConfig


def linear_module_names(model: Any) -> list[str]:
    """Leaf names of the model's Linear layers, without the output head (never a LoRA target)."""
    import torch

    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    names.discard("lm_head")
    return sorted(names)


def peft_config(cfg: TrainConfig, model: Any):
    from peft import LoraConfig

    targets = cfg.lora_target_modules
    if isinstance(targets, str) and targets != "all-linear":
        targets = [targets]
    if isinstance(targets, list):
        have = set(linear_module_names(model))
        missing = [t for t in targets if t not in have]
        if missing:
            raise BimoError(
                f"LoRA target module(s) {', '.join(missing)} not in this model; "
                f"its linear layers are: {', '.join(sorted(have))} (or use all-linear)"
            )
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
