"""Find the length a prompt asks for: "不少于10000字", "一万字", "a 5,000-word essay"…

Returns the required length in LongBench-Write units (CJK characters + English words)
or None when the prompt names no length. Ranges give their midpoint; bounds such as
不少于/at least and 不超过/at most are taken at face value — the writer aims for the
number itself, which is what LongBench-Write scores against.
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
_PATTERNS = [
    # ranges: 2000-2500字, 2000到2500字, 两千至三千字, 2,000–2,500 words, between 800 and 1000 words
    re.compile(rf"(?P<a>{_ANY})\s*(?:-|–|—|~|～|到|至|to)\s*(?P<b>{_ANY})\s*{_ZH_UNIT}"),
    re.compile(rf"(?:between\s+)?(?P<a>{_NUM})\s*(?:-|–|—|~|to|and)\s*(?P<b>{_NUM}){_EN_UNIT}", re.I),
    # single values: 10000字, 一万字, 5,000-word, 3000 words, 2k words
    re.compile(rf"(?P<a>{_ANY})\s*{_ZH_UNIT}"),
    re.compile(rf"(?P<a>{_NUM}){_EN_UNIT}", re.I),
]


def detect_length(prompt: str) -> int | None:
    """The required length named in the prompt, or None."""
    for pattern in _PATTERNS:
        for m in pattern.finditer(prompt):
            try:
                a = _value(m.group("a"))
                b = _value(m.group("b")) if "b" in m.groupdict() and m.group("b") else None
            except ValueError:
                continue
            value = (a + b) / 2 if b else a
            if value <= 0:
                continue
            return int(round(value))
    return None


def check_length(n: int) -> int:
    """Reject absurd lengths with a clear message."""
    if n <= 0:
        raise BimoError(f"length must be positive, got {n}")
    if n > MAX_LENGTH:
        raise BimoError(f"length {n:,} is beyond the supported maximum of {MAX_LENGTH:,}")
    return n
