"""Bradley-Terry ratings on the Elo scale, fitted by maximum likelihood, with bootstrap intervals.

Model: P(i beats j) = sigmoid(t_i - t_j); a tie counts as half a win each way.
Battles are first reduced to counts per unordered pair of models, so fitting
100k battles costs the same as fitting a few hundred pair totals, and the result
cannot depend on battle order. The fit is Newton's method on the pair totals
(the Hessian is a weighted graph Laplacian, M x M), with a tiny ridge so an
unbeaten model or a disconnected group still gets a finite rating.

Ratings are reported as R = 1000 + 400 * log10(e) * (t - t_baseline): a
400-point gap means 10:1 odds, and the baseline sits at exactly 1000.

Bootstrap: resampling N battles with replacement only changes the counts in each
(pair, outcome) cell, so each round is a single multinomial draw over those cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bimo.errors import BimoError
from bimo.evaluate.battles import Battle
from bimo.evaluate.defaults import ROUNDS

SCALE = 400.0 / np.log(10.0)
ANCHOR = 1000.0


class PairCounts:
    """Battles reduced to cells: for each unordered pair (i < j), wins of i, ties, wins of j."""

    def __init__(self, models: list[str], i: np.ndarray, j: np.ndarray, counts: np.ndarray):
        self.models, self.i, self.j, self.counts = models, i, j, counts

    @classmethod
    def from_arrays(cls, models: list[str], a: np.ndarray, b: np.ndarray, outcome: np.ndarray) -> PairCounts:
        """`outcome` is 0 = a won, 1 = tie, 2 = b won; a and b index into `models`."""
        m = len(models)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        flipped = a > b
        out = np.where(flipped, 2 - outcome, outcome)  # outcome seen from the lower index
        cell = (lo * m + hi) * 3 + out
        flat = np.bincount(cell, minlength=m * m * 3).reshape(m * m, 3)
        keep = np.flatnonzero(flat.sum(axis=1))
        return cls(models, keep // m, keep % m, flat[keep].astype(float))

    @classmethod
    def from_battles(cls, battles: Sequence[Battle]) -> PairCounts:
        models = sorted({m for bt in battles for m in (bt.model_a, bt.model_b)})
        idx = {m: k for k, m in enumerate(models)}
        a = np.fromiter((idx[bt.model_a] for bt in battles), dtype=np.int64, count=len(battles))
        b = np.fromiter((idx[bt.model_b] for bt in battles), dtype=np.int64, count=len(battles))
        code = {"model_a": 0, "tie": 1, "model_b": 2}
        o = np.fromiter((code[bt.winner] for bt in battles), dtype=np.int64, count=len(battles))
        return cls.from_arrays(models, a, b, o)

    @property
    def n_battles(self) -> int:
        return int(self.counts.sum())


def fit_strengths(pc: PairCounts, counts: np.ndarray | None = None, ridge: float = 1e-3,
                  init: np.ndarray | None = None, tol: float = 1e-9) -> np.ndarray:
    """Maximum-likelihood log-strengths t (mean zero) for the given cell counts."""
    c = pc.counts if counts is None else counts
    m = len(pc.models)
    w = c[:, 0] + 0.5 * c[:, 1]  # wins of the lower-index model, ties as half
    n = c.sum(axis=1)
    i, j = pc.i, pc.j
    t = np.zeros(m) if init is None else init.copy()

    def objective(t: np.ndarray) -> float:
        d = t[i] - t[j]
        # -log sigmoid(x) = logaddexp(0, -x), stable for large |x|
        return float(np.sum(w * np.logaddexp(0, -d) + (n - w) * np.logaddexp(0, d)) + 0.5 * ridge * t @ t)

    f = objective(t)
    for _ in range(100):
        d = t[i] - t[j]
        p = 1.0 / (1.0 + np.exp(-d))
        g_pair = w - n * p  # d logL / d d_pair
        grad = np.bincount(i, g_pair, m) - np.bincount(j, g_pair, m) - ridge * t
        h = n * p * (1 - p)
        lap = np.zeros((m, m))
        np.add.at(lap, (i, j), -h)
        lap = lap + lap.T
        lap[np.diag_indices(m)] = -lap.sum(axis=1) + ridge
        step = np.linalg.solve(lap, grad)
        # Backtracking keeps Newton safe far from the optimum (lopsided data).
        alpha = 1.0
        while alpha > 1e-6:
            f_new = objective(t + alpha * step)
            if f_new <= f + 1e-12:
                break
            alpha *= 0.5
        t, f = t + alpha * step, f_new
        if np.max(np.abs(alpha * step)) < tol:
            break
    return t - t.mean()


def to_elo(t: np.ndarray, base: int) -> np.ndarray:
    return ANCHOR + SCALE * (t - t[..., base : base + 1] if t.ndim > 1 else t - t[base])


def bootstrap_strengths(pc: PairCounts, rounds: int = ROUNDS, seed: int = 0, init: np.ndarray | None = None) -> np.ndarray:
    """rounds x M log-strengths, one fit per multinomial resample of the cells."""
    rng = np.random.default_rng(seed)
    flat = pc.counts.ravel()
    total = int(flat.sum())
    draws = rng.multinomial(total, flat / total, size=rounds)
    out = np.empty((rounds, len(pc.models)))
    for r in range(rounds):
        out[r] = fit_strengths(pc, draws[r].reshape(pc.counts.shape).astype(float), init=init)
    return out


def default_baseline(battles: Sequence[Battle]) -> str:
    """The model in the most battles (ties broken by name), so the anchor is well measured."""
    n: dict[str, int] = {}
    for bt in battles:
        for m in (bt.model_a, bt.model_b):
            n[m] = n.get(m, 0) + 1
    return min(n, key=lambda m: (-n[m], m))


def compute_ratings(battles: Sequence[Battle], baseline: str | None = None, rounds: int = ROUNDS,
                    seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Ratings, 95% intervals, battle counts and raw win rates for every model, best first."""
    if not battles:
        raise BimoError("no battles to rate")
    pc = PairCounts.from_battles(battles)
    baseline = baseline or default_baseline(battles)
    if baseline not in pc.models:
        raise BimoError(f"baseline {baseline!r} is not in the battles; models: {', '.join(pc.models)}")
    base = pc.models.index(baseline)
    t = fit_strengths(pc)
    elo = to_elo(t, base)
    if rounds > 0:
        boot = to_elo(bootstrap_strengths(pc, rounds, seed, init=t), base)
        lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    else:
        lo = hi = np.full(len(pc.models), np.nan)
    m = len(pc.models)
    games = np.bincount(pc.i, pc.counts.sum(1), m) + np.bincount(pc.j, pc.counts.sum(1), m)
    score = (np.bincount(pc.i, pc.counts[:, 0] + 0.5 * pc.counts[:, 1], m)
             + np.bincount(pc.j, pc.counts[:, 2] + 0.5 * pc.counts[:, 1], m))
    rows = [{"model": name, "rating": float(elo[k]), "lower": float(lo[k]), "upper": float(hi[k]),
             "battles": int(games[k]), "win_rate": float(score[k] / games[k]) if games[k] else None}
            for k, name in enumerate(pc.models)]
    rows.sort(key=lambda r: (-r["rating"], r["model"]))
    return {"baseline": baseline, "n_battles": pc.n_battles, "bootstrap_rounds": rounds,
            "level": level, "ratings": rows}
