"""Shared fixtures: the tiny registry model, pulled once through the real registry.

Models are cached in the normal bimo home (BIMO_HOME or the user cache dir), so test
runs after the first reuse them; the request cache is private to each test session.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from needs import IN_CI, ci_message

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

#: test folders that import an optional extra at module level: (module, pip requirement)
EXTRAS = {"train": ("trl", "bimo[train]"), "pipeline": ("trl", "bimo[train]")}


class MissingExtra(pytest.File):
    """Stands in for a test module whose extra is not installed: one skip with the reason (an error in CI)."""

    reason: str = ""

    def collect(self):
        if IN_CI:
            raise self.CollectError(ci_message(self.reason))
        raise pytest.skip.Exception(self.reason, allow_module_level=True)


def pytest_pycollect_makemodule(module_path: Path, parent):
    folder = Path(module_path).resolve().parent
    need = EXTRAS.get(folder.name) if folder.parent == HERE else None
    if need and importlib.util.find_spec(need[0]) is None:
        item = MissingExtra.from_parent(parent, path=Path(module_path))
        item.reason = f"{need[0]} is not installed: pip install '{need[1]}'"
        return item
    return None


@pytest.fixture(scope="session", autouse=True)
def _private_request_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["BIMO_CACHE"] = str(tmp_path_factory.mktemp("cache") / "requests.sqlite")
    os.environ.setdefault("BIMO_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    from bimo.llm import registry

    return registry.pull("tiny", progress=False)


@pytest.fixture(scope="session")
def tiny_backend(tiny_path: Path):
    from bimo.llm import get_backend

    backend = get_backend("local:tiny", n_ctx=4096, parallel=4)
    yield backend
    backend.close()


@pytest.fixture
def bimo_cli():
    """Run the real `bimo` console entry in a subprocess; returns CompletedProcess."""
    import subprocess

    def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 300):
        cmd = [sys.executable, "-m", "bimo.cli", *args]
        return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                              env={**os.environ, **(env or {})})

    return run
