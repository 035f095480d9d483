"""Servers for the serve tests: real processes on loopback only, never another address."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_util import HERE, REPO, bimo_serve_process, free_port, stop, wait_ready  # noqa: F401  (re-exported)

PAIRS = [
    {"prompt": "写一句关于秋天的诗。", "model_a": "model-x", "model_b": "model-y",
     "response_a": "秋风起兮白云飞。", "response_b": "秋天来了，叶子黄了。"},
    {"prompt": "Write a one-line slogan for a library.", "model_a": "model-x", "model_b": "model-y",
     "response_a": "Read more, wonder more.", "response_b": "Books are here."},
]


@pytest.fixture(scope="session")
def tiny_server(tiny_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`bimo serve --model local:tiny` as a real process, with a small arena pairs file."""
    data = tmp_path_factory.mktemp("serve")
    pairs = data / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PAIRS), encoding="utf-8")
    with bimo_serve_process("--model", "local:tiny", "--data-dir", str(data / "d"), "--arena-pairs", str(pairs),
                            env={"BIMO_N_CTX": "2048"}) as base:
        yield base


@pytest.fixture
def artifacts() -> Path:
    """Screenshots land in artifacts/serve (git-ignored) so CI can keep them."""
    path = REPO / "artifacts" / "serve"
    path.mkdir(parents=True, exist_ok=True)
    return path
