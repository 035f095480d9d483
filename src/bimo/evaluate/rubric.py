"""Judge rubrics: prompts from YAML data files, JSON schemas, and strict verdict parsing.

Rubric prompts live in `rubrics/*.yaml` (Chinese and English) so they can be read
and edited without touching code. A verdict that does not match the schema raises
`JudgeParseError` with the reason; callers retry and then record the failure,
they never fill in a default score.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from bimo.errors import BimoError
from bimo.synth.common import object_schema
from bimo.templates import fill, load_package_yaml
from bimo.text import detect_lang

RUBRICS = "bimo.evaluate.rubrics"
POINTWISE = ("writebench", "longbench", "criteria")


class JudgeParseError(ValueError):
    """The judge's output was not a valid verdict; `str(exc)` says why."""


class Dimension(BaseModel):
    key: str
    zh: str
    en: str


class Rubric(BaseModel):
    """A pointwise rubric as loaded from YAML."""

    name: str
    scale: tuple[int, int]
    overall: str
    dimensions: list[Dimension] = []
    prompts: dict[str, dict[str, str]] = {}
    generate: dict[str, dict[str, str]] = {}
    score: dict[str, dict[str, str]] = {}
    n_criteria: int = 5


def load_rubric(name: str) -> Rubric:
    if name not in POINTWISE:
        raise BimoError(f"unknown rubric {name!r}; choose one of: {', '.join(POINTWISE)}")
    return Rubric(**load_package_yaml(RUBRICS, f"{name}.yaml"))


def pick_lang(record: dict[str, Any]) -> str:
    """The prompt language: the record's `lang` if zh/en, else detected from the instruction."""
    lang = record.get("lang")
    if lang in ("zh", "en"):
        return lang
    return "zh" if detect_lang(record.get("prompt", "")) == "zh" else "en"


def input_block(record: dict[str, Any], lang: str) -> str:
    text = record.get("input")
    if not text:
        return ""
    head = "【输入材料】" if lang == "zh" else "[Input]"
    return f"\n{head}\n{text}\n"


