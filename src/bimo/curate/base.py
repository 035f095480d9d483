"""The document-step contract: every curation operator is a `DocStep` with `run(docs) -> docs`.

A step sees an iterator of documents `{"id", "text", "metadata"}` and yields the
ones it keeps (possibly changed). A rejected document is never dropped silently:
the step stamps `metadata.rejected = {"step", "reason"}` and hands it to the
rejects sink, and its `DocStepStats` count it by reason with a few examples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, validate_call

Doc = dict[str, Any]
# Option types shared by the steps; `DocStep` validates every constructor against its hints, so a bad
# value in a recipe or flag is a one-line error naming the key and the allowed range.
Lang = Literal["zh", "en", "other"]  # what `bimo.text.detect_lang` produces
Ratio = Annotated[float, Field(ge=0, le=1)]
PerLangRatio = dict[Lang, Ratio]
PerLangCount = dict[Lang, Annotated[float, Field(ge=0)]]
Positive = Annotated[int, Field(ge=1)]
Sink = Callable[[Doc], None]

N_BINS = 20  # score histograms use 20 equal bins over [0, 1]
N_EXAMPLES = 3


@dataclass
class DocStepStats:
    """Counts for one step; mergeable across shards, serialisable as JSON."""

    name: str
    seen: int = 0
    kept: int = 0
    removed: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    hists: dict[str, list[int]] = field(default_factory=dict)
    tags: Counter = field(default_factory=Counter)

    def reject(self, doc: Doc, reason: str) -> None:
        self.removed += 1
        key = reason.split(":", 1)[0]
        self.reasons[key] += 1
        ex = self.examples.setdefault(key, [])
        if len(ex) < N_EXAMPLES:
            ex.append({"id": str(doc.get("id")), "reason": reason, "text": str(doc.get("text", ""))[:200]})

    def score(self, key: str, value: float) -> None:
        h = self.hists.setdefault(key, [0] * N_BINS)
        h[min(N_BINS - 1, max(0, int(value * N_BINS)))] += 1

    def merge(self, other: DocStepStats) -> None:
        self.seen += other.seen
        self.kept += other.kept
        self.removed += other.removed
        self.reasons.update(other.reasons)
        self.tags.update(other.tags)
        for k, ex in other.examples.items():
            mine = self.examples.setdefault(k, [])
            mine.extend(ex[: N_EXAMPLES - len(mine)])
        for k, h in other.hists.items():
            mine = self.hists.setdefault(k, [0] * N_BINS)
            self.hists[k] = [a + b for a, b in zip(mine, h, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "seen": self.seen, "kept": self.kept, "removed": self.removed,
                "reasons": dict(self.reasons), "examples": self.examples, "hists": self.hists,
                "tags": dict(self.tags)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DocStepStats:
        return cls(d["name"], d["seen"], d["kept"], d["removed"], Counter(d["reasons"]),
                   d["examples"], d["hists"], Counter(d.get("tags", {})))


class DocStep:
    """A curation operator over documents (datatrove's PipelineStep), not a model-call step
    (`bimo.runner.GenerationStep`). Subclasses implement `process(doc) -> None | reason`."""

    name = "step"

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "__init__" in cls.__dict__:  # check options against the type hints (ranges, languages)
            cls.__init__ = validate_call(config={"arbitrary_types_allowed": True})(cls.__init__)

    def __init__(self) -> None:
        self.stats = DocStepStats(self.name)
        self.sink: Sink | None = None

    def process(self, doc: Doc) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def reject(self, doc: Doc, reason: str) -> None:
        doc.setdefault("metadata", {})["rejected"] = {"step": self.name, "reason": reason}
        self.stats.reject(doc, reason)
        if self.sink is not None:
            self.sink(doc)

    def run(self, docs: Iterable[Doc]) -> Iterator[Doc]:
        for doc in docs:
            self.stats.seen += 1
            reason = self.process(doc)
            if reason is None:
                self.stats.kept += 1
                yield doc
            else:
                self.reject(doc, reason)


def run_doc_steps(steps: list[DocStep], docs: Iterable[Doc]) -> Iterator[Doc]:
    """Chain steps lazily, datatrove style: each pulls from the previous."""
    for step in steps:
        docs = step.run(docs)
    yield from docs
