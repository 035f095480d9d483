"""Rule filters with separate Chinese and English thresholds.

Every threshold is a mapping `{"zh": ..., "en": ...}`; documents tagged 'other'
use the English value. Units follow the language: Chinese is measured in
characters (character n-grams), English in words (word n-grams) — English-first
filters that count "words" by spaces see a Chinese paragraph as one huge word,
which is why they reject classical Chinese wholesale.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
from importlib import resources
from typing import Annotated

from pydantic import Field

from bimo.curate.base import Doc, DocStep, Lang, PerLangCount, PerLangRatio, Positive, Ratio
from bimo.curate.langid import lang_of
from bimo.text import count_length

_WORD = re.compile(r"[A-Za-z0-9']+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def pick(values: dict[str, float], lang: str) -> float:
    return values.get(lang, values.get("en", 0.0))


def units(text: str, lang: str) -> list[str]:
    """Characters (Han, letters, digits) for Chinese; lower-cased words otherwise."""
    if lang == "zh":
        return [c for c in text if c.isalnum()]
    return [w.lower() for w in _WORD.findall(text)]


@cache
def load_patterns(name: str) -> tuple[str, ...]:
    """A shipped word/pattern list (one per line, '#' comments) from curate/data."""
    text = resources.files("bimo.curate").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


class LengthFilter(DocStep):
    """Length in bimo's unit (CJK characters + English words)."""

    name = "length"

    def __init__(self, min_len: PerLangCount | None = None, max_len: PerLangCount | None = None):
        super().__init__()
        self.min_len = {"zh": 8, "en": 20, **(min_len or {})}
        self.max_len = {"zh": 1_000_000, "en": 1_000_000, **(max_len or {})}

    def process(self, doc: Doc) -> str | None:
        lang = lang_of(doc)
        n = count_length(doc["text"])
        doc["metadata"]["length"] = n
        if n < pick(self.min_len, lang):
            return f"too_short: {n} < {pick(self.min_len, lang):g}"
        if n > pick(self.max_len, lang):
            return f"too_long: {n} > {pick(self.max_len, lang):g}"
        return None


class SymbolFilter(DocStep):
    """Share of symbol characters and of numbers, judged in context.

    A number is one unit however many digits it has (1998年, 3.14, 13%), so a history paragraph full of
    dates or a maths exercise reads as prose; a list of phone numbers or prices still fails. Symbols
    that belong to a number (%, +, −, =, ×, ÷, ℃, ¥, $, °) are part of it and not counted. Units are
    Han characters, words and numbers.
    """

    name = "symbols"
    _EXTRA = set("#|\\/_*@%&^~<>{}[]=+")
    _NUMBER = re.compile(r"[-+−]?[$¥€£]?\d[\d,.:/]*(?:\s*[%‰°℃]|\s*[-+−×*/÷=<>≤≥]\s*(?=\d))*")

    def __init__(self, max_symbol_ratio: PerLangRatio | None = None, max_digit_ratio: PerLangRatio | None = None):
        super().__init__()
        self.max_symbol_ratio = {"zh": 0.1, "en": 0.1, **(max_symbol_ratio or {})}
        self.max_digit_ratio = {"zh": 0.3, "en": 0.3, **(max_digit_ratio or {})}

    def process(self, doc: Doc) -> str | None:
        lang = lang_of(doc)
        text = doc["text"]
        numbers = self._NUMBER.findall(text)
        rest = self._NUMBER.sub(" ", text)
        chars = [c for c in rest if not c.isspace()]
        if not chars and not numbers:
            return "no_characters"
        sym = sum(1 for c in chars if c in self._EXTRA or unicodedata.category(c)[0] == "S")
        units_n = len(_HAN.findall(rest)) + len(_WORD.findall(rest)) + len(numbers)
        sr = sym / max(1, len(chars) + len(numbers))
        dr = len(numbers) / max(1, units_n)
        if sr > pick(self.max_symbol_ratio, lang):
            return f"symbol_ratio: {sr:.2f}"
        if dr > pick(self.max_digit_ratio, lang):
            return f"number_ratio: {dr:.2f}"
        return None


