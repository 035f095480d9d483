"""The judges against a real model: the tiny local one (weak, English-only).

Its verdicts are not checked for quality, only that every item ends as a valid
verdict or a recorded failure with a reason: nothing is silently defaulted.
"""

import json

from bimo.evaluate.judge import judge_file
from bimo.evaluate.pairwise import compare_files
from bimo.evaluate.runner import JudgeSettings
from bimo.io import errors_path


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


def test_tiny_judge_through_the_cli(tiny_path, tmp_path, jsonl, bimo_cli):
    recs = [{"id": k, "prompt": p, "response": r, "lang": "en"} for k, (p, r) in enumerate([
        ("Write a one-line slogan for a bakery.", "Fresh bread, warm hearts, every morning."),
        ("Give a title for a story about a lighthouse keeper.", "The Last Light on Gull Rock"),
    ])]
    a = jsonl(tmp_path / "a.jsonl", recs)
    b = jsonl(tmp_path / "b.jsonl", [{**r, "response": "ok"} for r in recs])
    common = ["--judge", "local:tiny", "--max-tokens", "100", "--retries", "0", "--json", "-q"]

    judged = tmp_path / "a.writebench.judged.jsonl"
    proc = bimo_cli("eval", "judge", str(a), "-o", str(judged), *common, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    s = json.loads(proc.stdout)
    assert s["judged_now"] + s["failed_now"] == 2
    for line in judged.read_text().splitlines():
        rec = json.loads(line)
        assert rec["judge"] == "local:tiny" and rec["judge_temperature"] == 0.0 and rec["judge_seed"] == 1
        assert all(1 <= v <= 10 for v in rec["scores"].values())
    errs = errors_path(judged)
    assert all(json.loads(x)["reason"] for x in errs.read_text().splitlines())
    assert len(errs.read_text().splitlines()) == s["failed_now"]

    battles = tmp_path / "battles.jsonl"
    proc = bimo_cli("eval", "compare", str(a), str(b), "-o", str(battles), "--store", str(tmp_path / "s.sqlite"),
                    "--rounds", "50", *common, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    res = json.loads(proc.stdout)
    assert res["judge"] == "local:tiny" and "small model" in proc.stderr.decode()
    pair = res["pairs"][0]
    assert pair["n"] + res["failed"] == 2 and res["added_to_store"] == pair["n"]
    if pair["n"]:
        assert pair["lc_win_rate"] is not None and pair["lc_ci"][0] <= pair["lc_ci"][1]
    for line in battles.read_text().splitlines():
        bt = json.loads(line)
        assert bt["winner"] in ("model_a", "model_b", "tie") and len(bt["verdicts"]) == 2 and bt["id"]
