"""Run bimo commands as a base install would, in this process: every module that the base
dependencies do not bring is blocked by a meta-path finder, however much the test venv has.

Usage: python base_probe.py BLOCKED_JSON  (a JSON list of top-level module names); reads
a JSON list of argv lists on stdin and prints one JSON result per argv: exit code, stdout
and stderr. The first argv of the list is run after the blocker is in place, like the rest.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import json
import sys


class Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, blocked: set[str]):
        self.blocked = blocked

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in self.blocked:
            raise ModuleNotFoundError(f"No module named '{top}' (blocked: not a base dependency)", name=top)
        return None


def run(argv: list[str]) -> dict:
    from bimo.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    sys.argv = ["bimo", *argv]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    return {"argv": argv, "code": code if isinstance(code, int) else 1, "stdout": out.getvalue(),
            "stderr": err.getvalue()}


if __name__ == "__main__":
    sys.meta_path.insert(0, Blocker(set(json.loads(sys.argv[1]))))
    for argv in json.load(sys.stdin):
        print(json.dumps(run(argv)), flush=True)
