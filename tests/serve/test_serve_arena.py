"""Arena logic: hidden sides map back to the right model, votes land in the battle store,
and generated pairs are kept for the next start."""

from __future__ import annotations

import asyncio
import json

import pytest
from serve_fakes import FakeBackend

from bimo.errors import BimoError
from bimo.evaluate.store import BattleStore
from bimo.serve.arena import Arena, load_pairs
from bimo.serve.slots import SlotPool

PAIR = {"prompt": "p", "model_a": "x", "model_b": "y", "response_a": "from x", "response_b": "from y"}


def test_vote_maps_shown_sides_back_to_models(tmp_path) -> None:
    store = BattleStore(tmp_path / "b.sqlite")
    arena = Arena(store, pairs=[PAIR])
    seen_swaps = set()
    for _ in range(30):
        pair = asyncio.run(arena.next_pair())
        assert set(pair) == {"id", "prompt", "a", "b"}  # no model names before the vote
        reveal = arena.vote(pair["id"], "a", "tester")
        left_model = "x" if pair["a"] == "from x" else "y"
        assert reveal["a"] == left_model
        assert reveal["winner"] == ("model_a" if left_model == "x" else "model_b")
        seen_swaps.add(left_model)
    assert seen_swaps == {"x", "y"}, "sides should be shuffled"
    battles = store.all()
    assert len(battles) == 30 and battles[0].judge == "human:tester"


def test_both_bad_is_a_tie_and_tickets_are_single_use(tmp_path) -> None:
    store = BattleStore(tmp_path / "b.sqlite")
    arena = Arena(store, pairs=[PAIR])
    pair = asyncio.run(arena.next_pair())
    assert arena.vote(pair["id"], "both_bad", "t")["winner"] == "tie"
    assert store.all()[0].meta["verdict"] == "both_bad"
    with pytest.raises(BimoError, match="already used"):
        arena.vote(pair["id"], "a", "t")
    board = arena.leaderboard()
    assert board["n_battles"] == 1 and {r["model"] for r in board["ratings"]} == {"x", "y"}


def test_generated_pairs_are_cached(tmp_path) -> None:
    cache = tmp_path / "pairs.jsonl"

    async def run() -> dict:
        pools = {"fake:a": SlotPool(FakeBackend(words=3)), "fake:b": SlotPool(FakeBackend(words=5))}
        arena = Arena(BattleStore(tmp_path / "b.sqlite"), prompts=["Write a haiku."], pools=pools, cache_path=cache)
        return await arena.next_pair()

    pair = asyncio.run(run())
    assert {pair["a"].count("word"), pair["b"].count("word")} == {3, 5}
    saved = load_pairs(cache)
    assert saved[0]["model_a"] == "fake:a" and saved[0]["prompt"] == "Write a haiku."


def test_bad_pairs_file_is_one_line_error(tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "p", "model_a": "x"}) + "\n")
    with pytest.raises(BimoError, match="pair 1 lacks"):
        load_pairs(path)
