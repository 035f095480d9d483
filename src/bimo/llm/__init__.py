"""LLM backends behind one interface, chosen by a model URI.

    local:NAME          a registry model run in-process by llama.cpp (default: local:default)
    gguf:PATH           any GGUF file, in-process
    openai:URL[#MODEL]  any OpenAI-compatible server (vLLM, llama.cpp, Ollama, bimo serve)
    hf:PATH             a transformers checkpoint (needs the [train] extra)

`BIMO_MODEL` sets the default URI. Plugins may add schemes through the
`bimo.backends` entry-point group: a callable taking the text after the colon.
"""

from __future__ import annotations

import os
from pathlib import Path

from bimo.errors import BimoError
from bimo.llm.base import Backend, Completion, GenParams, Stream, parse_json
from bimo.llm.uri import SCHEMES, ModelURI

__all__ = ["Backend", "Completion", "GenParams", "Stream", "get_backend", "parse_json", "default_uri", "SCHEMES",
           "ModelURI"]


def default_uri() -> str:
    return os.environ.get("BIMO_MODEL") or "local:default"


def get_backend(uri: str | None = None, *, n_ctx: int | None = None, parallel: int | None = None,
                threads: int | None = None) -> Backend:
    """Open the backend a model URI names. One-line errors for anything wrong."""
    uri = (uri or default_uri()).strip()
    parsed = ModelURI.parse(uri)
    scheme, rest = parsed.scheme, parsed.path
    if scheme in ("local", "gguf"):
        from bimo.llm import registry
        from bimo.llm.local import LocalBackend

        if scheme == "local":
            path, default_ctx = registry.resolve_path(rest), min(registry.get_entry(rest).n_ctx_train, 16384)
        else:
            path, default_ctx = Path(rest).expanduser(), 8192
            if not path.exists():
                raise BimoError(f"no GGUF file at {path}")
        ctx = n_ctx or int(os.environ.get("BIMO_N_CTX", 0)) or default_ctx
        return LocalBackend(path, uri=uri, n_ctx=ctx, parallel=parallel or 4, threads=threads)
    if scheme == "openai":
        from bimo.llm.openai_backend import OpenAIBackend

        url, _, model = rest.partition("#")
        return OpenAIBackend(url, model or os.environ.get("BIMO_OPENAI_MODEL") or None,
                             parallel=parallel or 8, n_ctx=n_ctx)
    if scheme == "hf":
        from bimo.llm.hf import HFBackend

        return HFBackend(Path(rest).expanduser(), uri=uri, threads=threads)
    return parsed.plugin().load()(rest)
