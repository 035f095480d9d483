"""Model-based steps: the quality filter and the genre tagger, on one classifier.

Both reuse `TextClassifier`. Quality keeps documents whose P(positive) reaches the
threshold and stores the score in `metadata.quality`. Genre stores the fine label
(`metadata.genre_fine`, e.g. poetry, fiction, news, nonfiction) and the coarse
fiction / non-fiction label the mixer balances on (`metadata.genre`).
"""

from __future__ import annotations

from bimo.curate.base import Doc, DocStep, Ratio
from bimo.curate.classifier import TextClassifier, default_model_path
from bimo.errors import BimoError

# Fine genres of the shipped model folded into the mixer's two classes.
COARSE = {"poetry": "fiction", "fiction": "fiction", "news": "nonfiction", "nonfiction": "nonfiction",
          "technical": "nonfiction", "classical": "nonfiction", "marketing": "nonfiction"}


class QualityFilter(DocStep):
    name = "quality"

    def __init__(self, model: str | None = None, threshold: Ratio = 0.5, positive: str = "pos",
                 drop: bool = True):
        super().__init__()
        self.model = TextClassifier.load(model or default_model_path("quality"))
        self.threshold, self.positive, self.drop = threshold, positive, drop
        if positive not in self.model.classes:
            self.positive = self.model.classes[-1]

    def process(self, doc: Doc) -> str | None:
        s = round(self.model.score(doc["text"], self.positive), 4)
        doc["metadata"]["quality"] = s
        self.stats.score("quality", s)
        if self.drop and s < self.threshold:
            return f"low_quality: {s:.3f} < {self.threshold}"
        return None


class GenreTagger(DocStep):
    """Tags genre; optionally drops genres (e.g. `drop: [news]`)."""

    name = "genre"

    def __init__(self, model: str | None = None, drop: list[str] | None = None):
        super().__init__()
        self.model = TextClassifier.load(model or default_model_path("genre"))
        known = set(self.model.classes) | {COARSE.get(c, c) for c in self.model.classes}
        if unknown := sorted(set(drop or []) - known):
            raise BimoError(f"drop: unknown genre {unknown[0]!r}; the model knows {', '.join(sorted(known))}")
        self.drop = set(drop or [])

    def process(self, doc: Doc) -> str | None:
        fine, p = self.model.predict(doc["text"])
        meta = doc["metadata"]
        meta["genre_fine"], meta["genre"], meta["genre_score"] = fine, COARSE.get(fine, fine), round(p, 4)
        self.stats.tags[fine] += 1
        self.stats.score("genre_confidence", p)
        if fine in self.drop or meta["genre"] in self.drop:
            return f"genre: {fine}"
        return None
