"""Helpers for the pipeline tests: sample data paths, the smallest recipe, a YAML writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BROWN = REPO / "tests" / "curate" / "data" / "brown_sample.jsonl"
BENCH = REPO / "benchmarks" / "prompts" / "bimo_bench.jsonl"


def tiny_recipe(base: Path, toy: dict[str, Path], **changes: Any) -> dict[str, Any]:
    """Every stage, as small as it gets: 1 document, 2 training steps, 2 eval prompts."""
    recipe: dict[str, Any] = {
        "name": "pipe-tiny",
        "base": str(base),
        "curate": {"inputs": [str(BROWN)], "workers": 1,
                   "steps": [{"normalize": {}}, {"langid": {"keep": ["en"]}}, {"length": {}}],
                   "dedup": {"method": "minhash"}},
        "synth": {"model": "local:tiny", "docs": 1, "retries": 0,
                  "backtranslate": {"tasks": ["title"], "score": False, "max_tokens": 96, "max_source_chars": 300},
                  "constitution": {"min_score": 0, "max_tokens": 96},
                  "extra_sft": [str(toy["sft"])], "extra_pairs": [str(toy["dpo"])]},
        # the tiny model's synthesized instructions vary in length across CPUs and thread
        # counts; a record that runs past the toy max_length is cut, not a failed run
        "train": {"max_length": 128, "allow_truncation": True, "batch_size": 4, "save_steps": 1,
                  "sft": {"max_steps": 2, "learning_rate": 1e-3},
                  "dpo": {"max_steps": 2, "lora": True, "learning_rate": 2e-3}},
        "export": {"quant": "q8_0"},
        "eval": {"prompts": str(BENCH), "langs": ["en"], "tasks": ["write"], "limit": 2, "max_tokens": 16,
                 "judge": "local:tiny", "judge_max_tokens": 96, "rounds": 100},
    }
    for key, value in changes.items():
        if value is None:
            recipe.pop(key, None)
        else:
            recipe[key] = value
    return recipe


def write_recipe(path: Path, recipe: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
