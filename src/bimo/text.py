"""Shared text utilities: the one length counter, the one language detector and the one
sentence splitter.

Length is counted the way LongBench-Write counts it: every CJK unified ideograph
(U+4E00–U+9FFF) plus every run of ASCII letters (`[a-zA-Z]+`) as one English word.
Every stage that talks about "length" (long-form writing, evaluation, synthesis,
curation) uses `count_length`, so their numbers agree.
"""

import re
import unicodedata

_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-zA-Z]+")
# Broader CJK range for script detection (extension A, compatibility ideographs, kana).
_CJK_ANY = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")


def count_length(text: str) -> int:
    """LongBench-Write length: CJK characters + English words."""
    return len(_CJK.findall(text)) + len(_WORD.findall(text))


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def script_counts(text: str) -> dict[str, int]:
    """Counts of Han characters, Latin letters, kana, hangul and other letters."""
    han = len(_CJK_ANY.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    kana = len(_KANA.findall(text))
    hangul = len(_HANGUL.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    return {"han": han, "latin": latin, "kana": kana, "hangul": hangul,
            "other": max(0, letters - han - latin - kana - hangul)}


def detect_lang(text: str) -> str:
    """'zh', 'en' or 'other', by a documented rule on scripts.

    Han characters carry about as much as an English word, so the rule compares
    Han characters with Latin *words*: Chinese when Han ≥ words (and no kana or
    hangul dominate), English when Latin words dominate, 'other' otherwise.
    """
    c = script_counts(text)
    words = count_words(text)
    if c["kana"] + c["hangul"] > max(c["han"], words) * 0.3 and c["kana"] + c["hangul"] > 0:
        return "other"
    if c["han"] == 0 and words == 0:
        return "other"
    if c["other"] > (c["han"] + c["latin"]):
        return "other"
    return "zh" if c["han"] >= words else "en"


def mixed_script_ratio(text: str) -> float:
    """Share of the minority script between Han and Latin letters (0 = pure)."""
    c = script_counts(text)
    total = c["han"] + c["latin"]
    return 0.0 if total == 0 else min(c["han"], c["latin"]) / total


def normalize(text: str) -> str:
    """NFKC (folds full-width forms to half-width) and tidy whitespace per line."""
    text = unicodedata.normalize("NFKC", text)
    lines = [re.sub(r"[ \t\u3000]+", " ", ln).strip() for ln in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# After sentence-ending punctuation (Chinese, and English when followed by a space or the
# end), with any closing quotes or brackets, and at line breaks.
_SENTENCE_END = re.compile(r"[。！？!?…；;]+[」”』\"'’)）]*|[.!?]+[\"'”’)]*(?=\s|$)|\n")


# A numbered list marker at the start of a line ("1.", "2.3.") ends with a full stop but is no
# sentence: it belongs to the item after it, so that the item is kept or dropped as one piece.
_LIST_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:\*\*)?\d{1,3}(?:\.\d{1,3})*\.")


def sentences(text: str) -> list[str]:
    """Split into sentences; the pieces, joined, give back `text` exactly. A numbered list
    marker at the start of a line goes with the item it numbers."""
    out, start, glue = [], 0, False
    for m in _SENTENCE_END.finditer(text):
        piece = text[start:m.end()]
        if glue:
            out[-1] += piece
        else:
            out.append(piece)
        start = m.end()
        glue = bool(_LIST_MARKER.fullmatch(piece.rstrip(" \t"))) and not piece.endswith("\n")
    if start < len(text):
        if glue:
            out[-1] += text[start:]
        else:
            out.append(text[start:])
    return out


def sentence_spans(text: str, min_length: int = 2) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, whitespace trimmed. A piece shorter than
    `min_length` length units ("1.", "Mr.") joins the next piece on its line; pieces with
    no letter or digit are left out."""
    spans: list[tuple[int, int]] = []
    start, pos = None, 0
    for piece in sentences(text):
        if start is None:
            start = pos
        pos += len(piece)
        if count_length(text[start:pos]) >= min_length or piece.endswith("\n") or pos == len(text):
            a, b = start, pos
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if any(c.isalnum() for c in text[a:b]):
                spans.append((a, b))
            start = None
    return spans
