"""Blind side-by-side voting: pairs in, battles out, ratings back.

Pairs come from one of two server-side sources (clients never name files):
  * `--arena-pairs FILE.jsonl`: ready pairs, one JSON object a line with
    `prompt, model_a, model_b, response_a, response_b`;
  * `--arena-models URI,URI --arena-prompts FILE`: the server answers a random prompt
    with both models on demand (queued on their slots) and keeps the answers in
    `<data>/arena_pairs.jsonl`, so a restart or the next voter reuses them.
A pair is shown in random order under an opaque ticket; which side is which model
stays on the server until the vote is in. Votes become battles in the shared
battle store; "both bad" is recorded as a tie with `meta.verdict = "both_bad"`,
since a Bradley-Terry fit has no outcome for it.

Generating a pair costs two model answers, so it is bounded: each client (by
address) may have `max_pending_per_client` pairs being generated at once, and the
server `max_pending` in all; beyond that the request gets 429 at once instead of
queueing more model work.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import JsonlAppender, read_jsonl, read_text
from bimo.serve.errors import ApiError
from bimo.serve.slots import SlotPool

VERDICTS = ("a", "b", "tie", "both_bad")
_PAIR_KEYS = ("prompt", "model_a", "model_b", "response_a", "response_b")
_MAX_TICKETS = 10_000
#: pairs generated at once for one client, and for all clients together
MAX_PENDING_PER_CLIENT = 2
MAX_PENDING = 4


def load_pairs(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise BimoError(f"arena pairs file not found: {path}")
    pairs = []
    for i, rec in enumerate(read_jsonl(path), 1):
        missing = [k for k in _PAIR_KEYS if not isinstance(rec.get(k), str) or not rec[k]]
        if missing:
            raise BimoError(f"{path}: pair {i} lacks {', '.join(missing)}")
        if rec["model_a"] == rec["model_b"]:
            raise BimoError(f"{path}: pair {i} pits {rec['model_a']!r} against itself")
        pairs.append({k: rec[k] for k in _PAIR_KEYS})
    if not pairs:
        raise BimoError(f"{path} holds no pairs")
    return pairs


def load_prompts(path: Path) -> list[str]:
    if not path.exists():
        raise BimoError(f"arena prompts file not found: {path}")
    if path.suffix == ".jsonl":
        prompts = [str(r.get("prompt", "")).strip() for r in read_jsonl(path)]
    else:
        prompts = [line.strip() for line in read_text(path).splitlines()]
    prompts = [p for p in prompts if p]
    if not prompts:
        raise BimoError(f"{path} holds no prompts")
    return prompts


class Arena:
    """Hands out anonymous pairs and records votes in a BattleStore."""

    def __init__(self, store: Any, pairs: list[dict[str, str]] | None = None,
                 prompts: list[str] | None = None, pools: dict[str, SlotPool] | None = None,
                 cache_path: Path | None = None, max_tokens: int = 512,
                 max_pending_per_client: int = MAX_PENDING_PER_CLIENT, max_pending: int = MAX_PENDING):
        self.store = store
        self.pairs = list(pairs or [])
        self.prompts = prompts or []
        self.pools = pools or {}
        self.cache_path = cache_path
        self.max_tokens = max_tokens
        self._tickets: OrderedDict[str, tuple[dict[str, str], bool]] = OrderedDict()
        self._lock = threading.Lock()
        self._board: dict[str, Any] | None = None
        self.max_pending_per_client = max_pending_per_client
        self.max_pending = max_pending
        self._pending: dict[str, int] = {}
        if cache_path is not None and cache_path.exists():
            models = set(self.pools)
            self.pairs += [p for p in load_pairs(cache_path) if {p["model_a"], p["model_b"]} == models]

    @property
    def enabled(self) -> bool:
        return bool(self.pairs) or (len(self.pools) == 2 and bool(self.prompts))

    async def next_pair(self, client: str = "") -> dict[str, str]:
        if not self.enabled:
            raise BimoError("no arena pairs: start the server with --arena-pairs FILE, "
                            "or --arena-models URI,URI with --arena-prompts FILE")
        # With generation on, mostly make new pairs so voters see fresh prompts.
        if self.pools and self.prompts and (not self.pairs or random.random() < 0.5):
            self._reserve(client)
            try:
                pair = await self._generate(random.choice(self.prompts))
            finally:
                self._pending[client] -= 1
                if not self._pending[client]:
                    del self._pending[client]
        else:
            pair = random.choice(self.pairs)
        swapped = random.random() < 0.5
        ticket = secrets.token_urlsafe(12)
        with self._lock:
            self._tickets[ticket] = (pair, swapped)
            while len(self._tickets) > _MAX_TICKETS:
                self._tickets.popitem(last=False)
        left, right = ("response_b", "response_a") if swapped else ("response_a", "response_b")
        return {"id": ticket, "prompt": pair["prompt"], "a": pair[left], "b": pair[right]}

    def _reserve(self, client: str) -> None:
        """Count one generation for `client`, or 429 when it or the server has enough waiting.

        Called on the event loop only, so check and count are one step.
        """
        mine, total = self._pending.get(client, 0), sum(self._pending.values())
        if mine >= self.max_pending_per_client:
            raise ApiError(429, f"you already have {mine} arena pair(s) being generated; "
                           "vote on it or wait for it before asking for another", "too_many_pairs")
        if total >= self.max_pending:
            raise ApiError(429, f"the server is generating {total} arena pairs already (the limit); "
                           "try again in a moment", "too_many_pairs")
        self._pending[client] = mine + 1

    async def _generate(self, prompt: str) -> dict[str, str]:
        (name_a, pool_a), (name_b, pool_b) = self.pools.items()
        req = {"messages": [{"role": "user", "content": prompt}], "max_tokens": self.max_tokens}
        comp_a, comp_b = await asyncio.gather(pool_a.complete(dict(req)), pool_b.complete(dict(req)))
        pair = {"prompt": prompt, "model_a": name_a, "model_b": name_b,
                "response_a": comp_a.text, "response_b": comp_b.text}
        with self._lock:
            self.pairs.append(pair)
            if self.cache_path is not None:
                with JsonlAppender(self.cache_path) as out:
                    out.write(pair)
        return pair

    def vote(self, ticket: str, verdict: str, voter: str) -> dict[str, Any]:
        """Record one vote; returns which model was on which side."""
        if verdict not in VERDICTS:
            raise BimoError(f"unknown verdict {verdict!r}; valid: {', '.join(VERDICTS)}")
        with self._lock:
            found = self._tickets.pop(ticket, None)
        if found is None:
            raise BimoError("unknown or already used pair id; fetch a new pair")
        pair, swapped = found
        # Translate the shown sides back to the stored model_a / model_b.
        side = {"a": "model_b" if swapped else "model_a", "b": "model_a" if swapped else "model_b"}
        winner = side.get(verdict, "tie")
        try:
            self.store.add({**pair, "winner": winner, "judge": f"human:{voter}", "time": time.time(),
                            "meta": {"verdict": verdict, "swapped": swapped, "source": "bimo-serve"}})
        except Exception as exc:
            # The ticket goes back, so the same vote can be sent again.
            with self._lock:
                self._tickets[ticket] = found
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ApiError(503, f"the vote could not be saved ({reason}); send it again",
                           "vote_not_saved") from None
        self._board = None
        shown_a, shown_b = (pair["model_b"], pair["model_a"]) if swapped else (pair["model_a"], pair["model_b"])
        return {"a": shown_a, "b": shown_b, "winner": winner}

    def leaderboard(self, rounds: int = 200) -> dict[str, Any]:
        """Bradley-Terry ratings with bootstrap intervals; cached until the next vote."""
        board = self._board
        if board is not None:
            return board
        from bimo.evaluate.ratings import compute_ratings

        battles = self.store.all()
        if not battles:
            board = {"n_battles": 0, "ratings": [], "level": 0.95}
        else:
            board = compute_ratings(battles, rounds=rounds)
            for row in board["ratings"]:  # NaN is not JSON
                for k in ("lower", "upper"):
                    if row[k] != row[k]:
                        row[k] = None
        self._board = board
        return board
