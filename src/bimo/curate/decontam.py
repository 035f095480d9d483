"""Decontamination: drop (or flag) documents sharing any n-gram with evaluation sets.

GPT-3/WeLM style: n = 17 units, characters for Chinese and words for English.
The evaluation n-gram hashes are held as one sorted numpy array (evaluation sets
are small); each document's n-grams are checked with `np.isin`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from bimo.curate.base import Doc, Positive, Step
from bimo.curate.langid import lang_of
from bimo.curate.shingles import shingle_hashes
from bimo.errors import BimoError
from bimo.text import detect_lang


def load_eval_texts(paths: list[str], text_key: str = "text") -> list[str]:
    """Texts of evaluation sets: JSONL(.gz) with `text_key` (or 'prompt'/'question'), or plain text files."""
    from bimo.curate.readers import Reader, expand_inputs

    texts: list[str] = []
    reader = Reader(text_key=text_key)
    for shard in expand_inputs(paths, text_split="blank_line"):
        if shard.kind == "jsonl" and text_key == "text":
            from bimo.io import iter_jsonl
            for obj in iter_jsonl(shard.paths[0], errors=[]):
                t = next((obj[k] for k in ("text", "prompt", "question", "input", "content") if isinstance(obj.get(k), str)), None)
                if t:
                    texts.append(t)
        else:
            texts.extend(d["text"] for d in reader.read(shard))
    if not texts:
        raise BimoError(f"no evaluation texts found in {', '.join(paths)}")
    return texts


class Decontaminator(Step):
    name = "decontam"

    def __init__(self, eval_sets: list[str], n: Positive = 17, zh_n: Positive | None = None,
                 en_n: Positive | None = None, mode: Literal["drop", "flag"] = "drop", text_key: str = "text"):
        super().__init__()
        self.zh_n, self.en_n, self.mode = zh_n or n, en_n or n, mode
        texts = load_eval_texts([str(Path(p)) for p in eval_sets], text_key)
        h, _ = shingle_hashes(texts, [detect_lang(t) for t in texts], self.zh_n, self.en_n)
        self.table = np.unique(h)

    def process(self, doc: Doc) -> str | None:
        h, _ = shingle_hashes([doc["text"]], [lang_of(doc)], self.zh_n, self.en_n)
        hits = int(np.isin(h, self.table, assume_unique=False).sum())
        if hits == 0:
            return None
        doc["metadata"]["contaminated_ngrams"] = hits
        if self.mode == "flag":
            self.stats.tags["flagged"] += 1
            return None
        return f"contaminated: {hits} shared {self.zh_n}/{self.en_n}-grams"
