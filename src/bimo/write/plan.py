"""The plan of a long piece: its sections, each with a heading, key points and a target length.

The writer asks the model for a plan (`PLAN_SCHEMA`) or takes one from the user (a JSON
file, `load_plan`). Either way the plan is fitted to the requirement before anything is
written: duplicate sections are merged (a generated plan) or refused (a given one), the
targets are rescaled to sum to the required length, and sections far above the typical
size are split, since one call cannot write them reliably.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from bimo.errors import BimoError
from bimo.io import read_text
from bimo.text import count_length

#: Markdown a small model puts before a plan point ("> 2.2 预制菜的发展历史", "- Tides"):
#: shown to the section as is, it came back as quoted or bulleted lines in the text
_POINT_MARKS = re.compile(r"^(?:\s*(?:[>•]|[-*+](?=\s))\s*)+")


class Section(BaseModel):
    heading: str = ""
    points: list[str] = Field(default_factory=list)
    length: int = Field(0, ge=0)

    @field_validator("points")
    @classmethod
    def _plain_points(cls, points: list[str]) -> list[str]:
        return [p for p in (_POINT_MARKS.sub("", x).strip() for x in points) if any(c.isalnum() for c in p)]


class Plan(BaseModel):
    title: str = ""
    sections: list[Section]


PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "sections": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "heading": {"type": "string"},
                    "points": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
                    "length": {"type": "integer"},
                },
                "required": ["heading", "points", "length"],
            },
        },
    },
    "required": ["title", "sections"],
}

#: a title that names the plan instead of the piece ("写作计划", "Writing plan", and a kind of
#: text with a plan word: "调研报告计划", "故事的设定", "Story outline"): a small model copies the
#: request's word for what it is making, and the text would open with "# 写作计划". A document
#: that is itself a plan ("全民阅读月活动计划") is not a kind of text here, and keeps its title.
_PLAN_TITLE = re.compile(
    r"^\s*(?:写作)?(?:计划|提纲|大纲)\s*$|^\s*(?:writing\s+)?(?:plan|outline)\s*$"
    r"|^\s*\S{0,10}?(?:报告|文章|故事|小说|散文|论文|作文|游记|写作)的?(?:计划|提纲|大纲|设定|构思|框架)\s*$"
    r"|^\s*(?:the\s+)?(?:story|essay|report|article|novel|writing)(?:'s)?\s+(?:plan|outline|setting|framework)\s*$",
    re.I)


# what a heading may carry around its name: Markdown marks, numbering, "第一部分：", "Part 2:"
_HEAD_MARKS = re.compile(r"^[#*\s「」“”\"'《》]*(?:第[一二三四五六七八九十百\d]+(?:部分|章|节)[：:、.\s]*"
                         r"|(?:part|section|chapter)\s+\w+\s*[:.]?\s*|\d{1,2}(?:\.\d{1,2})*[.、)\s]\s*"
                         r"|[一二三四五六七八九十]{1,3}[、.．]\s*)?", re.I)


def heading_name(line: str) -> str:
    """A heading's name without marks or numbering, casefolded ("## 第一部分：电影放映室" →
    "电影放映室", "1. 目录" → "目录", "### Part 2: Tides" → "tides")."""
    return _HEAD_MARKS.sub("", line.strip(), count=1).strip(" #*「」“”\"'《》：:").casefold()


#: a table of contents is not a part to write (a 5,000字 report's plan came back as
#: "1. 目录" + "2. 引言")
_CONTENTS = {"目录", "目次", "contents", "table of contents"}
#: names of a document's parts, not of a document: a plan titled "前言" named its first part
_PART_NAMES = _CONTENTS | {"引言", "前言", "序言", "导言", "绪论", "摘要", "introduction", "preface", "foreword",
                           "abstract"}


def untitled_if_not_a_title(plan: Plan) -> Plan:
    """The plan without its title when the title is only a word for "plan" (`_PLAN_TITLE`),
    the name of a part ("前言", "Introduction") or has no letter or digit at all (a held-out
    story opened with "# :")."""
    title = plan.title or ""
    if _PLAN_TITLE.match(title) or heading_name(title) in _PART_NAMES or not any(c.isalnum() for c in title):
        plan.title = ""
    return plan


def plan_schema(min_sections: int) -> dict[str, Any]:
    """`PLAN_SCHEMA` asking for at least `min_sections` sections: under a grammar the model
    cannot close the list early (a held-out report's plan had two sections where ten were
    asked for, after two asks)."""
    sections = {**PLAN_SCHEMA["properties"]["sections"], "minItems": max(1, min_sections)}
    return {**PLAN_SCHEMA, "properties": {**PLAN_SCHEMA["properties"], "sections": sections}}


def without_contents(plan: Plan) -> Plan:
    """The plan without sections that are a table of contents ("1. 目录", "Contents")."""
    plan.sections = [s for s in plan.sections if heading_name(s.heading or "") not in _CONTENTS]
    return plan


def salvage_plan(text: str) -> Plan | None:
    """The plan in a model's JSON answer — or, when the answer was cut off at its token budget,
    the sections it finished. The plan grammar makes a cut-off answer a valid prefix of JSON,
    so closing it after its last complete section object gives those sections; asking again
    from scratch would decode the whole plan twice. None when not even one section is whole."""
    try:
        return Plan(**json.loads(text))
    except (ValueError, TypeError):
        pass
    for end in (m.end() for m in reversed(list(re.finditer(r"\}", text)))):
        try:
            plan = Plan(**json.loads(text[:end] + "]}"))
        except (ValueError, TypeError):
            continue
        return plan if plan.sections else None
    return None


_KEY_TOKEN = re.compile(r"[\u4e00-\u9fff]|[a-z]+|\d+")


def _section_key(sec: Section) -> set[tuple[str, ...]]:
    """Unit bigrams of a section's heading and points, for near-duplicate detection."""
    toks = _KEY_TOKEN.findall((sec.heading + " " + " ".join(sec.points)).lower())  # digits count: Part 1 ≠ Part 2
    return {tuple(toks[i:i + 2]) for i in range(len(toks) - 1)} or {tuple(toks)}


