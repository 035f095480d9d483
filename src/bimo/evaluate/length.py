"""LongBench-Write length score S_l.

With x the required length and y the produced length (both counted by
`bimo.text.count_length`), overshooting is punished more gently than
undershooting, as in LongWriter:

    y > x:  S_l = 100 * max(0, 1 - (y/x - 1) / 3)
    y <= x: S_l = 100 * max(0, 1 - (x/y - 1) / 2)     (y = 0 gives 0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bimo.errors import BimoError
from bimo.text import count_length

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


def score_records(records: Iterable[dict[str, Any]], source: str = "input") -> dict[str, Any]:
    """S_l for every record with `response` and `length`, plus the mean and per-bucket means.

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
        produced = count_length(rec["response"])
        rows.append({
            "id": rec.get("id", i),
            "required": required,
            "produced": produced,
            "bucket": bucket_of(required),
            "s_l": length_score(required, produced),
        })
    return summarize(rows)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_bucket: dict[str, list[float]] = {}
    for row in rows:
        by_bucket.setdefault(row["bucket"], []).append(row["s_l"])
    order = [bucket_label(lo, hi, i == len(BUCKETS) - 1) for i, (lo, hi) in enumerate(BUCKETS)]
    buckets = {b: {"n": len(by_bucket[b]), "s_l": sum(by_bucket[b]) / len(by_bucket[b])}
               for b in order + sorted(set(by_bucket) - set(order)) if b in by_bucket}
    mean = sum(r["s_l"] for r in rows) / len(rows) if rows else None
    return {"n": len(rows), "s_l": mean, "buckets": buckets, "records": rows}
