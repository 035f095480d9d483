"""`pip install bimo` without extras: every import is covered, every command answers.

The test venv has every extra, so a module that only an extra (or an extra's own
dependency, like click) brings would go unnoticed. These tests compute what the base
dependencies in pyproject.toml bring (transitively, from the installed metadata) and
(1) check every third-party import in src/bimo against it and bimo.extras, (2) run the
real CLI in a subprocess where every other installed module is blocked. `.ci/smoke-base.sh`
does the same in a real base-only venv.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bimo.extras import EXTRA_MODULES, MODULE_EXTRA

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "bimo"


@cache
def _base_distributions() -> frozenset[str]:
    """Canonical names of the base dependencies and everything they require, as installed."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in metadata.requires(req.name) or []]
        except metadata.PackageNotFoundError:
            pass
    return frozenset(seen)


@cache
def _modules_by_distribution() -> dict[str, set[str]]:
    """Installed top-level module -> canonical names of the distributions providing it."""
    return {mod: {canonicalize_name(d) for d in dists} for mod, dists in metadata.packages_distributions().items()}


def _base_modules() -> set[str]:
    base = _base_distributions()
    return {mod for mod, dists in _modules_by_distribution().items() if dists & base}


def _blocked_modules() -> set[str]:
    """Installed here, but not brought by the base dependencies."""
    base = _base_modules()
    return {m for m in _modules_by_distribution() if m not in base and m != "bimo" and not m.startswith("_")}


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> files of src/bimo that import it (stdlib and bimo left out)."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "bimo":
                    found.setdefault(top, set()).add(str(path.relative_to(SRC)))
    return found


def test_every_import_is_a_base_dependency_or_named_by_an_extra():
    base = _base_modules()
    imports = _third_party_imports()
    assert "typer" in imports and "typer" in base  # the scan and the closure both work
    stray = {m: sorted(files) for m, files in imports.items() if m not in base and m not in MODULE_EXTRA}
    assert not stray, f"imported, but neither a base dependency nor in bimo.extras.EXTRA_MODULES: {stray}"
    # and each module an extra is said to bring comes with that extra here
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    by_module = _modules_by_distribution()
    for extra, modules in EXTRA_MODULES.items():
        dists = {canonicalize_name(Requirement(r).name) for r in extras[extra]}
        for module in modules:
            closure_hit = by_module.get(module, set())
            assert module not in base, f"{module} is a base dependency, not only the '{extra}' extra's"
            assert closure_hit, f"{module} ({extra}) is not installed in the test venv"
            assert closure_hit & dists or module == "starlette", (module, extra, closure_hit)


def _probe(argvs: list[list[str]], env: dict[str, str] | None = None) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "base_probe.py"), json.dumps(sorted(_blocked_modules()))],
        input=json.dumps(argvs), capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _command_paths() -> list[list[str]]:
    import typer.main

    from bimo.cli import app

    paths: list[list[str]] = []

    def walk(cmd, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            paths.append(path)
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            paths.append(path)

    walk(typer.main.get_command(app), [])
    return paths


def test_blocked_modules_include_what_only_extras_bring():
    blocked = _blocked_modules()
    # click comes with uvicorn and ray here, never with the base install
    assert {"fastapi", "torch", "matplotlib", "click"} <= blocked
    assert not blocked & {"typer", "rich", "pydantic", "xllamacpp", "yaml", "numpy"}


def test_every_command_help_and_version_without_extras(tmp_path):
    paths = _command_paths()
    assert len(paths) > 30 and ["serve"] in paths and ["train", "sft"] in paths
    results = _probe([["--version"], *[[*p, "--help"] for p in paths]], env={"BIMO_HOME": str(tmp_path)})
    assert results[0]["code"] == 0 and results[0]["stdout"].strip() == "0.1.0"
    bad = [(r["argv"], r["code"], r["stderr"][-300:]) for r in results if r["code"] != 0]
    assert not bad
    assert all("Usage:" in r["stdout"] for r in results[1:])


@pytest.mark.parametrize("argv, extra", [
    (["serve", "-m", "local:tiny"], "serve"),
    (["train", "sft", "data.jsonl"], "train"),
    (["train", "dpo", "data.jsonl"], "train"),
    (["train", "pretrain", "data.jsonl"], "train"),
    (["train", "export", "run", "-n", "x"], "train"),
    (["train", "launch", "multi-gpu", "--", "sft", "data.jsonl"], "train"),
    (["synth", "rag", "data.jsonl", "-o", "out.jsonl", "--refs", "refs.jsonl"], "synth"),
    (["synth", "tools", "data.jsonl", "-o", "out.jsonl", "--refs", "refs.jsonl"], "synth"),
    (["eval", "report", "."], "plots"),
])
def test_extra_only_command_says_which_extra_in_one_line(tmp_path, argv, extra):
    (tmp_path / "pred.jsonl").write_text('{"id": "a", "prompt": "p", "text": "t", "model": "m"}\n')
    argv = [str(tmp_path) if a == "." else a for a in argv]
    [r] = _probe([argv], env={"BIMO_HOME": str(tmp_path)})
    assert r["code"] == 2, r
    lines = r["stderr"].splitlines()
    assert len(lines) == 1 and f"pip install 'bimo[{extra}]'" in lines[0], r["stderr"]
    assert "Traceback" not in r["stderr"]


def test_missing_extra_module_deep_in_a_command_is_one_line(monkeypatch, capsys):
    """A path without its own check still ends in the extra's one line, not 'internal error'."""
    from bimo.cliutil import run_app
    from bimo.extras import from_import_error

    exc = ModuleNotFoundError("No module named 'matplotlib.pyplot'", name="matplotlib.pyplot")
    assert "pip install 'bimo[plots]'" in str(from_import_error(exc))
    assert from_import_error(ModuleNotFoundError("x", name="nosuchmodule")) is None

    import typer

    app = typer.Typer()

    @app.command()
    def boom() -> None:
        import matplotlib_blocked_for_test  # noqa: F401

    monkeypatch.setitem(MODULE_EXTRA, "matplotlib_blocked_for_test", "plots")
    monkeypatch.setattr(sys, "argv", ["bimo"])
    with pytest.raises(SystemExit) as info:
        run_app(app)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'bimo[plots]'" in err, err
