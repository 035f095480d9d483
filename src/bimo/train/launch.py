"""Multi-GPU / DeepSpeed / FSDP launch through `accelerate launch`.

bimo adds no launcher of its own: `bimo train launch CONFIG -- sft DATA ...` only builds
(and by default runs) `accelerate launch --config_file CONFIG -m bimo.train sft DATA ...`,
so every process runs the same `bimo train` command and TRL/accelerate do the rest.
Shipped configs live in `recipes/accelerate/` and can be named without path or suffix.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bimo.errors import BimoError

SHIPPED = ("multi-gpu", "deepspeed-zero2", "deepspeed-zero3", "fsdp", "cpu-ddp")


def recipes_dir() -> Path:
    """recipes/accelerate of the source checkout (or ./recipes/accelerate when run elsewhere)."""
    for root in (Path(__file__).resolve().parents[3], Path.cwd()):
        d = root / "recipes" / "accelerate"
        if d.is_dir():
            return d
    return Path.cwd() / "recipes" / "accelerate"


def find_config(name_or_path: str) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    cand = recipes_dir() / f"{name_or_path.removesuffix('.yaml')}.yaml"
    if cand.is_file():
        return cand
    raise BimoError(f"accelerate config not found: {name_or_path} (shipped: {', '.join(SHIPPED)})")


def load_accelerate_config(path: Path):
    """Parse with accelerate's own loader, so a config that passes here is one accelerate accepts."""
    from accelerate.commands.config.config_args import load_config_from_file

    try:
        return load_config_from_file(str(path))
    except Exception as exc:  # accelerate raises ValueError/TypeError/yaml errors
        raise BimoError(f"{path}: not a valid accelerate config ({exc})") from None


def accelerate_command(config: str, train_args: list[str], num_processes: int | None = None) -> list[str]:
    """The full `accelerate launch ...` argv for one `bimo train` stage."""
    if not train_args or train_args[0] not in ("sft", "dpo", "pretrain"):
        raise BimoError("launch expects a stage and its arguments, e.g. -- sft data.jsonl --base small -o runs/sft")
    cfg = find_config(config)
    load_accelerate_config(cfg)
    # Prefer the accelerate next to this interpreter (a venv need not be on PATH).
    local = Path(sys.executable).with_name("accelerate")
    exe = str(local) if local.exists() else shutil.which("accelerate")
    cmd = [exe] if exe else [sys.executable, "-m", "accelerate.commands.launch"]
    if exe:
        cmd.append("launch")
    cmd += ["--config_file", str(cfg)]
    if num_processes:
        cmd += ["--num_processes", str(num_processes)]
    return [*cmd, "-m", "bimo.train", *train_args]
