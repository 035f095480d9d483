"""Prompt templates kept as YAML data files shipped in the package, filled by one rule.

`{name}` placeholders (lowercase letters, digits, `_`) are filled from the values given,
in one pass: a value is never re-scanned, so inserted text containing `{` — JSON examples,
the user's own writing — stays as it is. A placeholder without a value, or with None,
becomes empty (templates may have optional parts such as `{sample}`); any other brace
text is left alone. `fill` keeps the template's own whitespace; `render` also trims the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from bimo.errors import BimoError
from bimo.io import parse_yaml

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Fill `{name}` placeholders by the module's rule."""
    return _PLACEHOLDER.sub(lambda m: "" if values.get(m.group(1)) is None else str(values[m.group(1)]), template)


def render(template: str, /, **values: Any) -> str:
    """`fill`, then trim the result: a chat message from a YAML block."""
    return fill(template, values).strip()


@cache
def load_package_yaml(package: str, name: str) -> Any:
    """A YAML file shipped inside a bimo package, e.g. ('bimo.write.templates', 'polish.yaml')."""
    try:
        text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BimoError(f"missing template {package}/{name}") from None
    return parse_yaml(text, f"{package}/{name}")


def list_package_yaml(package: str) -> list[str]:
    return sorted(p.name for p in resources.files(package).iterdir() if p.name.endswith(".yaml"))
