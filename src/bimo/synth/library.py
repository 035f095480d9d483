"""The principles library: data files, one YAML per domain, Chinese and English.

Each principle has a short statement, an example that follows it, one that violates it,
and why. Constitutional DPO asks which principle a good response exemplifies and then
breaks exactly that one, so a preference pair teaches one thing at a time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from bimo.errors import BimoError
from bimo.io import read_yaml
from bimo.templates import list_package_yaml, load_package_yaml

PACKAGE = "bimo.synth.principles"


class Principle(BaseModel):
    id: str
    lang: str = Field(pattern="^(zh|en)$")
    domain: str = "any"
    tasks: list[str] = Field(default_factory=lambda: ["any"])
    statement: str
    follows: str
    violates: str
    why: str
    #: the principle is about length (so a negative may change the length beyond the usual bound)
    length: bool = False

    def applies(self, task: str | None, domain: str | None) -> bool:
        task_ok = not task or "any" in self.tasks or task in self.tasks
        domain_ok = not domain or self.domain in ("any", domain)
        return task_ok and domain_ok


def load_principles(directory: str | Path | None = None) -> list[Principle]:
    """All principles from the package, or from every *.yaml in `directory`."""
    if directory is None:
        files = [(n, load_package_yaml(PACKAGE, n)) for n in list_package_yaml(PACKAGE)]
    else:
        d = Path(directory)
        if not d.is_dir():
            raise BimoError(f"principles folder not found: {d}")
        files = [(p.name, read_yaml(p)) for p in sorted(d.glob("*.yaml"))]
    out = [p for name, data in files for p in _parse(name, data)]
    if not out:
        raise BimoError(f"no principles found in {directory or PACKAGE}")
    ids = [p.id for p in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise BimoError(f"duplicate principle ids: {', '.join(sorted(dup))}")
    return out


def _parse(name: str, data: Any) -> list[Principle]:
    if not isinstance(data, dict) or not isinstance(data.get("principles"), list):
        raise BimoError(f"{name}: expected a mapping with a 'principles' list")
    domain = str(data.get("domain") or "any")
    out = []
    for i, item in enumerate(data["principles"]):
        try:
            out.append(Principle(**{"domain": domain, **item}))
        except (ValidationError, TypeError) as exc:
            raise BimoError(f"{name}: principle #{i + 1} is invalid: {str(exc).splitlines()[0]}") from None
    return out


def candidates(principles: list[Principle], lang: str, task: str | None, domain: str | None,
               limit: int = 16, key: str = "") -> list[Principle]:
    """Up to `limit` principles in the record's language that fit its task and domain: about
    three quarters that name the task, the rest general ones, each group in a stable order
    per `key` (the record id), so a run spreads over the whole library, not its first file."""
    fit = [p for p in principles if p.lang == lang and p.applies(task, domain)]
    if not fit:
        fit = [p for p in principles if p.lang == lang and p.applies(None, domain)] or \
              [p for p in principles if p.lang == lang]

    def order(ps: list[Principle]) -> list[Principle]:
        return sorted(ps, key=lambda p: hashlib.sha1(f"{key}:{p.id}".encode()).hexdigest())
    named = order([p for p in fit if task and task in p.tasks])
    other = order([p for p in fit if p not in named])
    take = min(len(named), max(limit - len(other), -(-3 * limit // 4)))
    return named[:take] + other[: limit - take]
