"""Judge self-consistency: the same items judged twice, and in both orders.

A judge worth trusting gives the same verdict when asked again (repeat agreement)
and when the answers are shown the other way round (order consistency). Small
judges usually fail the second test, preferring whichever answer comes first.
The repeat run bypasses the answer cache and uses other seeds; at temperature 0 a
deterministic backend agrees with itself by construction, so the order test is the
informative one there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bimo.evaluate import rubric as rb
from bimo.evaluate.defaults import AGREEMENT_ITEMS
from bimo.evaluate.judge_step import JudgeSettings, JudgeStep
from bimo.evaluate.predictions import item_key, keyed_predictions, load_predictions
from bimo.runner import map_step

REPEAT_OFFSET = 1000  # seeds of the repeat run, far from the first run's retry seeds



class _PairTwiceAndSwapped(JudgeStep):
    """Order AB, AB again (other seeds, no answer cache) and BA for one prompt."""

    name = "agreement"

    def key(self, job: dict[str, Any]) -> str:
        return job["key"]

    def process(self, job: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        ra, rb_ = job["a"], job["b"]
        ab_msgs = rb.pair_messages(ra, ra["response"], rb_["response"])
        ab = self.generate(ab_msgs, attempt, schema=rb.PAIR_SCHEMA, parse=rb.parse_pair)
        ab2 = self.generate(ab_msgs, attempt, schema=rb.PAIR_SCHEMA, parse=rb.parse_pair, cache=False,
                            salt=REPEAT_OFFSET)
        ba = self.generate(rb.pair_messages(ra, rb_["response"], ra["response"]), attempt, schema=rb.PAIR_SCHEMA,
                           parse=rb.parse_pair)
        return [{"ab": ab, "ab2": ab2, "ba": ba}]


class _ScoreTwice(JudgeStep):
    """The same answer scored twice: as usual, then with other seeds and no answer cache."""

    name = "agreement"

    def __init__(self, backend: Any, settings: JudgeSettings, rubric: rb.Rubric):
        super().__init__(backend, settings)
        self.rubric = rubric

    def key(self, rec: dict[str, Any]) -> str:
        return item_key(rec)

    def process(self, rec: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        msgs = rb.score_messages(self.rubric, rec, rec["response"])
        schema, parse = rb.score_schema(self.rubric), (lambda t: rb.parse_scores(self.rubric, t))
        first = self.generate(msgs, attempt, schema=schema, parse=parse)
        second = self.generate(msgs, attempt, schema=schema, parse=parse, cache=False, salt=REPEAT_OFFSET)
        return [{"first": first, "second": second}]


def pairwise_agreement(backend: Any, path_a: str | Path, path_b: str | Path, settings: JudgeSettings,
                       n: int = AGREEMENT_ITEMS) -> dict[str, Any]:
    """Order consistency, repeat agreement and position bias of a pairwise judge on n shared prompts."""
    pa, dups_a = keyed_predictions(path_a)
    pb, dups_b = keyed_predictions(path_b)
    keys = [k for k in pa if k in pb][:n]
    jobs = [{"key": k, "a": pa[k], "b": pb[k]} for k in keys]

    swap = {"A": "B", "B": "A", "tie": "tie"}
    results, failures = _judge_all(_PairTwiceAndSwapped(backend, settings), jobs, settings)
    rows = [(r["ab"], r["ab2"], r["ba"]) for r in results]
    n_ok = len(rows)
    shown = [v for ab, _, ba in rows for v in (ab, ba) if v != "tie"]
    return {
        "kind": "pairwise", "judge": settings.judge, "temperature": settings.temperature,
        "items": len(keys), "judged": n_ok, "failed": len(failures),
        "repeat_agreement": _rate(sum(ab == ab2 for ab, ab2, _ in rows), n_ok),
        "order_consistency": _rate(sum(ab == swap[ba] for ab, _, ba in rows), n_ok),
        # share of decisive verdicts that picked whatever was shown first (0.5 = no position bias)
        "first_position_rate": _rate(sum(v == "A" for v in shown), len(shown)),
        "failures": failures,
        "duplicates": [{k: d[k] for k in ("file", "row", "key", "reason")} for d in dups_a + dups_b],
    }


def pointwise_agreement(backend: Any, path: str | Path, rubric_name: str, settings: JudgeSettings,
                        n: int = AGREEMENT_ITEMS) -> dict[str, Any]:
    """How far two judgments of the same items differ: mean absolute difference, exact agreement, correlation."""
    import numpy as np

    rubric = rb.load_rubric("writebench" if rubric_name == "criteria" else rubric_name)
    recs = load_predictions(path)[:n]

    results, failures = _judge_all(_ScoreTwice(backend, settings, rubric), recs, settings)
    pairs = [(r["first"], r["second"]) for r in results]
    x = np.array([p[0]["overall"] for p in pairs], dtype=float)
    y = np.array([p[1]["overall"] for p in pairs], dtype=float)
    corr = float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 and x.std() > 0 and y.std() > 0 else None
    return {
        "kind": "pointwise", "rubric": rubric.name, "judge": settings.judge, "temperature": settings.temperature,
        "items": len(recs), "judged": len(pairs), "failed": len(failures),
        "mean_abs_diff": float(np.mean(np.abs(x - y))) if len(x) else None,
        "exact_agreement": _rate(int(np.sum(x == y)), len(x)),
        "pearson_r": corr,
        "failures": failures,
    }


def _judge_all(step: Any, items: list[dict[str, Any]], settings: JudgeSettings) -> tuple[list[dict], list[dict]]:
    """Each item's one result, in order, and the failed items (which one, why, after how many tries)."""
    results, failures = [], []
    for outcome in map_step(step, items, retries=settings.retries):
        if outcome.results is None:
            failures.append({"key": outcome.key, "reason": outcome.reason, "kind": outcome.kind,
                             "attempts": outcome.attempts})
        else:
            results.append(outcome.results[0])
    return results, failures


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None