def messages(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- pointwise scores --------------------------------------------------------------

def score_schema(rubric: Rubric) -> dict[str, Any]:
    lo, hi = rubric.scale
    return object_schema(**{"reason": {"type": "string"},
                            **{d.key: {"type": "integer", "minimum": lo, "maximum": hi} for d in rubric.dimensions}})


def score_messages(rubric: Rubric, record: dict[str, Any], response: str) -> list[dict[str, str]]:
    lang = pick_lang(record)
    lo, hi = rubric.scale
    tpl = rubric.prompts[lang]
    dims = "\n".join(f"- {d.key}: {getattr(d, lang)}" for d in rubric.dimensions)
    hint = json.dumps({"reason": "...", **{d.key: hi for d in rubric.dimensions}}, ensure_ascii=False)
    values = {"instruction": record.get("prompt", ""), "input_block": input_block(record, lang), "response": response,
              "dimensions": dims, "low": lo, "high": hi, "mid": (lo + hi + 1) // 2, "schema_hint": hint}
    return messages(fill(tpl["system"], values), fill(tpl["user"], values))


def _number(obj: dict[str, Any], key: str, lo: int, hi: int) -> float:
    if key not in obj:
        raise JudgeParseError(f"missing score {key!r}")
    val = obj[key]
    # bool is an int in Python; a judge answering `true` has not given a score
    if isinstance(val, bool) or not isinstance(val, int | float):
        raise JudgeParseError(f"score {key!r} is not a number: {val!r}")
    if not lo <= val <= hi:
        raise JudgeParseError(f"score {key!r} = {val} is outside {lo}-{hi}")
    return float(val)


def parse_json_text(text: str) -> Any:
    from bimo.llm.base import parse_json

    try:
        return parse_json(text)
    except BimoError as exc:
        raise JudgeParseError(str(exc)) from None


def parse_scores(rubric: Rubric, text: str) -> dict[str, Any]:
    """{'scores': {dim: value}, 'overall': float, 'reason': str} or JudgeParseError."""
    obj = parse_json_text(text)
    if not isinstance(obj, dict):
        raise JudgeParseError(f"expected a JSON object, got {type(obj).__name__}")
    lo, hi = rubric.scale
    scores = {d.key: _number(obj, d.key, lo, hi) for d in rubric.dimensions}
    reason = obj.get("reason", "")
    if not isinstance(reason, str):
        raise JudgeParseError("reason is not a string")
    return {"scores": scores, "overall": overall(rubric, scores), "reason": reason}


def overall(rubric: Rubric, scores: dict[str, float]) -> float:
    """The headline number: LongBench's S_q, the mean of criteria, or the judge's overall."""
    if rubric.overall == "s_q":
        return s_q(scores.values())
    if rubric.overall == "mean":
        vals = list(scores.values())
        return sum(vals) / len(vals)
    return scores[rubric.overall]


def s_q(scores) -> float:
    """LongBench-Write quality: each 1-5 score mapped to (s - 1) * 25, then averaged (0-100)."""
    vals = [(s - 1.0) * 25.0 for s in scores]
    return sum(vals) / len(vals)


# --- per-query criteria --------------------------------------------------------------

def criteria_gen_schema(n: int) -> dict[str, Any]:
    item = object_schema(name={"type": "string"}, description={"type": "string"})
    return object_schema(criteria={"type": "array", "items": item, "minItems": n, "maxItems": n})


def criteria_gen_messages(rubric: Rubric, record: dict[str, Any]) -> list[dict[str, str]]:
    lang = pick_lang(record)
    n = rubric.n_criteria
    hint = json.dumps({"criteria": [{"name": "...", "description": "..."}] * 2}, ensure_ascii=False)
    tpl = rubric.generate[lang]
    values = {"instruction": record.get("prompt", ""), "input_block": input_block(record, lang), "n": n, "schema_hint": hint}
    return messages(fill(tpl["system"], values), fill(tpl["user"], values))


def parse_criteria(rubric: Rubric, text: str) -> list[dict[str, str]]:
    obj = parse_json_text(text)
    crit = obj.get("criteria") if isinstance(obj, dict) else None
    if not isinstance(crit, list) or not crit:
        raise JudgeParseError("no 'criteria' list")
    out = []
    for k, c in enumerate(crit):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not isinstance(c.get("description"), str) \
                or not c["name"].strip():
            raise JudgeParseError(f"criterion {k + 1} lacks a name or description")
        out.append({"name": c["name"].strip(), "description": c["description"].strip()})
    if len(out) != rubric.n_criteria:
        raise JudgeParseError(f"expected {rubric.n_criteria} criteria, got {len(out)}")
    return out


def criteria_score_schema(rubric: Rubric, n: int) -> dict[str, Any]:
    lo, hi = rubric.scale
    item = object_schema(reason={"type": "string"}, score={"type": "integer", "minimum": lo, "maximum": hi})
    return object_schema(scores={"type": "array", "items": item, "minItems": n, "maxItems": n})


def criteria_score_messages(rubric: Rubric, record: dict[str, Any], response: str,
                            criteria: list[dict[str, str]]) -> list[dict[str, str]]:
    lang = pick_lang(record)
    lo, hi = rubric.scale
    listing = "\n".join(f"{k + 1}. {c['name']}: {c['description']}" for k, c in enumerate(criteria))
    hint = json.dumps({"scores": [{"reason": "...", "score": hi}] * 2}, ensure_ascii=False)
    tpl = rubric.score[lang]
    values = {"instruction": record.get("prompt", ""), "input_block": input_block(record, lang), "response": response,
              "criteria": listing, "low": lo, "high": hi, "schema_hint": hint}
    return messages(fill(tpl["system"], values), fill(tpl["user"], values))


def parse_criteria_scores(rubric: Rubric, text: str, criteria: list[dict[str, str]]) -> dict[str, Any]:
    obj = parse_json_text(text)
    items = obj.get("scores") if isinstance(obj, dict) else None
    if not isinstance(items, list):
        raise JudgeParseError("no 'scores' list")
    if len(items) != len(criteria):
        raise JudgeParseError(f"expected {len(criteria)} scores, got {len(items)}")
    lo, hi = rubric.scale
    scores, reasons = {}, {}
    for c, item in zip(criteria, items, strict=True):
        if not isinstance(item, dict):
            raise JudgeParseError(f"score for {c['name']!r} is not an object")
        scores[c["name"]] = _number(item, "score", lo, hi)
        reasons[c["name"]] = str(item.get("reason", ""))
    return {"scores": scores, "overall": overall(rubric, scores), "reason": "", "reasons": reasons}


# --- pairwise --------------------------------------------------------------------------

PAIR_SCHEMA = object_schema(reason={"type": "string"}, winner={"type": "string", "enum": ["A", "B", "tie"]})


def pair_messages(record: dict[str, Any], response_a: str, response_b: str, rubric: str = "pairwise",
                  criteria: str | None = None) -> list[dict[str, str]]:
    """A side-by-side prompt from `rubrics/RUBRIC.yaml`; `criteria` (a writing type's, in the
    record's language) replaces the rubric's own list of what to weigh."""
    lang = pick_lang(record)
    data = load_package_yaml(RUBRICS, f"{rubric}.yaml")
    tpl = data["prompts"][lang]
    values = {"instruction": record.get("prompt", ""), "input_block": input_block(record, lang),
              "response_a": response_a, "response_b": response_b, "criteria": criteria or data["criteria"][lang]}
    return messages(fill(tpl["system"], values), fill(tpl["user"], values))


def parse_pair(text: str) -> str:
    """'A', 'B' or 'tie' (case and spacing forgiven), else JudgeParseError."""
    obj = parse_json_text(text)
    if not isinstance(obj, dict) or "winner" not in obj:
        raise JudgeParseError("no 'winner' field")
    w = obj["winner"]
    norm = w.strip().lower() if isinstance(w, str) else None
    if norm in ("a", "b"):
        return norm.upper()
    if norm in ("tie", "draw", "平局"):
        return "tie"
    raise JudgeParseError(f"winner must be A, B or tie, got {w!r}")
