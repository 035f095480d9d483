"""The judges against a real model: the tiny local one (weak, English-only).

Its verdicts are not checked for quality, only that every item ends as a valid
verdict or a recorded failure with a reason: nothing is silently defaulted.
"""

import json

import pytest

from bimo.evaluate.judge import errors_path, judge_file
from bimo.evaluate.pairwise import compare_files
from bimo.evaluate.runner import JudgeSettings


@pytest.mark.slow
def test_tiny_judge_pointwise_and_pairwise(tiny_backend, tmp_path, jsonl):
    recs = [{"id": k, "prompt": p, "response": r, "lang": "en"} for k, (p, r) in enumerate([
        ("Write a one-line slogan for a bakery.", "Fresh bread, warm hearts, every morning."),
    ])]
    a = jsonl(tmp_path / "a.jsonl", recs)
    b = jsonl(tmp_path / "b.jsonl", [{**r, "response": "ok"} for r in recs])
    settings = JudgeSettings(judge="local:tiny", temperature=0.0, seed=1, retries=0, max_tokens=120)

    out = tmp_path / "a.judged.jsonl"
    s = judge_file(a, "writebench", tiny_backend, out, settings)
    assert s["judged_now"] + s["failed_now"] == 1
    for line in out.read_text().splitlines():
        rec = json.loads(line)
        assert all(1 <= v <= 10 for v in rec["scores"].values()) and rec["judge"] == "local:tiny"
    if s["failed_now"]:
        assert all(json.loads(x)["reason"] for x in errors_path(out).read_text().splitlines())

    bt_out = tmp_path / "battles.jsonl"
    battles = compare_files([a, b], tiny_backend, bt_out, settings)
    failed = len(errors_path(bt_out).read_text().splitlines()) if errors_path(bt_out).exists() else 0
    assert len(battles) + failed == 1
    assert all(bt.winner in ("model_a", "model_b", "tie") and len(bt.meta["verdicts"]) == 2 for bt in battles)
