"""Language and script ID with bimo.text's documented rule.

`detect_lang` compares Han characters with Latin *words* (one Han character carries
about one English word), so it never needs a model. The step stores
`metadata.lang` and `metadata.mixed_script` and may keep only some languages.
"""

from __future__ import annotations

from bimo.curate.base import Doc, DocStep, Lang, Ratio
from bimo.text import detect_lang, mixed_script_ratio


class LanguageTagger(DocStep):
    """Tags `lang` ('zh'|'en'|'other') and the mixed-script ratio; optional keep-list."""

    name = "langid"

    def __init__(self, keep: list[Lang] | None = None, max_mixed_script: Ratio = 1.0):
        super().__init__()
        self.keep = set(keep) if keep else None
        self.max_mixed_script = max_mixed_script

    def process(self, doc: Doc) -> str | None:
        text = doc["text"]
        lang = detect_lang(text)
        mixed = round(mixed_script_ratio(text), 4)
        meta = doc["metadata"]
        meta["lang"], meta["mixed_script"] = lang, mixed
        self.stats.tags[lang] += 1
        self.stats.score("mixed_script", mixed)
        if self.keep is not None and lang not in self.keep:
            return f"language: {lang}"
        if mixed > self.max_mixed_script:
            return f"mixed_script: {mixed:.2f} > {self.max_mixed_script}"
        return None


def lang_of(doc: Doc) -> str:
    """The doc's language, detecting it when no tagger ran before."""
    meta = doc.setdefault("metadata", {})
    if "lang" not in meta:
        meta["lang"] = detect_lang(doc["text"])
    return meta["lang"]
