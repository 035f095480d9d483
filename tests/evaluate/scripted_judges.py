"""Scripted judges: answers, as functions of (messages, seed), for `fakes.ScriptedBackend`."""

from __future__ import annotations

import json


def first_shown(messages) -> str:
    """The answer text shown as A (or the only response) in a judge prompt."""
    user = messages[-1]["content"]
    for head in ("【回答 A】\n", "[Response A]\n", "【待评回答】\n", "[Response]\n", "【回答】\n"):
        if head in user:
            return user.split(head, 1)[1].split("\n", 1)[0]
    return ""


def second_shown(messages) -> str:
    user = messages[-1]["content"]
    for head in ("【回答 B】\n", "[Response B]\n"):
        if head in user:
            return user.split(head, 1)[1].split("\n", 1)[0]
    return ""


def pair_by_quality(messages, seed) -> str:
    """A fair judge: the answer containing 'good' wins, regardless of position."""
    a, b = first_shown(messages), second_shown(messages)
    if ("good" in a) == ("good" in b):
        return json.dumps({"reason": "even", "winner": "tie"})
    return json.dumps({"reason": "quality", "winner": "A" if "good" in a else "B"})


def pair_always_first(messages, seed) -> str:
    """A position-biased judge: always prefers whatever is shown first."""
    return json.dumps({"reason": "first looks better", "winner": "A"})
