import random

import numpy as np
import pytest

from bimo.errors import BimoError
from bimo.evaluate.battles import Battle
from bimo.evaluate.ratings import SCALE, PairCounts, compute_ratings, fit_strengths

TRUE = {"m0": -1.2, "m1": -0.5, "m2": 0.0, "m3": 0.4, "m4": 0.9, "m5": 1.6}


def simulate(n=30000, seed=0):
    rng = np.random.default_rng(seed)
    names = list(TRUE)
    t = np.array([TRUE[m] for m in names])
    a = rng.integers(0, len(names), n)
    b = (a + rng.integers(1, len(names), n)) % len(names)
    p = 1 / (1 + np.exp(-(t[a] - t[b])))
    win = rng.random(n) < p
    return [Battle(prompt=f"q{k}", model_a=names[a[k]], model_b=names[b[k]], winner="model_a" if win[k] else "model_b")
            for k in range(n)]


@pytest.fixture(scope="module")
def sim():
    return simulate()


@pytest.fixture(scope="module")
def rated(sim):
    return compute_ratings(sim, baseline="m2", rounds=200, seed=0)


def test_recovers_known_strengths(rated):
    by = {r["model"]: r for r in rated["ratings"]}
    assert [r["model"] for r in rated["ratings"]] == sorted(TRUE, key=TRUE.get, reverse=True)
    for m, t in TRUE.items():
        expected = 1000 + SCALE * (t - TRUE["m2"])
        assert by[m]["rating"] == pytest.approx(expected, abs=30)
        assert by[m]["lower"] <= by[m]["rating"] <= by[m]["upper"]
    assert by["m2"]["rating"] == pytest.approx(1000.0)


def test_intervals_cover_truth_mostly(rated):
    by = {r["model"]: r for r in rated["ratings"]}
    covered = sum(by[m]["lower"] - 1 <= 1000 + SCALE * (t - TRUE["m2"]) <= by[m]["upper"] + 1 for m, t in TRUE.items())
    assert covered >= 5


def test_invariant_to_battle_order(sim, rated):
    shuffled = sim[:]
    random.Random(7).shuffle(shuffled)
    again = compute_ratings(shuffled, baseline="m2", rounds=200, seed=0)
    for r1, r2 in zip(rated["ratings"], again["ratings"], strict=True):
        assert r1["model"] == r2["model"]
        assert r1["rating"] == pytest.approx(r2["rating"], abs=1e-9)
        assert r1["lower"] == pytest.approx(r2["lower"], abs=1e-9)
        assert r1["upper"] == pytest.approx(r2["upper"], abs=1e-9)


def test_invariant_to_seat():
    # Swapping model_a/model_b (and the verdict) must not change anything.
    sim = simulate(3000, seed=2)
    swap = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    flipped = [Battle(prompt=b.prompt, model_a=b.model_b, model_b=b.model_a, winner=swap[b.winner]) for b in sim]
    r1 = compute_ratings(sim, baseline="m0", rounds=0)["ratings"]
    r2 = compute_ratings(flipped, baseline="m0", rounds=0)["ratings"]
    assert [(r["model"], round(r["rating"], 6)) for r in r1] == [(r["model"], round(r["rating"], 6)) for r in r2]


def test_two_models_closed_form():
    # 75% wins for A -> t_A - t_B = ln 3, i.e. 400*log10(3) Elo points (tiny ridge aside)
    bts = [Battle(model_a="A", model_b="B", winner="model_a")] * 300 + [Battle(model_a="A", model_b="B", winner="model_b")] * 100
    res = compute_ratings(bts, baseline="B", rounds=0)
    assert res["ratings"][0]["model"] == "A"
    assert res["ratings"][0]["rating"] == pytest.approx(1000 + 400 * np.log10(3), abs=0.5)


def test_ties_count_half():
    bts = [Battle(model_a="A", model_b="B", winner="tie")] * 50
    res = compute_ratings(bts, baseline="A", rounds=0)
    assert all(r["rating"] == pytest.approx(1000.0) for r in res["ratings"])


def test_unbeaten_model_stays_finite():
    bts = [Battle(model_a="A", model_b="B", winner="model_a")] * 20 + [Battle(model_a="B", model_b="C", winner="tie")] * 20
    res = compute_ratings(bts, baseline="B", rounds=50)
    assert all(np.isfinite(r["rating"]) for r in res["ratings"])
    assert res["ratings"][0]["model"] == "A"


def test_fast_path_matches_battles():
    names = ["a", "b", "c"]
    a, b, o = np.array([0, 1, 2, 0]), np.array([1, 2, 0, 2]), np.array([0, 1, 2, 2])
    pc = PairCounts.from_arrays(names, a, b, o)
    bts = [Battle(model_a=names[x], model_b=names[y], winner=["model_a", "tie", "model_b"][z]) for x, y, z in zip(a, b, o, strict=True)]
    pc2 = PairCounts.from_battles(bts)
    assert np.allclose(fit_strengths(pc), fit_strengths(pc2))


def test_errors():
    with pytest.raises(BimoError, match="no battles"):
        compute_ratings([])
    with pytest.raises(BimoError, match="baseline 'zz'"):
        compute_ratings([Battle(model_a="A", model_b="B", winner="tie")], baseline="zz")
