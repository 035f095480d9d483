import numpy as np
import pytest

from bimo.evaluate.battles import Battle
from bimo.evaluate.winrate import (
    band,
    bootstrap_ci,
    length_controlled_ci,
    length_controlled_win_rate,
    pair_summary,
    scores_for,
    win_rate,
    win_rate_matrix,
)


def battles(a_wins, ties, b_wins, flip_every=0):
    out = []
    for w, n in (("model_a", a_wins), ("tie", ties), ("model_b", b_wins)):
        out += [Battle(prompt="p", model_a="A", model_b="B", winner=w) for _ in range(n)]
    if flip_every:  # the same verdicts recorded with the models in swapped seats
        swap = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
        out = [Battle(prompt="p", model_a="B", model_b="A", winner=swap[b.winner]) if i % flip_every == 0 else b
               for i, b in enumerate(out)]
    return out


def test_win_rate_counts_ties_as_half():
    s, _ = scores_for(battles(6, 2, 2), "A", "B")
    assert win_rate(s) == pytest.approx(0.7)
    s, _ = scores_for(battles(6, 2, 2), "B", "A")
    assert win_rate(s) == pytest.approx(0.3)


def test_win_rate_independent_of_seat():
    s1, _ = scores_for(battles(6, 2, 2), "A", "B")
    s2, _ = scores_for(battles(6, 2, 2, flip_every=2), "A", "B")
    assert sorted(s1) == sorted(s2)


def test_bands():
    assert band(0.56) == "better"
    assert band(0.55) == "comparable"
    assert band(0.45) == "comparable"
    assert band(0.44) == "worse"


def test_bootstrap_interval_contains_rate_and_shrinks_with_n():
    s_small, _ = scores_for(battles(14, 4, 2), "A", "B")
    s_big, _ = scores_for(battles(1400, 400, 200), "A", "B")
    lo1, hi1 = bootstrap_ci(s_small, seed=1)
    lo2, hi2 = bootstrap_ci(s_big, seed=1)
    assert lo1 < 0.8 < hi1 and lo2 < 0.8 < hi2
    assert hi2 - lo2 < (hi1 - lo1) / 5
    # normal approximation for n = 2000: sd = sqrt(var / n), var of {1, .5, 0} scores
    sd = np.sqrt(np.var(s_big) / len(s_big))
    assert (hi2 - lo2) == pytest.approx(2 * 1.96 * sd, rel=0.15)


def test_bootstrap_degenerate():
    s, _ = scores_for(battles(10, 0, 0), "A", "B")
    assert bootstrap_ci(s) == (1.0, 1.0)


def test_bootstrap_is_reproducible():
    s, _ = scores_for(battles(7, 3, 5), "A", "B")
    assert bootstrap_ci(s, seed=3) == bootstrap_ci(s, seed=3)


def test_lc_equals_raw_when_lengths_equal():
    s = np.array([1, 1, 1, 0.5, 0])
    assert length_controlled_win_rate(s, np.zeros(5)) == pytest.approx(win_rate(s))


def test_lc_removes_a_pure_length_effect_saturated():
    # Longer answer wins 80% of the time, whichever model wrote it; A is longer 3 times out of 4.
    s = np.array([1.0] * 24 + [0.0] * 6 + [1.0] * 2 + [0.0] * 8)
    d = np.array([300.0] * 30 + [-300.0] * 10)
    assert win_rate(s) == pytest.approx(0.65)
    assert length_controlled_win_rate(s, d) == pytest.approx(0.5, abs=2e-3)


def test_lc_simulated_length_bias():
    rng = np.random.default_rng(0)
    d = rng.normal(400, 500, 6000)          # A usually writes longer
    p = 1 / (1 + np.exp(-(0.0 + 1.5 * np.tanh(d / d.std()))))
    s = (rng.random(6000) < p).astype(float)
    assert win_rate(s) > 0.6
    assert length_controlled_win_rate(s, d) == pytest.approx(0.5, abs=0.04)


