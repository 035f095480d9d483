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


CALIBRATION_PAIRS = [{"id": f"p{k}", "prompt": f"Write line {k}.", "chosen": f"good line {k}",
                      "rejected": f"poor line {k}"} for k in range(6)]


def scripted_calibration(out, answer, judge: str = "j:fair", **settings):
    """A real `calibrate` run of a scripted judge on six built pairs; returns OUT/calibration.json.
    Settings default to those of `bimo synth rank`'s judge (greedy, seed 0, 256 tokens)."""
    from bimo.evaluate.calibrate import calibrate, normalize_pair
    from bimo.evaluate.judge_step import JudgeSettings
    from fakes import ScriptedBackend

    s = JudgeSettings(judge=judge, **{"temperature": 0.0, "seed": 0, "max_tokens": 256, **settings})
    pairs = [normalize_pair(p, i) for i, p in enumerate(CALIBRATION_PAIRS, 1)]
    calibrate("built", [(s, ScriptedBackend(answer, uri=judge))], out, pairs=(pairs, []))
    return out / "calibration.json"
