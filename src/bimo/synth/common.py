"""Bits every synthesis step shares: prompt loading, language choice, JSON schemas."""

from __future__ import annotations

from typing import Any

from bimo.templates import load_package_yaml
from bimo.text import detect_lang

PROMPTS = "bimo.synth.prompts"


def lang_of(text: str) -> str:
    """'zh' or 'en': the template language for a text (anything else gets English)."""
    return "zh" if detect_lang(text) == "zh" else "en"


def prompts(name: str, lang: str) -> dict[str, Any]:
    """The `lang` section of `prompts/NAME.yaml`."""
    data = load_package_yaml(PROMPTS, f"{name}.yaml")
    return data.get(lang) or data["en"]


def object_schema(**props: dict[str, Any]) -> dict[str, Any]:
    """A strict JSON object schema: every property required, nothing else allowed."""
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


STR: dict[str, Any] = {"type": "string"}
#: a reasoning field: asked for in a sentence or three, capped so a rambling model cannot
#: spend the whole token budget before the fields that matter
REASONING: dict[str, Any] = {"type": "string", "maxLength": 400}
