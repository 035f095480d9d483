"""Pairwise win rates: ties as half, bootstrap intervals, Ziya's bands, length control.

Win rate of A over B = (wins + ties / 2) / total. Ziya reads it in bands: above
55% A is clearly better, below 45% clearly worse, in between comparable.

A verdict word has to be earned: `verdict` says "better" only when the whole 95%
interval lies above 55% (and "worse" only when it lies below 45%), else "no clear
difference". The interval used is the wider of the bootstrap interval and the Wilson
interval, because a bootstrap over one or two battles is [100%, 100%] after a single
win. `battles_needed` says how many battles in all would make the interval clear the
band at the present win rate.

Judges (and people) prefer longer answers. The length-controlled win rate regresses
the preference on the length difference, p = sigmoid(b0 + b1 * tanh(d / sd(d))), and
reports sigmoid(b0): the win rate the two models would have at equal length
(the idea of AlpacaEval's length-controlled win rate). Its 95% interval comes from
a bootstrap over battles, refitting the regression on every resample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bimo.evaluate.battles import Battle
from bimo.evaluate.defaults import ROUNDS

BETTER, WORSE = 0.55, 0.45



def band(win_rate: float) -> str:
    """Ziya's reading of a win rate: 'better' (> 55%), 'worse' (< 45%) or 'comparable'."""
    if win_rate > BETTER:
        return "better"
    if win_rate < WORSE:
        return "worse"
    return "comparable"


