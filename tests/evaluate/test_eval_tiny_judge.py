"""The judges against a real model: the tiny local one (weak, English-only).

Its verdicts are not checked for quality, only that every item ends as a valid
verdict or a recorded failure with a reason: nothing is silently defaulted.
"""

import json

from bimo.evaluate.judge import judge_file
from bimo.evaluate.judge_step import JudgeSettings
from bimo.evaluate.pairwise import compare_files
from bimo.io import errors_path


def lines(path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def assert_judge_rejections(errs: list[dict]) -> None:
    """A failed item is the judge's answer rejected by the verdict parser, kept raw with the
    reason: never a crash, a backend error or a silent default."""
    for e in errs:
        assert e["kind"] == "reject" and e["reason"] and e["attempts"] == 1 and e["judge"] == "local:tiny", e
        assert not e["reason"].startswith("backend error") and e.get("detail"), e


def test_tiny_judge_pointwise_and_pairwise(tiny_backend, tmp_path, jsonl):
    recs = [{"id": k, "prompt": p, "response": r, "lang": "en"} for k, (p, r) in enumerate([
        ("Write a one-line slogan for a bakery.", "Fresh bread, warm hearts, every morning."),
    ])]
    a = jsonl(tmp_path / "a.jsonl", recs)
    b = jsonl(tmp_path / "b.jsonl", [{**r, "response": "ok"} for r in recs])
    settings = JudgeSettings(judge="local:tiny", temperature=0.0, seed=1, retries=0, max_tokens=120)

    out = tmp_path / "a.judged.jsonl"
    s = judge_file(a, "writebench", tiny_backend, out, settings)
    judged, errs = lines(out), lines(errors_path(out))
    assert (len(judged), len(errs)) == (s["judged_now"], s["failed_now"]) and len(judged) + len(errs) == 1
    for rec in judged:
        assert all(1 <= v <= 10 for v in rec["scores"].values()) and rec["judge"] == "local:tiny"
    assert_judge_rejections(errs)

    bt_out = tmp_path / "battles.jsonl"
    battles = compare_files([a, b], tiny_backend, bt_out, settings)
    failed = lines(errors_path(bt_out))
    assert len(battles) + len(failed) == 1
    assert_judge_rejections(failed)
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
    errs = lines(errors_path(judged))
    assert len(errs) == s["failed_now"] and len(lines(judged)) == s["judged_now"]
    assert_judge_rejections(errs)

    battles = tmp_path / "battles.jsonl"
    proc = bimo_cli("eval", "compare", str(a), str(b), "-o", str(battles), "--store", str(tmp_path / "s.sqlite"),
                    "--rounds", "50", *common, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    res = json.loads(proc.stdout)
    assert res["judge"] == "local:tiny" and "small model" in proc.stderr.decode()
    pair = res["pairs"][0]
    assert pair["n"] + res["failed"] == 2 and res["added_to_store"] == pair["n"]
    assert_judge_rejections(lines(errors_path(battles)))
    assert len(lines(battles)) == pair["n"] and len(lines(errors_path(battles))) == res["failed"]
    for bt in lines(battles):
        assert bt["winner"] in ("model_a", "model_b", "tie") and len(bt["verdicts"]) == 2 and bt["id"]
    # a win rate with its interval when a battle was judged; none (not a made-up 0.5) without
    assert (pair["lc_win_rate"] is not None) == (pair["n"] > 0)
    if pair["n"]:
        assert pair["lc_ci"][0] <= pair["lc_ci"][1]