def simulate_length_bias(n, seed, b0=0.4, b1=1.5):
    """Battles where A is better by b0 (win rate sigmoid(b0) = 59.9% at equal length) and the
    longer answer is also favoured; A usually writes longer, so its raw win rate is inflated."""
    rng = np.random.default_rng(seed)
    d = rng.normal(300, 500, n)
    p = 1 / (1 + np.exp(-(b0 + b1 * np.tanh(d / d.std()))))
    u = rng.random(n)
    s = np.where(u < p - 0.05, 1.0, np.where(u < p + 0.05, 0.5, 0.0))  # 10% ties, mean still p
    return s, d


def test_lc_interval_contains_truth_and_shrinks():
    truth = 1 / (1 + np.exp(-0.4))
    s_small, d_small = simulate_length_bias(300, seed=1)
    s_big, d_big = simulate_length_bias(3000, seed=1)
    assert win_rate(s_big) > truth + 0.08  # the raw rate is inflated by length
    lo1, hi1 = length_controlled_ci(s_small, d_small, rounds=400, seed=2)
    lo2, hi2 = length_controlled_ci(s_big, d_big, rounds=400, seed=2)
    assert lo1 < truth < hi1 and lo2 < truth < hi2
    assert lo1 <= length_controlled_win_rate(s_small, d_small) <= hi1
    assert lo2 <= length_controlled_win_rate(s_big, d_big) <= hi2
    # ten times the data: about a third of the width (1 / sqrt(10) = 0.32)
    assert 0.2 < (hi2 - lo2) / (hi1 - lo1) < 0.45
    assert not lo2 < win_rate(s_big) < hi2  # the raw rate falls outside the LC interval


def test_lc_interval_coverage():
    # over 40 independent data sets, a 95% interval should miss the truth only rarely
    truth = 1 / (1 + np.exp(-0.4))
    hits = 0
    for k in range(40):
        s, d = simulate_length_bias(200, seed=100 + k)
        lo, hi = length_controlled_ci(s, d, rounds=200, seed=k)
        hits += lo < truth < hi
    assert hits >= 34


def test_lc_interval_hand_made():
    # Equal lengths: the LC interval is the plain bootstrap interval of the win rate.
    s = np.array([1.0] * 14 + [0.5] * 4 + [0.0] * 2)
    lo, hi = length_controlled_ci(s, np.zeros(20), rounds=2000, seed=0)
    blo, bhi = bootstrap_ci(s, rounds=2000, seed=0)
    assert lo < 0.8 < hi and lo == pytest.approx(blo, abs=0.03) and hi == pytest.approx(bhi, abs=0.03)
    # A pure length effect (longer wins 80% whoever wrote it): the truth at equal length is 50%,
    # though A, longer 3 times in 4, wins 65% raw.
    s = np.array(([1.0] * 24 + [0.0] * 6 + [1.0] * 2 + [0.0] * 8) * 5)
    d = np.array(([300.0] * 30 + [-300.0] * 10) * 5)
    lo, hi = length_controlled_ci(s, d, rounds=500, seed=0)
    assert lo < 0.5 < hi and hi < 0.65
    assert length_controlled_ci(s, d, rounds=500, seed=0) == (lo, hi)  # reproducible
    assert length_controlled_ci(np.ones(10), np.arange(10.0)) == (1.0, 1.0)  # all wins
    assert all(np.isnan(length_controlled_ci(np.array([]), np.array([]))))


def test_pair_summary_and_matrix():
    bts = [Battle(prompt="p", model_a="A", model_b="B", winner=w, response_a="a " * 10, response_b="b " * 10)
           for w in ["model_a"] * 6 + ["tie"] * 2 + ["model_b"] * 2]
    s = pair_summary(bts, "A", "B")
    assert (s["wins"], s["ties"], s["losses"], s["n"]) == (6, 2, 2, 10)
    assert s["win_rate"] == pytest.approx(0.7) and s["band"] == "better"
    assert s["lc_win_rate"] == pytest.approx(0.7)  # equal lengths
    assert s["lc_ci"][0] < 0.7 < s["lc_ci"][1]
    assert pair_summary([Battle(model_a="A", model_b="B", winner="tie")], "A", "B")["lc_ci"] is None  # no lengths
    models, m = win_rate_matrix(bts)
    assert models == ["A", "B"]
    assert m[0, 1] == pytest.approx(0.7) and m[1, 0] == pytest.approx(0.3) and np.isnan(m[0, 0])
