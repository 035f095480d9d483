"""LongBench-Write length score S_l.

With x the required length and y the produced length (both counted by
`bimo.text.count_length`), overshooting is punished more gently than
undershooting, as in LongWriter:

    y > x:  S_l = 100 * max(0, 1 - (y/x - 1) / 3)
    y <= x: S_l = 100 * max(0, 1 - (x/y - 1) / 2)     (y = 0 gives 0)

S_l only counts, so every record also gets the integrity measures of `bimo.integrity`
(repetition, stalling, language leaks, dangling endings) and `s_l_eff`, S_l on the
*effective* length — the units not covered by a repeat of an earlier 8-gram. A writer
that loops gets a high S_l and a low `s_l_eff`. Records over the thresholds
(`IntegrityThresholds`, documented in docs/write.md) are flagged with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bimo.errors import BimoError
from bimo.integrity import IntegrityThresholds, measure

#: LongBench-Write's buckets of required length; the last one is closed at 20k.
BUCKETS: list[tuple[int, int]] = [(0, 500), (500, 2000), (2000, 4000), (4000, 20000)]


def length_score(required: float, produced: float) -> float:
    """S_l in [0, 100] for a required length and a produced length."""
    if required <= 0:
        raise ValueError(f"required length must be positive, got {required}")
    if produced <= 0:
        return 0.0
    if produced > required:
        return 100.0 * max(0.0, 1.0 - (produced / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / produced - 1.0) / 2.0)


def bucket_of(required: float) -> str:
    """The label of the length bucket `required` falls in, e.g. '[500,2k)'."""
    for i, (lo, hi) in enumerate(BUCKETS):
        last = i == len(BUCKETS) - 1
        if lo <= required < hi or (last and required == hi):
            return bucket_label(lo, hi, last)
    return f">{_k(BUCKETS[-1][1])}"


def bucket_label(lo: int, hi: int, closed: bool = False) -> str:
    return f"[{_k(lo)},{_k(hi)}{']' if closed else ')'}"


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def score_records(records: Iterable[dict[str, Any]], source: str = "input",
                  thresholds: IntegrityThresholds | None = None) -> dict[str, Any]:
    """S_l and integrity for every record with `response` and `length`, plus means overall
    and per bucket.

    Records are checked up front so a wrong file fails with one line naming the
    record, instead of a KeyError deep inside.
    """
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(records, 1):
        if "response" not in rec or "length" not in rec:
            missing = [k for k in ("response", "length") if k not in rec]
            raise BimoError(f"{source}: record {i} lacks field(s) {', '.join(missing)} (need prompt, response, length)")
        try:
            required = float(rec["length"])
        except (TypeError, ValueError):
            raise BimoError(f"{source}: record {i} has a non-numeric length {rec['length']!r}") from None
        if required <= 0:
            raise BimoError(f"{source}: record {i} has length {rec['length']!r}; it must be positive")
        if not isinstance(rec["response"], str):
            raise BimoError(f"{source}: record {i} has a response that is not a string")
        integ = measure(rec["response"], prompt=str(rec.get("prompt") or ""))
        rows.append({
            "id": rec.get("id", i),
            "required": required,
            "produced": integ.units,
            "bucket": bucket_of(required),
            "s_l": length_score(required, integ.units),
            "s_l_eff": length_score(required, integ.effective_length),
            **integ.summary(),
            "curve": [round(v, 4) for v in integ.curve],
            "flags": integ.flags(thresholds),
        })
    return summarize(rows)


#: Per-record figures averaged per bucket and overall.
_MEANS = ("s_l", "s_l_eff", "repeated_share", "repeated_sentences", "near_repeats", "last_new")


def _aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for key in _MEANS:
        out[key] = sum(r[key] for r in rows) / len(rows) if rows else None
    out["max_repeated_share"] = max((r["repeated_share"] for r in rows), default=None)
    out["leaks"] = sum(r["leaks"] for r in rows)
    out["scaffolding"] = sum(r["scaffolding"] for r in rows)
    out["dangling"] = sum(1 for r in rows if r["ending"])
    out["flagged"] = sum(1 for r in rows if r["flags"])
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_bucket.setdefault(row["bucket"], []).append(row)
    order = [bucket_label(lo, hi, i == len(BUCKETS) - 1) for i, (lo, hi) in enumerate(BUCKETS)]
    buckets = {b: _aggregate(by_bucket[b]) for b in order + sorted(set(by_bucket) - set(order)) if b in by_bucket}
    return {**_aggregate(rows), "buckets": buckets, "records": rows}


def mean_curve(rows: list[dict[str, Any]]) -> list[float]:
    """Repeated 8-gram share per tenth of the text, averaged over the records that have one."""
    curves = [r["curve"] for r in rows if r.get("curve")]
    return [sum(c[k] for c in curves) / len(curves) for k in range(10)] if curves else []
