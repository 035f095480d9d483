"""Shared, session-cached fixtures: a tiny random Llama and toy data, built offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Small everywhere: these settings keep one training run to a few seconds on 2 cores.
FAST = {"max_length": 128, "batch_size": 4, "logging_steps": 1}


@pytest.fixture(scope="session")
def _home_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bimo_home")


@pytest.fixture
def bimo_home(_home_dir, monkeypatch):
    """A private BIMO_HOME (models, converted checkpoints) for one test; other suites keep theirs."""
    monkeypatch.setenv("BIMO_HOME", str(_home_dir))
    return _home_dir


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    from bimo.train.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory):
    from bimo.train.tiny import write_toy_data

    return write_toy_data(tmp_path_factory.mktemp("data"))


def _run_stage(stage: str, **values):
    from bimo.train.config import load_config
    from bimo.train.run import train

    return train(load_config(stage, overrides={**FAST, **values}))


@pytest.fixture(scope="session")
def run_stage():
    """Run one stage with small, fast settings: run_stage("sft", data=..., base=..., output_dir=...)."""
    return _run_stage


@pytest.fixture(scope="session")
def sft_run(tmp_path_factory, tiny_base, toy_data):
    out = tmp_path_factory.mktemp("runs") / "sft"
    return _run_stage("sft", data=toy_data["sft"], base=str(tiny_base), output_dir=out, max_steps=4,
                     learning_rate=1e-3)


@pytest.fixture(scope="session")
def dpo_run(tmp_path_factory, sft_run, toy_data):
    out = tmp_path_factory.mktemp("runs") / "dpo"
    return _run_stage("dpo", data=toy_data["dpo"], base=str(sft_run.run_dir), output_dir=out, max_steps=6,
                     lora=True, learning_rate=2e-3)
