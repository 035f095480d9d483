"""Mixer: sample to target ratios by genre and language, then balance sources.

Targets multiply: with genre fiction:non-fiction = 1:1 and language zh:en = 4:1,
bucket (fiction, zh) gets 0.5 × 0.8 = 40% of the output. The largest output
that fits every bucket's supply is kept; inside a bucket, sources (or topics,
any metadata key) get shares ∝ count^alpha (alpha < 1 smooths the mix, as WeLM
did), capped by what each has. Whether a document is kept is a pure function
of (seed, id) and these rates, so results are reproducible and identical on any
engine or shard layout.

With the corpus-wide counts at hand (`quota_thresholds`), a bucket keeps exactly
round(rate × n) documents — those with the smallest hash of (seed, id) — so small
corpora hit the ratios too, instead of flipping a coin per document.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, field_validator

from bimo.curate.base import Doc, Lang, Step


class MixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    genre: dict[str, NonNegativeFloat] = Field(default_factory=lambda: {"fiction": 1.0, "nonfiction": 1.0},
                                               min_length=1)
    lang: dict[Lang, NonNegativeFloat] = Field(default_factory=lambda: {"zh": 4.0, "en": 1.0}, min_length=1)
    balance_by: str | None = "source"
    alpha: float = Field(1.0, ge=0, le=1)
    seed: int = 0

    @field_validator("genre", "lang")
    @classmethod
    def _some_weight(cls, v: dict[str, float]) -> dict[str, float]:
        if sum(v.values()) <= 0:
            raise ValueError("at least one weight must be above 0")
        return v


def bucket_of(meta: dict, cfg: MixConfig) -> tuple[str, str, str]:
    src = str(meta.get(cfg.balance_by) or meta.get("source_file") or "") if cfg.balance_by else ""
    return str(meta.get("genre", "unknown")), str(meta.get("lang", "other")), src


def _allot(total: float, counts: dict[str, int], alpha: float) -> dict[str, float]:
    """Water-filling: shares ∝ n^alpha, never more than a source has."""
    out: dict[str, float] = {}
    left, free = total, dict(counts)
    while free and left > 1e-9:
        w = {s: n ** alpha for s, n in free.items()}
        tw = sum(w.values())
        capped = {s for s in free if left * w[s] / tw >= free[s]}
        if not capped:
            for s in free:
                out[s] = left * w[s] / tw
            break
        for s in capped:
            out[s] = float(free.pop(s))
            left -= out[s]
    return out


def keep_rates(counts: Counter, cfg: MixConfig) -> dict[tuple[str, str, str], float]:
    """Keep probability for each (genre, lang, source) bucket from the counts after dedup."""
    gsum, lsum = sum(cfg.genre.values()), sum(cfg.lang.values())
    per_gl: Counter = Counter()
    for (g, lang, _), n in counts.items():
        per_gl[(g, lang)] += n
    shares = {(g, lang): cfg.genre.get(g, 0) / gsum * cfg.lang.get(lang, 0) / lsum for (g, lang) in per_gl}
    feasible = [per_gl[k] / s for k, s in shares.items() if s > 0]
    total = min(feasible) if feasible else 0.0
    rates: dict[tuple[str, str, str], float] = {}
    for (g, lang), share in shares.items():
        srcs = {s: n for (gg, ll, s), n in counts.items() if (gg, ll) == (g, lang)}
        allot = _allot(total * share, srcs, cfg.alpha)
        for s, n in srcs.items():
            rates[(g, lang, s)] = min(1.0, allot.get(s, 0.0) / n) if n else 0.0
    return rates


def uniform(seed: int, doc_id: str) -> float:
    h = hashlib.blake2b(f"{seed}\x00{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64


def quota_thresholds(columns: Callable[[], Iterable[tuple[list[tuple[str, str, str]], np.ndarray]]],
                     cfg: MixConfig, bins: int = 4096) -> tuple[dict[tuple[str, str, str], float],
                                                             dict[tuple[str, str, str], float]]:
    """Keep rates and, per bucket, the threshold that keeps exactly round(rate × n) documents.

    `columns()` yields, a shard at a time, the buckets of the documents and their
    `uniform(seed, id)` values; it is read twice. The threshold is the k-th smallest value of
    the bucket: the first pass counts values in `bins` equal bins, the second keeps only the
    values of the bin that holds the k-th, so memory is a few KB per bucket, not per document.
    Returns (rates, thresholds); keeping a document when its value is at most its bucket's
    threshold keeps the quota (1.0: the whole bucket, -1.0: none of it).
    """
    index: dict[tuple[str, str, str], int] = {}
    hist = np.zeros((0, bins), np.int64)
    for buckets, u in columns():
        codes = np.fromiter((index.setdefault(x, len(index)) for x in buckets), dtype=np.int64, count=len(buckets))
        if len(index) > len(hist):
            hist = np.vstack([hist, np.zeros((len(index) - len(hist), bins), np.int64)])
        slot = np.minimum((u * bins).astype(np.int64), bins - 1)
        hist += np.bincount(codes * bins + slot, minlength=len(index) * bins).reshape(-1, bins)
    names = list(index)
    rates = keep_rates(Counter({b: int(hist[c].sum()) for c, b in enumerate(names)}), cfg)
    thresholds: dict[tuple[str, str, str], float] = {}
    want_bin = np.full(len(names), -1, np.int64)  # per bucket: the bin holding its k-th value ...
    want_rank = np.zeros(len(names), np.int64)  # ... and the k-th value's rank inside that bin
    for c, b in enumerate(names):
        n = int(hist[c].sum())
        k = min(n, round(rates.get(b, 0.0) * n))
        if k >= n:
            thresholds[b] = 1.0
        elif k <= 0:
            thresholds[b] = -1.0
        else:
            cum = np.cumsum(hist[c])
            want_bin[c] = int(np.searchsorted(cum, k))
            want_rank[c] = k - (int(cum[want_bin[c] - 1]) if want_bin[c] else 0)
    if (want_bin >= 0).any():
        found: dict[int, list[np.ndarray]] = {}
        for buckets, u in columns():
            codes = np.fromiter((index[x] for x in buckets), dtype=np.int64, count=len(buckets))
            slot = np.minimum((u * bins).astype(np.int64), bins - 1)
            hit = want_bin[codes] == slot
            for c in np.unique(codes[hit]).tolist():
                found.setdefault(c, []).append(u[hit & (codes == c)])
        for c in np.nonzero(want_bin >= 0)[0].tolist():
            thresholds[names[c]] = float(np.sort(np.concatenate(found[c]))[want_rank[c] - 1])
    return rates, thresholds


class Mixer(Step):
    name = "mix"

    def __init__(self, cfg: MixConfig, rates: dict[tuple[str, str, str], float],
                 thresholds: dict[tuple[str, str, str], float] | None = None):
        super().__init__()
        self.cfg, self.rates, self.thresholds = cfg, rates, thresholds

    def decide(self, doc_id: str, bucket: tuple[str, str, str]) -> str | None:
        rate = self.rates.get(bucket, 0.0)
        u = uniform(self.cfg.seed, doc_id)
        keep = u <= self.thresholds[bucket] if self.thresholds and bucket in self.thresholds else u < rate
        if keep:
            self.stats.tags[f"{bucket[0]}/{bucket[1]}"] += 1
            return None
        return f"mix_downsampled: {bucket[0]}/{bucket[1]} rate {rate:.3f}"

    def process(self, doc: Doc) -> str | None:
        return self.decide(str(doc["id"]), bucket_of(doc["metadata"], self.cfg))
