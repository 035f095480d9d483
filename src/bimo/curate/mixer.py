"""Mixer: sample to target ratios by genre and language, then balance sources.

Targets multiply: with genre fiction:non-fiction = 1:1 and language zh:en = 4:1,
bucket (fiction, zh) gets 0.5 × 0.8 = 40% of the output. The largest output
that fits every bucket's supply is kept; inside a bucket, sources (or topics,
any metadata key) get shares ∝ count^alpha (alpha < 1 smooths the mix, as WeLM
did), capped by what each has. Whether a document is kept is a pure function
of (seed, id) and these rates, so results are reproducible and identical on any
engine or shard layout.

With the corpus-wide counts at hand (`quota_thresholds`), quotas are integers: the
output size is split over the whole (genre × language) grid by largest remainder, then
each cell's quota over its sources; a bucket keeps exactly its quota — the documents with
the smallest hash of (seed, id) — so small corpora hit the ratios too (to one document).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, field_validator

from bimo.curate.base import DocStep, Lang
from bimo.curate.workshards import WorkRow
from bimo.errors import BimoError


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


def largest_remainder(total: int, weights: dict, caps: dict | None = None) -> dict:
    """Split the integer `total` in proportion to `weights` (Hamilton's method): floors first, then one
    more to the largest remainders; with `caps`, no key gets more than its cap (the rest is refilled)."""
    out = {k: 0 for k in weights}
    left = total
    free = {k: w for k, w in weights.items() if w > 0 and (caps is None or caps[k] > 0)}
    while left > 0 and free:
        tw = sum(free.values())
        exact = {k: left * w / tw for k, w in free.items()}
        give = {k: int(v) for k, v in exact.items()}
        rest = left - sum(give.values())
        for k in sorted(free, key=lambda k: (-(exact[k] - give[k]), str(k)))[:rest]:
            give[k] += 1
        over = False
        for k in list(free):
            room = caps[k] - out[k] if caps is not None else give[k]
            got = min(give[k], room)
            out[k] += got
            left -= got
            if caps is not None and out[k] >= caps[k]:
                del free[k]
                over = over or give[k] > room
        if not over:
            break
    return out


def cell_quotas(supply: dict[tuple[str, str], int], cfg: MixConfig) -> dict[tuple[str, str], int]:
    """Documents per (genre, language) cell: the largest output N for which every cell's exact share
    N × share fits its supply, split over the whole grid by largest remainder (a step down while a rounded
    quota would exceed a supply), so the ratios hold to one document on any corpus size.

    A cell with a target share but no documents makes every ratio impossible: that is a one-line error
    saying which cell and how many documents it would need.
    """
    gsum, lsum = sum(cfg.genre.values()), sum(cfg.lang.values())
    shares = {(g, la): wg / gsum * wl / lsum for g, wg in cfg.genre.items() for la, wl in cfg.lang.items()
              if wg > 0 and wl > 0}
    have = ", ".join(f"{g}/{la} {n}" for (g, la), n in sorted(supply.items()) if n) or "nothing"
    empty = [c for c in shares if supply.get(c, 0) == 0]
    if empty:
        g, la = empty[0]
        raise BimoError(f"mix: no {g}/{la} documents, but the mix wants {shares[empty[0]]:.0%} of the output "
                        f"to be {g}/{la} (supply: {have}); lower mix.genre.{g} or mix.lang.{la} to 0, or add "
                        f"{g}/{la} documents")
    n = int(min(supply[c] / s for c, s in shares.items()) + 1e-9)

    def fits(total: int) -> dict[tuple[str, str], int] | None:
        q = largest_remainder(total, shares)
        return q if all(q[c] <= supply[c] for c in shares) else None

    best = None
    for total in range(n, -1, -1):  # rounding up can overshoot a supply by one: then a step down
        if (best := fits(total)) is not None:
            break
    return best or {c: 0 for c in shares}


def bucket_quotas(counts: Counter, cfg: MixConfig) -> dict[tuple[str, str, str], int]:
    """Documents to keep per (genre, language, source) bucket: cell quotas over the whole grid, then each
    cell's quota split over its sources ∝ count^alpha (largest remainder, capped by what each has)."""
    supply: Counter = Counter()
    for (g, la, _), n in counts.items():
        supply[(g, la)] += n
    cells = cell_quotas(supply, cfg)
    out: dict[tuple[str, str, str], int] = {b: 0 for b in counts}
    for (g, la), q in cells.items():
        srcs = {s: n for (gg, ll, s), n in counts.items() if (gg, ll) == (g, la)}
        for s, k in largest_remainder(q, {s: n ** cfg.alpha for s, n in srcs.items()}, srcs).items():
            out[(g, la, s)] = k
    return out


def keep_rates(counts: Counter, cfg: MixConfig) -> dict[tuple[str, str, str], float]:
    """Keep probability for each (genre, lang, source) bucket from the counts after dedup."""
    return {b: (k / counts[b] if counts[b] else 0.0) for b, k in bucket_quotas(counts, cfg).items()}


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
    sizes = Counter({b: int(hist[c].sum()) for c, b in enumerate(names)})
    quota = bucket_quotas(sizes, cfg)
    rates = {b: (quota[b] / sizes[b] if sizes[b] else 0.0) for b in names}
    thresholds: dict[tuple[str, str, str], float] = {}
    want_bin = np.full(len(names), -1, np.int64)  # per bucket: the bin holding its k-th value ...
    want_rank = np.zeros(len(names), np.int64)  # ... and the k-th value's rank inside that bin
    for c, b in enumerate(names):
        n = int(hist[c].sum())
        k = min(n, quota.get(b, 0))
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


class Mixer(DocStep):
    """Keeps each work-shard row by its bucket's rate (stage C); the rows carry id and bucket from stage A."""

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

    def process(self, row: WorkRow) -> str | None:
        doc_id, genre, lang, src, _ = row.mix
        return self.decide(doc_id, (genre, lang, src))

    def reject(self, row: WorkRow, reason: str) -> None:
        super().reject(row.doc(), reason)
