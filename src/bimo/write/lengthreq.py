"""Find the length a prompt asks for: "不少于10000字", "一万字", "a 5,000-word essay"…

Returns the required length in LongBench-Write units (CJK characters + English words)
or None when the prompt names no length. Ranges give their midpoint; bounds such as
不少于/at least and 不超过/at most are taken at face value — the writer aims for the
number itself, which is what LongBench-Write scores against. Labelled fields of structured
briefs (字数要求：2000, Word count: 400), totals (共1000字, in all), and lengths per part with a
stated number of parts (5段，每段200字; 4 pages, 500 words per page) are understood; numbers
without a length unit (years, counts of items) are never taken for the length.
"""

from __future__ import annotations

import re

from bimo.errors import BimoError

MAX_LENGTH = 100_000

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUM = "[零〇一二两三四五六七八九十百千万]+"
_NUM = r"\d[\d,，]*(?:\.\d+)?\s*[kK万千]?"
_ZH_UNIT = r"(?:个)?(?:汉字|中文字|字)"
_EN_UNIT = r"[-\s]?(?:words?|word-long)\b"


def chinese_number(text: str) -> int:
    """一万 → 10000, 两千五百 → 2500, 三千 → 3000, 十二 → 12, 一万五 → 15000."""
    total, section, digit = 0, 0, None
    last_unit, zero = 1, False
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            zero = zero or digit == 0
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit == 10000:
                section = (section + (digit or 0)) * unit
                total += section
                section, digit, last_unit = 0, None, unit
            else:
                section += (1 if digit is None else digit) * unit
                digit, last_unit, zero = None, unit, False
    if digit is not None:  # trailing digit: 一万五 = 15000, 两千五 = 2500, but 一百零五 = 105
        section += digit * (last_unit // 10 if last_unit >= 100 and not zero else 1)
    return total + section


def _arabic(text: str) -> float:
    t = text.replace(",", "").replace("，", "").strip()
    mult = 1
    if t[-1:] in ("k", "K", "千"):
        mult, t = 1000, t[:-1]
    elif t[-1:] == "万":
        mult, t = 10000, t[:-1]
    return float(t.strip()) * mult


def _value(token: str) -> float:
    token = token.strip()
    if re.fullmatch(_CN_NUM, token):
        return chinese_number(token)
    return _arabic(token)


_ANY = rf"(?:{_NUM}|{_CN_NUM})"
_UNIT_ANY = rf"(?:\s*{_ZH_UNIT}|{_EN_UNIT})"
_RANGE_SEP = r"\s*(?:-|–|—|~|～|到|至|to|and)\s*"
# A labelled field, as in structured briefs: "字数要求：2000", "篇幅：六百字以内", "Word count: 400".
_LABEL = re.compile(
    rf"(?:字数要求|字数限制|字数|篇幅|长度要求|长度|word\s*count|word\s*limit|length|words)\s*[:：]\s*"
    rf"(?:约|大约|不少于|不超过|不多于|至少|最少|最多|控制在|在|about|around|approximately|approx\.?|at least|"
    rf"at most|no more than|no less than|up to|roughly|~)?\s*"
    rf"(?P<a>{_ANY})(?:{_RANGE_SEP}(?P<b>{_ANY}))?(?:{_UNIT_ANY})?"
    r"(?![\d,，.零〇一二两三四五六七八九十百千万kK]|\s*(?:年|月|日|个|%|pages?|paragraphs?|页|段|章|节))",
    re.I,
)
_PATTERNS = [
    # ranges: 2000-2500字, 2000到2500字, 两千至三千字, 2,000–2,500 words, between 800 and 1000 words
    re.compile(rf"(?P<a>{_ANY})\s*(?:-|–|—|~|～|到|至|to)\s*(?P<b>{_ANY})\s*{_ZH_UNIT}"),
    re.compile(rf"(?:between\s+)?(?P<a>{_NUM})\s*(?:-|–|—|~|to|and)\s*(?P<b>{_NUM}){_EN_UNIT}", re.I),
    # single values: 10000字, 一万字, 5,000-word, 3000 words, 2k words
    re.compile(rf"(?P<a>{_ANY})\s*{_ZH_UNIT}"),
    re.compile(rf"(?P<a>{_NUM}){_EN_UNIT}", re.I),
]
# A length that applies to each part ("每段200字", "150 words each") is not the total...
_EACH_BEFORE = re.compile(r"(?:每[^，。,.;；！？\d]{0,6}|per\s+\w+|each\s+\w+)\s*(?:约|大约|不少于|不超过|about|around|of|roughly)?\s*$", re.I)
_EACH_AFTER = re.compile(r"^\s*(?:左右|以上|以内)?\s*(?:each|apiece|per\s+(?:page|paragraph|section|part))", re.I)
# ...unless the prompt says how many parts: "3 paragraphs", "5段", "两页".
_PARTS = re.compile(rf"(?P<n>\d+|{_CN_NUM})\s*(?:个)?(?:paragraphs?|pages?|sections?|段|页|部分)", re.I)
# ...and a stated total wins over everything else: "about 450 words in all", "共1000字".
_TOTAL_AFTER = re.compile(r"^\s*(?:左右)?\s*(?:in all|in total|total|altogether|overall)", re.I)
_TOTAL_BEFORE = re.compile(r"(?:共|总共|合计|总计|全文|总字数|in all|in total|total of|altogether)\s*(?:约|大约|about|around)?\s*$", re.I)


def _match_value(m: re.Match) -> float | None:
    try:
        a = _value(m.group("a"))
        b = _value(m.group("b")) if "b" in m.groupdict() and m.group("b") else None
    except ValueError:
        return None
    value = (a + b) / 2 if b else a
    return value if value > 0 else None


def detect_length(prompt: str) -> int | None:
    """The required length named in the prompt, or None.

    Candidates, by priority: a labelled field (字数要求：2000, Word count: 400); a length
    marked as the total (共1000字, 450 words in all); any other length with a unit (字, words),
    ranges before single values. A length per part (每段200字, 150 words each) counts only
    when the prompt says how many parts (5段, 3 paragraphs): then it is parts × length.
    Numbers without a length unit (years, counts of items) are never taken.
    """
    found: list[tuple[int, int, float]] = []  # (priority, position, value)
    taken: list[tuple[int, int]] = []

    def free(m: re.Match) -> bool:
        return all(m.end() <= a or m.start() >= b for a, b in taken)

    for m in _LABEL.finditer(prompt):
        value = _match_value(m)
        if value is not None:
            found.append((0, m.start(), value))
            taken.append(m.span())
    for pattern in _PATTERNS:
        for m in pattern.finditer(prompt):
            if not free(m):
                continue
            value = _match_value(m)
            if value is None:
                continue
            taken.append(m.span())
            before, after = prompt[: m.start()], prompt[m.end():]
            if _TOTAL_AFTER.match(after) or _TOTAL_BEFORE.search(before):
                found.append((1, m.start(), value))
            elif _EACH_BEFORE.search(before) or _EACH_AFTER.match(after):
                parts = _PARTS.search(prompt)
                if parts:
                    found.append((2, m.start(), value * _value(parts.group("n"))))
            else:
                found.append((2, m.start(), value))
    if not found:
        return None
    return int(round(min(found)[2]))


def required_length(prompt: str, length: int | None = None, default: int | None = None) -> int | None:
    """The length a request asks for: `length` when given, else the one the prompt states,
    else `default` (None when there is none). The one rule for every caller of the writer."""
    return length or detect_length(prompt) or default


def check_length(n: int) -> int:
    """Reject absurd lengths with a clear message."""
    if n <= 0:
        raise BimoError(f"length must be positive, got {n}")
    if n > MAX_LENGTH:
        raise BimoError(f"length {n:,} is beyond the supported maximum of {MAX_LENGTH:,}")
    return n
