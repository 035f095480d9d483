"""Pairwise win rates: ties as half, bootstrap intervals, Ziya's bands, length control.

Win rate of A over B = (wins + ties / 2) / total. Ziya reads it in bands: above
55% A is clearly better, below 45% clearly worse, in between comparable.

Judges (and people) prefer longer answers. The length-controlled win rate regresses
the preference on the length difference, p = sigmoid(b0 + b1 * tanh(d / sd(d))), and
reports sigmoid(b0): the win rate the two models would have at equal length
(the idea of AlpacaEval's length-controlled win rate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bimo.evaluate.battles import Battle

BETTER, WORSE = 0.55, 0.45


def band(win_rate: float) -> str:
    """Ziya's reading of a win rate: 'better' (> 55%), 'worse' (< 45%) or 'comparable'."""
    if win_rate > BETTER:
        return "better"
    if win_rate < WORSE:
        return "worse"
    return "comparable"


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


def bootstrap_ci(scores: np.ndarray, rounds: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the win rate.

    Resampling n battles with replacement only changes how many wins, ties and
    losses there are, so each round is one multinomial draw: O(rounds), not O(rounds * n).
    """
    n = len(scores)
    if n == 0:
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
    d = np.asarray(len_diff, dtype=float)
    if len(y) == 0:
        return float("nan")
    sd = float(np.std(d))
    if sd == 0.0:
        return win_rate(y)
    x = np.tanh(d / sd)
    X = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    pen = np.array([0.0, ridge * len(y)])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        grad = X.T @ (y - p) - pen * beta
        hess = (X * (p * (1 - p))[:, None]).T @ X + np.diag(pen) + 1e-12 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(1.0 / (1.0 + np.exp(-beta[0])))


def pair_summary(battles: Sequence[Battle], a: str, b: str, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Everything about A vs B: counts, win rate with 95% interval, band, length-controlled rate."""
    s, d = scores_for(battles, a, b)
    wr = win_rate(s)
    lo, hi = bootstrap_ci(s, rounds=rounds, seed=seed)
    return {
        "model_a": a, "model_b": b, "n": int(len(s)),
        "wins": int(np.sum(s == 1.0)), "ties": int(np.sum(s == 0.5)), "losses": int(np.sum(s == 0.0)),
        "win_rate": wr, "ci": [lo, hi], "band": band(wr) if len(s) else None,
        "lc_win_rate": length_controlled_win_rate(s, d) if d is not None and len(s) else None,
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