class RepetitionFilter(DocStep):
    """Gopher-style repetition: duplicated lines/paragraphs, top n-gram and duplicated n-gram coverage.

    Chinese uses character n-grams (n=2..4 for the top n-gram, 5 for duplicate
    coverage); thresholds are looser for Chinese because classical verse repeats
    by design (重章叠句) and must survive.
    """

    name = "repetition"
    _CLAUSE = re.compile(r"[，。！？；、,.!?;：:\n]+")

    def __init__(self, max_dup_line_frac: PerLangRatio | None = None, max_dup_para_frac: PerLangRatio | None = None,
                 max_top_ngram_frac: dict[Lang, dict[Positive, Ratio]] | None = None,
                 max_dup_ngram_frac: dict[Lang, dict[Positive, Ratio]] | None = None,
                 verse_factor: Annotated[float, Field(ge=1, le=3)] = 1.7):
        super().__init__()
        self.max_dup_line_frac = {"zh": 0.4, "en": 0.3, **(max_dup_line_frac or {})}
        self.max_dup_para_frac = {"zh": 0.4, "en": 0.3, **(max_dup_para_frac or {})}
        self.max_top_ngram_frac = {"zh": {2: 0.3, 3: 0.3, 4: 0.3}, "en": {2: 0.2, 3: 0.18, 4: 0.16},
                                   **(max_top_ngram_frac or {})}
        self.max_dup_ngram_frac = {"zh": {8: 0.5}, "en": {5: 0.3, 8: 0.25}, **(max_dup_ngram_frac or {})}
        self.verse_factor = verse_factor

    @classmethod
    def is_verse(cls, text: str) -> bool:
        """Short, regular clauses (≤ 8 characters on average, most of one or two lengths) of which most are
        distinct: verse whose refrains (重章叠句: 采采芣苡，薄言采之 / 薄言有之 …) repeat by design. Spam that
        repeats whole phrases fails the 'mostly distinct' test."""
        clauses = [c.strip() for c in cls._CLAUSE.split(text) if c.strip()]
        if len(clauses) < 6:
            return False
        lens = Counter(len(c) for c in clauses)
        regular = sum(n for _, n in lens.most_common(2)) / len(clauses)
        mean = sum(len(c) for c in clauses) / len(clauses)
        return mean <= 8 and regular >= 0.7 and len(set(clauses)) / len(clauses) >= 0.5

    @staticmethod
    def _dup_frac(items: list[str]) -> float:
        items = [x for x in items if x.strip()]
        if len(items) < 3:
            return 0.0
        return 1 - len(set(items)) / len(items)

    def process(self, doc: Doc) -> str | None:
        lang = "zh" if lang_of(doc) == "zh" else "en"
        text = doc["text"]
        f = self._dup_frac(text.split("\n"))
        if f > self.max_dup_line_frac[lang]:
            return f"dup_lines: {f:.2f}"
        f = self._dup_frac(re.split(r"\n\s*\n", text))
        if f > self.max_dup_para_frac[lang]:
            return f"dup_paragraphs: {f:.2f}"
        u = units(text, lang)
        total = sum(len(x) for x in u) or 1
        # Refrains in verse and the parallelism (对偶) of short classical passages repeat n-grams by design:
        # verse, and texts under 60 units, get the n-gram limits × verse_factor.
        loose = self.verse_factor if len(u) < 60 or self.is_verse(text) else 1.0
        for n, limit in self.max_top_ngram_frac[lang].items():
            limit = min(1.0, limit * loose)
            if len(u) < n * 5:
                continue
            grams = Counter(tuple(u[i:i + n]) for i in range(len(u) - n + 1))
            gram, count = grams.most_common(1)[0]
            frac = count * sum(len(x) for x in gram) / total
            if count > 1 and frac > limit:
                return f"top_{n}gram: {frac:.2f}"
        for n, limit in self.max_dup_ngram_frac[lang].items():
            limit = min(1.0, limit * loose)
            if len(u) < n * 5:
                continue
            seen: set[tuple[str, ...]] = set()
            covered = [False] * len(u)
            for i in range(len(u) - n + 1):
                g = tuple(u[i:i + n])
                if g in seen:
                    covered[i:i + n] = [True] * n
                seen.add(g)
            frac = sum(len(x) for x, c in zip(u, covered, strict=True) if c) / total
            if frac > limit:
                return f"dup_{n}gram: {frac:.2f}"
        return None


