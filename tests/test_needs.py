"""Tests that need a missing extra or browser are reported, never silently dropped: skipped with
the reason on a developer's machine, failed under CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """This suite's conftest and needs.py, with a train folder whose extra is missing and a browser test."""
    root = tmp_path / "tests"
    (root / "train").mkdir(parents=True)
    shutil.copy(HERE / "needs.py", root / "needs.py")
    conftest = (HERE / "conftest.py").read_text()
    assert '("trl", "bimo[train]")' in conftest
    (root / "conftest.py").write_text(conftest.replace('("trl", "bimo[train]")', '("no_such_extra_xyz", "bimo[train]")'))
    (root / "train" / "test_stage.py").write_text("import no_such_extra_xyz\n\ndef test_x():\n    pass\n")
    (root / "test_page.py").write_text("from needs import unavailable\n\n"
                                       "def test_page():\n    unavailable('/usr/bin/chromium not found')\n")
    return root


def run(root: Path, ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors", str(root)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_missing_extra_is_a_reported_skip_locally_and_a_failure_in_ci(suite: Path):
    local = run(suite, "")
    assert local.returncode == 0, local.stdout
    assert "2 skipped" in local.stdout
    assert "no_such_extra_xyz is not installed: pip install 'bimo[train]'" in local.stdout
    assert "/usr/bin/chromium not found" in local.stdout

    ci = run(suite, "true")
    assert ci.returncode != 0
    assert "1 failed" in ci.stdout and "1 error" in ci.stdout, ci.stdout
    assert "CI=true" in ci.stdout and "no_such_extra_xyz is not installed" in ci.stdout
