"""Normalisation: NFKC (which folds full-width forms to half-width), whitespace,
and optional traditional → simplified conversion with OpenCC.

NFKC folds full-width Latin letters and digits to ASCII — and also the
full-width comma, colon, semicolon, question and exclamation marks. Chinese
text should keep those, so next to Han characters they are put back
(`zh_punct`, on by default); `。、「」` are untouched by NFKC anyway.
"""

from __future__ import annotations

import re

from bimo.curate.base import Doc, Step
from bimo.extras import require
from bimo.text import normalize

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_AFTER_HAN = re.compile(f"(?<=[{_HAN}])([,;:?!)])|([,;:?!(])(?=[{_HAN}])")


def restore_zh_punct(text: str) -> str:
    """ASCII , ; : ? ! ( ) touching a Han character → full-width forms."""
    return _AFTER_HAN.sub(lambda m: _FULL[m.group(0)], text)


class Normalizer(Step):
    """Rewrites `text` in place; rejects documents left empty."""

    name = "normalize"

    def __init__(self, t2s: bool = False, zh_punct: bool = True):
        super().__init__()
        self.t2s, self.zh_punct = t2s, zh_punct
        self._cc = None
        if t2s:
            require("curate", "t2s (traditional to simplified)", ("opencc",))
            import opencc

            self._cc = opencc.OpenCC("t2s")

    def process(self, doc: Doc) -> str | None:
        text = normalize(doc["text"])
        if self.zh_punct:
            text = restore_zh_punct(text)
        if self._cc is not None:
            converted = self._cc.convert(text)
            if converted != text:
                self.stats.tags["t2s_converted"] += 1
            text = converted
        doc["text"] = text
        return None if text else "empty_after_normalize"
