"""Length clauses for long-output SFT: the length a person would ask for, written by code.

LongWriter's finding is that a model's output length follows the lengths its SFT data
asked for and got. So a long-output record's instruction must state the length of its
response truthfully, in the many ways people phrase it (WeLM: many prompts per task):
"约1500字", "两千字左右", "不少于1400字", "between 1,000 and 1,300 words"... The number
comes from the measured length of the human text, rounded as a person would round it,
never from the model that wrote the rest of the instruction.

Every clause is read back with the same detector `bimo write` uses (`detect_length`), so
what the record claims is what a length score will check.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from bimo.text import sentences
from bimo.write.lengthreq import detect_length

#: (kind, template). {n}: the rounded length; {lo}: a lower bound below the true length;
#: {a}/{b}: a range around it; {cn}: the rounded length in Chinese numerals.
ZH_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("about", "全文约{n}字。"),
    ("about", "篇幅在{n}字左右。"),
    ("about", "字数控制在{n}字上下。"),
    ("about", "请写{cn}字左右。"),
    ("about", "长度大约{n}字。"),
    ("about", "字数要求：{n}字左右。"),
    ("about", "全文{cn}字上下即可。"),
    ("at_least", "不少于{lo}字。"),
    ("at_least", "至少写{lo}字。"),
    ("at_least", "字数不低于{lo}字。"),
    ("range", "字数在{a}到{b}字之间。"),
    ("range", "篇幅{a}至{b}字。"),
)
EN_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("about", "It should be about {n} words long."),
    ("about", "Aim for around {n} words."),
    ("about", "Length: roughly {n} words."),
    ("about", "Please write approximately {n} words."),
    ("about", "Word count: about {n} words."),
    ("about", "Make it a {n}-word piece."),
    ("about", "I need roughly {n} words."),
    ("at_least", "Write at least {lo} words."),
    ("at_least", "Make it no fewer than {lo} words."),
    ("range", "Keep it between {a} and {b} words."),
    ("range", "The piece should run {a}–{b} words."),
    ("range", "Somewhere from {a} to {b} words is right."),
)
POSITIONS = ("start", "end", "middle")

_DIGITS = "零一二三四五六七八九"


def granularity(n: int) -> int:
    """How coarsely a person rounds a length of `n` units."""
    if n < 300:
        return 50
    if n < 2000:
        return 100
    if n < 10000:
        return 500
    return 1000


def round_length(n: int) -> int:
    g = granularity(n)
    return max(g, int(round(n / g)) * g)


def floor_length(n: int) -> int:
    """A round lower bound that the text still meets (never above `n`)."""
    g = granularity(n)
    return max(g // 2, (n // g) * g) if n >= g else n


def chinese_numeral(n: int) -> str:
    """Round numbers as people write them: 1500 → 一千五百, 2000 → 两千, 12000 → 一万二千."""
    if n <= 0 or n >= 100000:
        return str(n)
    parts, rest = [], n
    for unit, name in ((10000, "万"), (1000, "千"), (100, "百"), (10, "十")):
        d, rest = divmod(rest, unit)
        if d:
            digit = "两" if d == 2 and unit >= 1000 else _DIGITS[d]
            parts.append(digit + name)
        elif parts and rest:
            parts.append("零")
    if rest:
        parts.append(_DIGITS[rest])
    out = "".join(parts)
    return re.sub("零+", "零", out).rstrip("零")


def _fmt_en(n: int, rng: random.Random) -> str:
    return f"{n:,}" if n >= 1000 and rng.random() < 0.5 else str(n)


@dataclass(frozen=True)
class LengthClause:
    """One stated length: the sentence, what kind of claim it makes, and what it claims."""

    text: str
    kind: str  # about | at_least | range
    template: int
    stated: int  # the length a reader (and detect_length) takes from the clause


def make_clause(length: int, lang: str, rng: random.Random) -> LengthClause:
    """A clause stating `length` (measured units) the way a person asks for it."""
    templates = ZH_TEMPLATES if lang == "zh" else EN_TEMPLATES
    idx = rng.randrange(len(templates))
    kind, tpl = templates[idx]
    n, lo = round_length(length), floor_length(length)
    g = granularity(length)
    a = max(g // 2, int(length * 0.9) // g * g)
    b = max(a + g, -(-int(length * 1.1) // g) * g)
    if lang == "zh":
        text = tpl.format(n=n, lo=lo, a=a, b=b, cn=chinese_numeral(n))
    else:
        text = tpl.format(n=_fmt_en(n, rng), lo=_fmt_en(lo, rng), a=_fmt_en(a, rng), b=_fmt_en(b, rng), cn=n)
    stated = detect_length(text)
    if stated is None:  # every template is tested to read back; this guards edits to them
        raise ValueError(f"length clause not understood by the detector: {text!r}")
    return LengthClause(text=text, kind=kind, template=idx, stated=stated)


def insert_clause(instruction: str, clause: str, position: str, lang: str) -> str:
    """The instruction with the clause at its start, its end, or after its first sentence."""
    instruction = instruction.strip()
    sep = "" if lang == "zh" else " "
    if position == "start":
        return f"{clause}{sep}{instruction}"
    if position == "middle":
        parts = [s for s in sentences(instruction) if s.strip()]
        if len(parts) >= 2:
            head = parts[0].rstrip()
            tail = "".join(parts[1:]).strip()
            return f"{head}{sep}{clause}{sep}{tail}"
    if lang != "zh" and instruction and instruction[-1] not in ".!?。！？":
        instruction += "."
    if lang == "zh" and instruction and instruction[-1] not in "。！？.!?：:":
        instruction += "。"
    return f"{instruction}{sep}{clause}"


def with_length(instruction: str, length: int, lang: str, rng: random.Random) -> tuple[str, LengthClause, str]:
    """(instruction with a length clause, the clause, where it went)."""
    clause = make_clause(length, lang, rng)
    position = POSITIONS[rng.randrange(len(POSITIONS))]
    return insert_clause(instruction, clause.text, position, lang), clause, position