def _similar(a: Section, b: Section, threshold: float = 0.8) -> bool:
    ka, kb = _section_key(a), _section_key(b)
    return len(ka & kb) / max(1, len(ka | kb)) >= threshold


def duplicate_sections(sections: list[Section]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of sections whose heading and points are (nearly) the same.
    A "(续)" / "(continued)" part of a split section is not a duplicate of its first part."""
    out = []
    for j, b in enumerate(sections):
        for i in range(j):
            a = sections[i]
            if b.heading != a.heading and b.heading.startswith(a.heading) and b.points == a.points:
                continue
            if _similar(sections[i], b):
                out.append((i, j))
                break
    return out


def dedupe_sections(sections: list[Section]) -> list[Section]:
    """A generated plan without its duplicate sections (their length goes to the first copy)."""
    drop = dict((j, i) for i, j in duplicate_sections(sections))
    for j, i in drop.items():
        sections[i].length += sections[j].length
    return [sec for k, sec in enumerate(sections) if k not in drop] or sections[:1]


def check_plan(plan: Plan) -> Plan:
    """A plan given by the user must not ask for the same section twice: one-line error."""
    dup = duplicate_sections(plan.sections)
    if dup:
        i, j = dup[0]
        raise BimoError(f"the plan has duplicate sections: {i + 1} and {j + 1} "
                        f"({plan.sections[j].heading or 'no heading'!r}); merge or reword them")
    return plan


def load_plan(path: Path) -> Plan:
    """A plan file given by the user (`bimo write --plan`), checked."""
    text = read_text(path, "plan file")
    try:
        plan = Plan(**json.loads(text))
    except (ValueError, ValidationError, TypeError) as exc:
        raise BimoError(f"{path} is not a valid plan (JSON with title and sections): {str(exc).splitlines()[0]}") from None
    return check_plan(plan)


def rescale(plan: Plan, length: int) -> Plan:
    """Make section targets sum to the required length (minus what headings take)."""
    body = length - count_length(plan.title) - sum(count_length(s.heading) for s in plan.sections)
    body = max(body, 50 * len(plan.sections))
    weights = [max(s.length, 1) for s in plan.sections]
    if max(weights) > 20 * min(weights):  # nonsense counts: split evenly
        weights = [1] * len(weights)
    total = sum(weights)
    for s, w in zip(plan.sections, weights, strict=True):
        s.length = max(30, round(body * w / total))
    return plan


#: the heading suffix of the second and later parts of a split section
CONTINUED = {"zh": "（续）", "en": " (continued)"}


_CONTINUED_MARKS = (*CONTINUED.values(), CONTINUED["en"].strip())


def without_continued(heading: str) -> str:
    """A split section's heading without its continuation mark ("物理原理（续）" → "物理原理")."""
    for m in _CONTINUED_MARKS:
        heading = heading.removesuffix(m)
    return heading


def continues(prev: Section | None, sec: Section) -> bool:
    """Whether `sec` is a later part of the split section `prev` (its heading plus the
    continuation mark): in the text it goes on under `prev`'s heading, not under one of its own."""
    if prev is None or not prev.heading:
        return False
    base = without_continued(prev.heading)  # the third part follows the second, already marked
    return sec.heading in {base + m for m in _CONTINUED_MARKS}


def other_headings(sections: list[Section], idx: int) -> tuple[str, ...]:
    """The headings of the sections other than section `idx` and the parts of its split
    section (`continues`): a piece of section `idx` that starts one of them writes elsewhere."""
    lo = idx
    while lo > 0 and continues(sections[lo - 1], sections[lo]):
        lo -= 1
    hi = idx
    while hi + 1 < len(sections) and continues(sections[hi], sections[hi + 1]):
        hi += 1
    own = {heading_name(sections[i].heading) for i in range(lo, hi + 1)}
    return tuple(s.heading for i, s in enumerate(sections)
                 if not lo <= i <= hi and s.heading and heading_name(s.heading) not in own)


def split_oversized(plan: Plan, section_size: int, lang: str) -> Plan:
    """Split sections far above the typical size: one call cannot write them reliably.

    Small models sometimes plan a single 1,000-word section; writing it in one go is
    exactly the failure the plan is meant to avoid.
    """
    limit = round(1.5 * section_size)
    more = CONTINUED[lang]
    out: list[Section] = []
    for s in plan.sections:
        parts = max(1, math.ceil(s.length / limit)) if s.length > limit else 1
        for i in range(parts):
            # in order, the first k % parts parts taking one more: with fewer points than parts
            # the parts without one come last (taking every other point had a held-out report
            # write 2.2 before 2.1)
            k = len(s.points)
            start = i * (k // parts) + min(i, k % parts)
            points = s.points[start:start + k // parts + (1 if i < k % parts else 0)]
            out.append(Section(heading=s.heading if i == 0 else (s.heading + more).strip(),
                               points=points, length=round(s.length / parts)))
    plan.sections = out
    return plan


def plan_text(plan: Plan, lang: str) -> str:
    """The plan as every section's prompt shows it: one numbered line per section."""
    unit = "字" if lang == "zh" else " words"
    lines = [f"# {plan.title}"] if plan.title else []
    for i, s in enumerate(plan.sections, 1):
        pts = "；".join(s.points) if lang == "zh" else "; ".join(s.points)
        lines.append(f"{i}. {s.heading} — {pts} ({s.length}{unit})")
    return "\n".join(lines)
