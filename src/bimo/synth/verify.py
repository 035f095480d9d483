"""Checks that make synthetic data trustworthy: spans, minimal edits, lengths, duplicates.

Model claims are verified, not trusted: a backtranslated output must really be a span
of the human source (fuzzy-tolerant, since models re-space or re-punctuate), and a
constitutional negative must be a *minimal* edit of the positive.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, process

from bimo.text import count_length

_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    """NFKC (full-width → half-width) and collapsed whitespace, for comparisons only."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def letters(text: str) -> str:
    """`text` without whitespace and punctuation, after NFKC and lower-casing. Models copying
    a passage re-space it, drop line breaks and change punctuation (Chinese especially); the
    words are what must match."""
    return "".join(c for ch in text for c in unicodedata.normalize("NFKC", ch).lower()
                   if not c.isspace() and not unicodedata.category(c).startswith("P"))


def span_score(span: str, source: str) -> float:
    """0..100: how well `span` occurs inside `source` (100 = verbatim after normalizing).

    Compared on `letters` (whitespace and punctuation ignored). rapidfuzz's partial_ratio
    aligns the shorter string against the best window of the longer one, so a copy with a
    slip or two still scores high, while an invented text scores low.
    """
    a, b = letters(span), letters(source)
    if not a:
        return 0.0
    if a in b:
        return 100.0
    if len(a) > len(b) * 1.05:
        return 0.0
    return float(fuzz.partial_ratio(a, b))


def similarity(a: str, b: str) -> float:
    """Character-level similarity 0..1 (normalized Indel distance, as difflib's ratio)."""
    return fuzz.ratio(a, b) / 100.0


def length_units(text: str) -> int:
    """The shared length counter, falling back to characters for texts with no CJK/words."""
    return count_length(text) or len(text.strip())


def length_ratio(a: str, b: str) -> float:
    """len(b) / len(a) in shared length units."""
    return length_units(b) / max(1, length_units(a))


def is_minimal_edit(chosen: str, rejected: str, *, lo: float = 0.6, hi: float = 0.98,
                    max_len_change: float = 0.25) -> str | None:
    """None when `rejected` is a minimal edit of `chosen`, else the reason it is not."""
    if _SPACE.sub("", norm(chosen)) == _SPACE.sub("", norm(rejected)):
        return "negative is identical to the original (whitespace aside)"
    sim = similarity(chosen, rejected)
    if sim < lo:
        return f"edit too large: similarity {sim:.2f} < {lo}"
    if sim > hi:
        return f"edit too small: similarity {sim:.2f} > {hi}"
    ratio = length_ratio(chosen, rejected)
    if abs(ratio - 1.0) > max_len_change:
        return f"length changed by {100 * (ratio - 1):+.0f}% (limit ±{100 * max_len_change:.0f}%)"
    return None


class NearDuplicates:
    """Remembers texts and tells whether a new one is nearly identical to one seen."""

    def __init__(self, threshold: float = 90.0):
        self.threshold = threshold
        self._seen: list[str] = []
        self._exact: set[str] = set()

    def find(self, text: str) -> str | None:
        key = norm(text).lower()
        if key in self._exact:
            return key
        if not self._seen:
            return None
        hit = process.extractOne(key, self._seen, scorer=fuzz.ratio, score_cutoff=self.threshold)
        return hit[0] if hit else None

    def add(self, text: str) -> None:
        key = norm(text).lower()
        if key not in self._exact:
            self._exact.add(key)
            self._seen.append(key)