class BoilerplateFilter(DocStep):
    """Ad, spam and boilerplate patterns (shipped lists `boilerplate_zh.txt`, `boilerplate_en.txt`)."""

    name = "boilerplate"

    def __init__(self, max_hits: Positive = 2, max_match_frac: Ratio = 0.3, extra_patterns: list[str] | None = None):
        super().__init__()
        self.max_hits, self.max_match_frac = max_hits, max_match_frac
        pats = list(load_patterns("boilerplate_zh.txt")) + list(load_patterns("boilerplate_en.txt"))
        self.regex = re.compile("|".join(f"(?:{p})" for p in pats + (extra_patterns or [])), re.IGNORECASE)

    def process(self, doc: Doc) -> str | None:
        """Rejected at `max_hits` hits, or when the matches are most of a short text (a lone "点击查看原文").

        One quotation of "Click here" in a story is neither: the share counts matched characters, not
        lines, so a one-paragraph story that mentions it once stays."""
        text = doc["text"]
        hits = [m.group(0) for m in self.regex.finditer(text)]
        if not hits:
            return None
        share = sum(len(h) for h in hits) / max(1, len(text.strip()))
        if len(hits) >= self.max_hits or share > self.max_match_frac:
            return f"boilerplate: {len(hits)} hits, e.g. {hits[0][:30]!r}"
        return None


class CodeFilter(DocStep):
    """Source code: share of lines that look like code, or a high density of code punctuation."""

    name = "code"
    _LINE = re.compile(
        r"^\s*(?:def |class |import |from \S+ import|#include|public |private |function\b|var |let |const |"
        r"return\b|raise\b|yield\b|pass\s*$|if\s*\(|for\s*\(|while\s*\(|}\s*$|{\s*$|<\/?\w+[^>]*>|.*[\x21-\u2fff];\s*$|"
        r"(?:if|elif|else|for|while|try|except|with)\b.*:\s*$|[\w.\[\]'\"]+\s*[-+*/|&]?=\s*[^=\s])")

    _MARK = re.compile(r"[{}]|;\s*$|==|=>|->|::|\b\w+[._]\w+\s*\(|\b[a-z_]\w*\(\)|</?\w+>")

    def __init__(self, max_code_line_frac: Ratio = 0.3, max_code_char_frac: Ratio = 0.08):
        super().__init__()
        self.max_code_line_frac, self.max_code_char_frac = max_code_line_frac, max_code_char_frac

    def process(self, doc: Doc) -> str | None:
        text = doc["text"]
        lines = [ln for ln in text.split("\n") if ln.strip()]
        # A ';' line end only counts after a non-CJK character: Chinese clauses end in '；', or in ';' after NFKC.
        code = sum(1 for ln in lines if self._LINE.match(ln))
        if len(lines) >= 3 and code / len(lines) > self.max_code_line_frac:
            return f"code_lines: {code}/{len(lines)}"
        # Code punctuation only counts on lines with a mark of code ({ } ; at the end, ==, =>, ->, calls
        # like f(x) on identifiers with _ or .): a maths exercise's ( ) = < > is prose.
        code_text = "\n".join(ln for ln in lines if self._MARK.search(ln))
        dens = sum(code_text.count(c) for c in "{}();=<>") / (len(text) or 1)
        if dens > self.max_code_char_frac and len(text) > 40:
            return f"code_chars: {dens:.2f}"
        return None


class BadWordsFilter(DocStep):
    """Shipped bad-word lists (`badwords_zh.txt`: substrings; `badwords_en.txt`: whole words)."""

    name = "badwords"

    def __init__(self, max_hits: Positive = 1, extra_words: list[str] | None = None):
        super().__init__()
        self.max_hits = max_hits
        zh = list(load_patterns("badwords_zh.txt")) + [w for w in (extra_words or []) if _HAN.search(w)]
        en = list(load_patterns("badwords_en.txt")) + [w for w in (extra_words or []) if not _HAN.search(w)]
        self.zh = re.compile("|".join(map(re.escape, zh))) if zh else None
        self.en = re.compile(r"\b(?:" + "|".join(map(re.escape, en)) + r")\b", re.IGNORECASE) if en else None

    def process(self, doc: Doc) -> str | None:
        hits: list[str] = []
        for rx in (self.zh, self.en):
            if rx is not None:
                hits += [m.group(0) for m in rx.finditer(doc["text"])]
        if len(hits) >= self.max_hits:
            return f"badwords: {len(hits)} hits, e.g. {hits[0]!r}"
        return None
