"""Decontamination: drop (or flag) documents sharing any n-gram with evaluation sets.

GPT-3/WeLM style: n = 17 units, characters for Chinese and words for English.
The evaluation n-gram hashes are held as one sorted numpy array (evaluation sets
are small); each document's n-grams are checked with `np.isin`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from bimo.curate.base import Doc, DocStep, Positive
from bimo.curate.langid import lang_of
from bimo.curate.shingles import shingle_hashes
from bimo.errors import BimoError
from bimo.text import detect_lang


def load_eval_items(paths: list[str], text_key: str = "text") -> list[dict]:
    """Items of evaluation sets as {file, id, text}: JSONL(.gz) with `text_key` (or prompt/question/input/
    content) and an `id` (else the line number), or plain text files (one item per blank-line block)."""
    from bimo.curate.readers import Reader, expand_inputs

    items: list[dict] = []
    reader = Reader(text_key=text_key)
    for shard in expand_inputs(paths, text_split="blank_line"):
        name = Path(shard.paths[0]).name
        if shard.kind == "jsonl" and text_key == "text":
            from bimo.io import iter_jsonl
            for k, obj in enumerate(iter_jsonl(shard.paths[0], errors=[]), 1):
                t = next((obj[k2] for k2 in ("text", "prompt", "question", "input", "content")
                          if isinstance(obj.get(k2), str)), None)
                if t:
                    items.append({"file": name, "id": str(obj.get("id", f"line {k}")), "text": t})
        else:
            items.extend({"file": name, "id": str(d["id"]), "text": d["text"]} for d in reader.read(shard))
    if not items:
        raise BimoError(f"no evaluation texts found in {', '.join(paths)}")
    return items


def token_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each shingle unit: token characters for Chinese, runs of them for English
    (the units `shingle_hashes` hashes, so hit positions map back to the text)."""
    from bimo.curate.shingles import _TOKEN
    pos = [i for i, c in enumerate(text) if ord(c) < len(_TOKEN) and _TOKEN[ord(c)]]
    if lang != "en":
        return [(i, i + 1) for i in pos]
    spans: list[tuple[int, int]] = []
    for i in pos:
        if spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return spans


class Decontaminator(DocStep):
    """Drops (or flags) documents that share an n-gram with an evaluation item, and says which: the
    reject record carries the benchmark file, the item id and the shared span of the document."""

    name = "decontam"

    def __init__(self, eval_sets: list[str], n: Positive = 17, zh_n: Positive | None = None,
                 en_n: Positive | None = None, mode: Literal["drop", "flag"] = "drop", text_key: str = "text"):
        super().__init__()
        self.zh_n, self.en_n, self.mode = zh_n or n, en_n or n, mode
        self.items = load_eval_items([str(Path(p)) for p in eval_sets], text_key)
        texts = [it["text"] for it in self.items]
        h, owner = shingle_hashes(texts, [detect_lang(t) for t in texts], self.zh_n, self.en_n)
        self.table, first = np.unique(h, return_index=True)
        self.owner = owner[first]  # the (first) evaluation item of each n-gram

    def process(self, doc: Doc) -> str | None:
        lang = lang_of(doc)
        h, _ = shingle_hashes([doc["text"]], [lang], self.zh_n, self.en_n)
        hit = np.isin(h, self.table)
        hits = int(hit.sum())
        if hits == 0:
            return None
        first = int(np.argmax(hit))
        last = first
        while last + 1 < len(hit) and hit[last + 1]:
            last += 1
        item = self.items[int(self.owner[np.searchsorted(self.table, h[first])])]
        n = self.en_n if lang == "en" else self.zh_n
        spans = token_spans(doc["text"], "en" if lang == "en" else "zh")
        span = doc["text"][spans[first][0]:spans[min(last + n - 1, len(spans) - 1)][1]] if spans else ""
        doc["metadata"]["contaminated_ngrams"] = hits
        doc["metadata"]["contamination"] = {"file": item["file"], "item": item["id"], "ngrams": hits,
                                            "span": span[:300]}
        if self.mode == "flag":
            self.stats.tags["flagged"] += 1
            return None
        return (f"contaminated: {hits} shared {n}-grams with {item['file']} item {item['id']}: "
                f"{span[:60]!r}")
