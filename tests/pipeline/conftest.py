"""Fixtures for pipeline runs: a private BIMO_HOME holding the tiny registry model, a tiny
random Llama as the training base, and toy SFT/preference data (helpers: pipeline_util.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def pipeline_home(tmp_path_factory, tiny_path) -> Path:
    """A BIMO_HOME of its own (exported models are registered there), with the tiny GGUF linked in."""
    home = tmp_path_factory.mktemp("pipeline_home")
    (home / "models").mkdir()
    (home / "models" / tiny_path.name).symlink_to(tiny_path)
    return home


@pytest.fixture
def home_env(pipeline_home, monkeypatch) -> dict[str, str]:
    """Point this test (and the `bimo` subprocesses it starts) at the private home."""
    env = {"BIMO_HOME": str(pipeline_home), "BIMO_N_CTX": "4096", "HF_HUB_OFFLINE": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    from bimo.train.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("pipeline_base") / "base")


@pytest.fixture(scope="session")
def toy(tmp_path_factory) -> dict[str, Path]:
    from bimo.train.tiny import write_toy_data

    return write_toy_data(tmp_path_factory.mktemp("pipeline_data"))
