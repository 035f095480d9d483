"""Arena logic: hidden sides map back to the right model, votes land in the battle store,
and generated pairs are kept for the next start."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest

from bimo.errors import BimoError
from bimo.evaluate.store import BattleStore
from bimo.serve.arena import Arena, load_pairs
from bimo.serve.slots import SlotPool
from fakes import ScriptedBackend

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
        pools = {"fake:a": SlotPool(ScriptedBackend(words=3)), "fake:b": SlotPool(ScriptedBackend(words=5))}
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


def test_real_pairs_from_two_model_uris(tiny_path, tmp_path) -> None:
    """`bimo serve --arena-models local:tiny,gguf:<same file> --arena-prompts FILE`: both
    sides answered by the real tiny model, a pair made on demand, a vote stored."""
    from serve_util import free_port, stop, wait_ready

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Write one sentence about the sea.\nWrite one sentence about a cat.\n", encoding="utf-8")
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    models = ["local:tiny", f"gguf:{tiny_path}"]
    env = {**os.environ, "BIMO_N_CTX": "2048"}
    env.pop("BIMO_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "bimo.cli", "serve", "--model", "local:tiny", "--port", str(port),
                             "--data-dir", str(data), "--arena-models", ",".join(models),
                             "--arena-prompts", str(prompts), "--arena-max-tokens", "24"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(base, proc)
        assert httpx.get(f"{base}/api/arena/info").json() == {"enabled": True}
        pair = httpx.get(f"{base}/api/arena/pair", timeout=300).json()  # first pair: generated now
        assert set(pair) == {"id", "prompt", "a", "b"} and pair["prompt"] in prompts.read_text()
        assert pair["a"].strip() and pair["b"].strip()
        r = httpx.post(f"{base}/api/arena/vote", json={"id": pair["id"], "verdict": "a", "voter": "t1"}, timeout=60)
        assert r.status_code == 200, r.text
        reveal, board = r.json()["reveal"], r.json()["leaderboard"]
        assert {reveal["a"], reveal["b"]} == set(models)
        assert board["n_battles"] == 1 and {row["model"] for row in board["ratings"]} == set(models)
    finally:
        stop(proc)
    # The vote is a battle in the shared store; the generated pair is kept for the next start.
    (battle,) = BattleStore(data / "arena.sqlite").all()
    assert {battle.model_a, battle.model_b} == set(models) and battle.judge == "human:t1"
    assert battle.winner == ("model_a" if reveal["a"] == battle.model_a else "model_b")
    (saved,) = load_pairs(data / "arena_pairs.jsonl")
    assert saved["prompt"] == pair["prompt"] and {saved["response_a"], saved["response_b"]} == {pair["a"], pair["b"]}