def wilson_ci(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a rate over n trials (ties count half)."""
    if n <= 0:
        return float("nan"), float("nan")
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def verdict(rate: float, ci: Sequence[float], n: int) -> str:
    """'better' / 'worse' only when the interval clears Ziya's 45-55% band, else 'no clear difference'."""
    if not n:
        return "no battles"
    w_lo, w_hi = wilson_ci(rate, n)
    lo, hi = min(ci[0], w_lo), max(ci[1], w_hi)
    if lo > BETTER:
        return "better"
    if hi < WORSE:
        return "worse"
    return "no clear difference"


def battles_needed(rate: float, z: float = 1.96) -> int | None:
    """Battles in all for the 95% interval to clear the band at this win rate; None when the
    rate itself lies inside 45-55% (more battles would only narrow in on 'comparable')."""
    margin = abs(rate - 0.5) - (BETTER - 0.5)
    if not margin > 0:
        return None
    return int(np.ceil(z * z * rate * (1 - rate) / (margin * margin)))


def verdict_text(s: dict[str, Any]) -> str:
    """The verdict and, when there is none, what it would take: 'no clear difference: about 834 more battles'."""
    v = s.get("verdict") or band(s["win_rate"])
    if v != "no clear difference":
        return v
    need = s.get("battles_needed")
    if need is None:
        return f"{v}: the win rate lies inside the {WORSE:.0%}-{BETTER:.0%} band"
    return f"{v}: about {max(need - s['n'], 1)} more battles would be needed to tell"


def scores_for(battles: Sequence[Battle], a: str, b: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A's score in every battle between a and b (1 win, 0.5 tie, 0 loss), and the
    length difference len(a) - len(b) per battle (None when any length is unknown)."""
    from bimo.text import count_length

    scores, diffs = [], []
    for bt in battles:
        if {bt.model_a, bt.model_b} != {a, b}:
            continue
        s = 0.5 if bt.winner == "tie" else float(bt.winner == "model_a")
        la, lb = _length(bt, "a", count_length), _length(bt, "b", count_length)
        if bt.model_a != a:
            s, la, lb = 1.0 - s, lb, la
        scores.append(s)
        diffs.append(None if la is None or lb is None else la - lb)
    known = diffs and all(d is not None for d in diffs)
    return np.asarray(scores, dtype=float), (np.asarray(diffs, dtype=float) if known else None)


def _length(bt: Battle, side: str, count) -> float | None:
    text = bt.response_a if side == "a" else bt.response_b
    if text is not None:
        return float(count(text))
    val = bt.meta.get(f"len_{side}")
    return None if val is None else float(val)


def win_rate(scores: np.ndarray) -> float:
    return float(np.mean(scores)) if len(scores) else float("nan")


def bootstrap_ci(scores: np.ndarray, rounds: int = ROUNDS, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the win rate.

    Resampling n battles with replacement only changes how many wins, ties and
    losses there are, so each round is one multinomial draw: O(rounds), not O(rounds * n).
    """
    n = len(scores)
    if n == 0 or rounds <= 0:
        return float("nan"), float("nan")
    counts = np.array([np.sum(scores == 1.0), np.sum(scores == 0.5), np.sum(scores == 0.0)], dtype=float)
    if counts.sum() != n:  # fractional scores: fall back to plain resampling
        idx = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
        means = scores[idx].mean(axis=1)
    else:
        draws = np.random.default_rng(seed).multinomial(n, counts / n, size=rounds)
        means = (draws[:, 0] + 0.5 * draws[:, 1]) / n
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def length_controlled_win_rate(scores: np.ndarray, len_diff: np.ndarray, ridge: float = 1e-4) -> float:
    """Win rate at equal length from a logistic regression on tanh-scaled length difference.

    Ties enter as target 0.5 (a fractional logistic likelihood, still convex). A small
    ridge on the slope keeps it finite when length separates wins from losses perfectly;
    the intercept is not penalised, so with no length differences the answer is the
    plain win rate.
    """
    y = np.asarray(scores, dtype=float)
    if len(y) == 0:
        return float("nan")
    return float(_lc_fit(y[None, :], np.asarray(len_diff, dtype=float)[None, :], ridge)[0])


def length_controlled_ci(scores: np.ndarray, len_diff: np.ndarray, rounds: int = ROUNDS, seed: int = 0,
                         level: float = 0.95, ridge: float = 1e-4) -> tuple[float, float]:
    """Percentile bootstrap interval of the length-controlled win rate.

    Each round resamples battles (score and length difference together) with
    replacement and refits the regression, length scale included, so the interval
    carries the uncertainty of both the preference and the length effect.
    """
    y = np.asarray(scores, dtype=float)
    d = np.asarray(len_diff, dtype=float)
    n = len(y)
    if n == 0 or rounds <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, min(rounds, 2_000_000 // n))  # bound the memory of one batch of fits
    fits = []
    for start in range(0, rounds, chunk):
        idx = rng.integers(0, n, size=(min(chunk, rounds - start), n))
        fits.append(_lc_fit(y[idx], d[idx], ridge))
    lo, hi = np.quantile(np.concatenate(fits), [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _lc_fit(y: np.ndarray, d: np.ndarray, ridge: float) -> np.ndarray:
    """sigmoid(b0) of p = sigmoid(b0 + b1 tanh(d / sd(d))) for each row of (rows, n) arrays.

    Newton's method on all rows at once (the 2 x 2 systems are solved in closed form).
    A row without length differences gives its plain win rate; a row of all wins (or
    all losses) gives 1 (or 0), where the unpenalised intercept has no finite optimum.
    """
    rows, n = y.shape
    mean = y.mean(axis=1)
    sd = d.std(axis=1)
    out = mean.copy()
    fit = (sd > 0) & (mean > 0) & (mean < 1)
    if not fit.any():
        return out
    y, d, sd = y[fit], d[fit], sd[fit]
    x = np.tanh(d / sd[:, None])
    b0 = np.zeros(len(y))
    b1 = np.zeros(len(y))
    pen = ridge * n
    for _ in range(100):
        z = np.clip(b0[:, None] + b1[:, None] * x, -500, 500)
        p = 1.0 / (1.0 + np.exp(-z))
        r, w = y - p, p * (1 - p)
        g0 = r.sum(axis=1)
        g1 = (x * r).sum(axis=1) - pen * b1
        h00 = w.sum(axis=1) + 1e-12
        h01 = (w * x).sum(axis=1)
        h11 = (w * x * x).sum(axis=1) + pen + 1e-12
        det = h00 * h11 - h01 * h01
        s0 = (h11 * g0 - h01 * g1) / det
        s1 = (h00 * g1 - h01 * g0) / det
        b0 += s0
        b1 += s1
        if max(np.max(np.abs(s0)), np.max(np.abs(s1))) < 1e-10:
            break
    out[fit] = 1.0 / (1.0 + np.exp(-b0))
    return out


def pair_summary(battles: Sequence[Battle], a: str, b: str, rounds: int = ROUNDS, seed: int = 0) -> dict[str, Any]:
    """Everything about A vs B: counts, win rate with 95% interval, band, and the
    length-controlled rate with its 95% interval (None when lengths are unknown)."""
    s, d = scores_for(battles, a, b)
    wr = win_rate(s)
    lo, hi = bootstrap_ci(s, rounds=rounds, seed=seed)
    has_lc = d is not None and len(s) > 0
    lc_ci = list(length_controlled_ci(s, d, rounds=rounds, seed=seed)) if has_lc and rounds > 0 else None
    return {
        "model_a": a, "model_b": b, "n": int(len(s)),
        "wins": int(np.sum(s == 1.0)), "ties": int(np.sum(s == 0.5)), "losses": int(np.sum(s == 0.0)),
        "win_rate": wr, "ci": [lo, hi], "band": band(wr) if len(s) else None,
        "verdict": verdict(wr, (lo, hi), len(s)),
        "battles_needed": battles_needed(wr) if len(s) else None,
        "lc_win_rate": length_controlled_win_rate(s, d) if has_lc else None,
        "lc_ci": lc_ci,
    }


def models_of(battles: Sequence[Battle]) -> list[str]:
    return sorted({m for bt in battles for m in (bt.model_a, bt.model_b)})


def win_rate_matrix(battles: Sequence[Battle], models: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """M[i, j] = win rate of model i against model j (NaN where they never met)."""
    models = list(models or models_of(battles))
    idx = {m: i for i, m in enumerate(models)}
    score = np.zeros((len(models), len(models)))
    games = np.zeros_like(score)
    for bt in battles:
        i, j = idx.get(bt.model_a), idx.get(bt.model_b)
        if i is None or j is None:
            continue
        s = 0.5 if bt.winner == "tie" else float(bt.winner == "model_a")
        score[i, j] += s
        score[j, i] += 1 - s
        games[i, j] += 1
        games[j, i] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return models, np.where(games > 0, score / np.maximum(games, 1), np.nan)
