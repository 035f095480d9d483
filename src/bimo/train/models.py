"""Turn a `--base` spec into a trainable Hugging Face checkpoint directory on disk.

A spec is one of:
  * a bimo run directory (has `bimo_run.json`): its final model; a LoRA run is merged into
    its base once and the merge is kept in `RUN/merged`;
  * an HF checkpoint directory (has `config.json`);
  * a `.gguf` file, or a registry name (`small`, `local:NAME`): converted with
    transformers' GGUF loader (weights dequantized to fp32) and cached under
    `bimo.paths.home()/checkpoints`, keyed by the file's path, size and mtime.
Always returning a *saved path* matters for DPO: TRL rebuilds a missing reference model
from `config._name_or_path`, so an in-memory model whose config points at its own base
would silently get the wrong reference.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.llm.uri import ModelURI
from bimo.paths import home

RUN_FILE = "bimo_run.json"


def read_run(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        raise BimoError(f"not a bimo training run (no {RUN_FILE}): {run_dir}")
    return json.loads(path.read_text(encoding="utf-8"))


def is_run_dir(path: Path) -> bool:
    return (path / RUN_FILE).exists()


def resolve_base(spec: str) -> Path:
    """A local HF checkpoint directory for `spec` (converting or merging as needed)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if is_run_dir(path):
            return run_checkpoint(path)
        if (path / "config.json").exists():
            return path
        raise BimoError(f"{path} is neither a bimo run nor an HF checkpoint (no config.json)")
    if path.suffix == ".gguf":
        if not path.exists():
            raise BimoError(f"GGUF file not found: {path}")
        return gguf_to_checkpoint(path)
    uri = ModelURI.known(spec)
    if uri is not None and uri.scheme in ("hf", "gguf"):
        return resolve_base(uri.path)
    name = uri.path if uri is not None and uri.scheme == "local" else spec
    if "/" in name or "\\" in name:
        raise BimoError(f"base model not found: {spec} (give a registry name, a .gguf file or an HF checkpoint folder)")
    try:
        from bimo.llm.registry import resolve_path
    except ImportError:
        raise BimoError(f"base model {spec!r}: the model registry is not available") from None
    return gguf_to_checkpoint(Path(resolve_path(name)))


def run_checkpoint(run_dir: Path) -> Path:
    """Full-weight checkpoint of a finished run; LoRA adapters are merged once and cached."""
    info = read_run(run_dir)
    model_dir = run_dir / "model"
    if not (model_dir.exists() and info.get("finished")):
        raise BimoError(f"run {run_dir} has not finished (no final model); resume it with --resume first")
    if not info.get("lora"):
        return model_dir
    merged = run_dir / "merged"
    if (merged / "config.json").exists():
        return merged
    return merge_lora(Path(info["base_checkpoint"]), model_dir, merged)


def merge_lora(base_dir: Path, adapter_dir: Path, out_dir: Path) -> Path:
    """Base + adapter -> plain checkpoint (written atomically via a temp folder)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Keep the base's own dtype (bf16 for most HF checkpoints): an fp32 merge of a 7B model
    # would write 28 GB for nothing.
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto")
    model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    tok = AutoTokenizer.from_pretrained(adapter_dir)
    tmp = _tmp_dir(out_dir)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return _publish(tmp, out_dir)


def _tmp_dir(out: Path) -> Path:
    # Per-process name: several processes (accelerate launch) may convert the same base at once.
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def _publish(tmp: Path, out: Path) -> Path:
    """Rename a finished folder into place; if another process won the race, keep its copy."""
    try:
        tmp.rename(out)
    except OSError:
        if not (out / "config.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _cache_key(gguf: Path) -> str:
    st = gguf.stat()
    raw = f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return f"{gguf.stem}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


def gguf_to_checkpoint(gguf: Path) -> Path:
    """Dequantize a GGUF into a cached fp32 HF checkpoint (done once per file version)."""
    out = home() / "checkpoints" / _cache_key(gguf)
    if (out / "config.json").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:  # transformers raises many types for unsupported GGUFs
        raise BimoError(f"cannot convert {gguf.name} to a trainable checkpoint: {exc}") from None
    # The loaded model remembers it came from a quantized GGUF; save_pretrained would
    # refuse (or write a quantization_config nobody can load), so forget that first.
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config._name_or_path = str(out)
    tmp = _tmp_dir(out)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "bimo_source.json").write_text(json.dumps({"gguf": str(gguf.resolve())}), encoding="utf-8")
    return _publish(tmp, out)
