"""Prompt templates kept as YAML data files, rendered by one function.

`{name}` placeholders are filled from keyword arguments; anything else in braces —
JSON examples, the user's own text — is left untouched, so inputs containing `{`
can never break rendering. Unknown placeholders render as empty strings.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bimo.errors import BimoError

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def render(template: str, **values: Any) -> str:
    """Fill `{name}` placeholders in one pass (values are not re-scanned)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "") or ""), template).strip()


@cache
def load_package_yaml(package: str, name: str) -> dict[str, Any]:
    """A YAML file shipped inside a bimo package, e.g. ('bimo.write.templates', 'polish.yaml')."""
    try:
        text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BimoError(f"missing template {package}/{name}") from None
    return yaml.safe_load(text)


def list_package_yaml(package: str) -> list[str]:
    return sorted(p.name for p in resources.files(package).iterdir() if p.name.endswith(".yaml"))


def load_yaml_file(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise BimoError(f"file not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BimoError(f"{path} is not valid UTF-8") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        pos = f" (line {where.line + 1})" if where else ""
        raise BimoError(f"{path} is not valid YAML{pos}") from None
