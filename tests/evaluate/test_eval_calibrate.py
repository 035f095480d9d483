"""Judge calibration: statistics on built verdicts with known answers, bad input, and
the full command against the tiny model through real llama.cpp (mechanics only: the
tiny judge is weak, its figures are not checked for quality)."""

import json
import math

import numpy as np
import pytest

from bimo.errors import BimoError
from bimo.evaluate.calibrate import (
    baselines,
    calibration_figures,
    cohen_kappa,
    load_pairs,
    logistic_fit,
    normalize_pair,
    summarize,
)
from bimo.io import errors_path


def _row(human, s1, s2, la=10, lb=10, category="x", lang="en"):
    return {"human": human, "sides": [s1, s2], "len_a": la, "len_b": lb, "category": category, "lang": lang}


def test_summary_figures_on_built_verdicts():
    rows = ([_row("a", "a", "a")] * 3 + [_row("b", "b", "b")] * 3  # 6 right in both orders
            + [_row("a", "a", "b")] * 2  # follows position: picks whatever is first
            + [_row("b", "a", "a")] * 2)  # wrong in both orders
    s = summarize(rows, rounds=200)
    assert s["pairs"] == 10
    assert s["agreement"]["rate"] == pytest.approx(0.6)
    lo, hi = s["agreement"]["ci"]
    assert lo < 0.6 < hi
    assert s["agreement_single"]["rate"] == pytest.approx((6 + 2 * 0.5) / 10)
    assert s["position_flips"] == pytest.approx(0.2)
    assert s["tie_rate"] == pytest.approx(0.2)
    # decisive single verdicts: 20; shown first: a in order 1, b in order 2
    firsts = 3 * 1 + 3 * 1 + 2 * 2 + 2 * 1
    assert s["first_position_wins"] == pytest.approx(firsts / 20)
    # po = 0.6; human a/b 0.5/0.5, judge a/b/tie 0.5/0.3/0.2 -> pe = 0.4 -> kappa = 0.2 / 0.6
    assert s["kappa"] == pytest.approx(1 / 3)


def test_kappa_values():
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == pytest.approx(1.0)
    # po = 0.5, pe = 0.5 * 0.5 + 0.5 * 0.5 = 0.5 -> 0
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == pytest.approx(0.0)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # chance agreement is total


def test_logistic_fit_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    x = rng.normal(size=4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-(0.3 + 1.5 * x)))
    b0, b1 = logistic_fit(x, y)
    assert b0 == pytest.approx(0.3, abs=0.15) and b1 == pytest.approx(1.5, abs=0.2)
    assert logistic_fit(np.zeros(10), np.ones(10)) is None


def test_length_bias_and_baselines():
    # the judge always picks the longer side; people prefer the longer side in 3 of 4 pairs
    rows = [_row("a", "a", "a", 20, 10), _row("b", "b", "b", 10, 20), _row("a", "a", "a", 30, 10),
            _row("a", "b", "b", 10, 20)]
    s = summarize(rows, rounds=100)
    assert s["length"]["preferred_longer"]["rate"] == 1.0 and s["length"]["preferred_longer"]["n"] == 3
    assert s["length"]["preferred_shorter"]["rate"] == 0.0 and s["length"]["preferred_shorter"]["n"] == 1
    assert s["length"]["logit_per_doubling"] > 1  # strong pull to the longer side
    base = baselines(rows, rounds=100)
    assert base["always_longer"]["agreement"]["rate"] == pytest.approx(0.75)
    assert base["always_first"]["agreement"]["rate"] == 0.0  # order-dependent -> tie every time
    assert base["always_first"]["position_flips"] == 1.0 and base["always_first"]["first_position_wins"] == 1.0
    assert set(base) == {"always_longer", "always_first", "random"}


def test_chosen_rejected_is_placed_by_a_stable_coin():
    sides = {normalize_pair({"id": f"p{i}", "prompt": "Say hi.", "chosen": "Hello there!", "rejected": "hi"}, i)["human"]
             for i in range(20)}
    assert sides == {"a", "b"}  # otherwise kappa would have nothing to measure
    p = normalize_pair({"id": "p1", "prompt": "Say hi.", "chosen": "Hello there!", "rejected": "hi"}, 1)
    assert p[p["human"]] == "Hello there!" and p == normalize_pair({"id": "p1", "prompt": "Say hi.",
                                                                    "chosen": "Hello there!", "rejected": "hi"}, 1)
    msgs = {"id": "c", "prompt": [{"role": "user", "content": "Say hi."}],
            "chosen": [{"role": "assistant", "content": "Hello!"}], "rejected": [{"role": "assistant", "content": "Go."}]}
    assert normalize_pair(msgs, 1)["prompt"] == "Say hi."  # `bimo synth constitution` output


def test_bad_pairs_are_listed_with_reasons(tmp_path, jsonl):
    path = jsonl(tmp_path / "p.jsonl", [
        {"id": 1, "prompt": "Say hi.", "a": "Hello", "b": "Hi there", "winner": "b"},
        {"id": 2, "prompt": "Say hi.", "a": "", "b": "Hi", "winner": "b"},
        {"id": 3, "prompt": "Say hi.", "a": "Hi", "b": " Hi ", "winner": "a"},
        {"id": 4, "prompt": "Say hi.", "a": "Hi", "b": "Yo", "winner": "c"},
        {"id": 5, "a": "Hi", "b": "Yo", "winner": "a"},
        {"id": 1, "prompt": "Say hi.", "a": "Hello", "b": "Hi there", "winner": "a"},
    ])
    with path.open("a") as fh:
        fh.write("{broken\n")
    pairs, skipped = load_pairs(path)
    assert [p["id"] for p in pairs] == ["1"]
    reasons = [s["reason"] for s in skipped]
    assert reasons[:5] == ["empty response", "identical responses", "unknown winner 'c' (need a, b or tie)",
                           "no prompt", "repeated id"]
    assert "invalid JSON" in reasons[5] and skipped[5]["line"] == 7


def test_no_pairs_is_one_line_exit_2(tmp_path, jsonl, bimo_cli):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(BimoError, match="no usable pairs"):
        load_pairs(empty)
    bad = jsonl(tmp_path / "bad.jsonl", [{"prompt": "x", "a": "y", "b": "y", "winner": "a"}])
    proc = bimo_cli("eval", "calibrate", str(bad), "-j", "local:tiny", "-o", str(tmp_path / "o"))
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "no usable pairs" in err and "identical" in err
    proc = bimo_cli("eval", "calibrate", str(bad), "--rubric", "nope", "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "unknown pairwise rubric" in proc.stderr.decode()


PAIRS = [
    {"id": "p1", "prompt": "Write a one-line slogan for a bakery.", "chosen": "Fresh bread, warm hearts, every morning.",
     "rejected": "bread bread bread", "category": "slogan"},
    {"id": "p2", "prompt": "Give a title for a story about a lighthouse keeper.", "a": "The Last Light on Gull Rock",
     "b": "story", "winner": "a", "category": "title"},
    {"id": "p3", "prompt": "Name a colour for a calm bedroom.", "a": "blue", "b": "Soft sage green", "winner": "b",
     "category": "title"},
]


def test_tiny_judge_calibrate_resume_and_settings(tiny_path, tmp_path, jsonl, bimo_cli):
    pairs = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "cal"
    common = ["-j", "local:tiny", "--max-tokens", "100", "--retries", "0", "-q", "-o", str(out)]
    proc = bimo_cli("eval", "calibrate", str(pairs), *common, "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    s = json.loads(proc.stdout)
    res = s["judges"][0]
    verdicts = out / "verdicts.local_tiny.jsonl"
    rows = [json.loads(x) for x in verdicts.read_text().splitlines()]
    errs = [json.loads(x) for x in errors_path(verdicts).read_text().splitlines()] if errors_path(verdicts).exists() else []
    assert len(rows) + len(errs) == 3 and all(e["reason"] for e in errs)
    assert res["pairs"] == len(rows) and res["failed"] == len(errs)
    for r in rows:
        assert r["settings"] == {"judge": "local:tiny", "rubric": "pairwise", "temperature": 0.0, "top_p": 0.95,
                                 "max_tokens": 100, "seed": 1, "samples": 1, "both_orders": True, "rubric_type": None}
        assert len(r["verdicts"]) == 2 and set(r["sides"]) <= {"a", "b", "tie"}
    assert set(s["baselines"]) == {"always_longer", "always_first", "random"}
    assert json.loads((out / "calibration.json").read_text())["pairs"] == 3

    # interrupted run: one verdict kept, the next torn mid-line -> resumed, nothing lost or doubled
    lines = verdicts.read_text().splitlines(keepends=True)
    verdicts.write_text(lines[0] + lines[1][:30])
    proc = bimo_cli("eval", "calibrate", str(pairs), *common, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    again = [json.loads(x) for x in verdicts.read_text().splitlines()]
    assert again[0] == rows[0] and sorted(r["pair"] for r in again) == sorted(r["pair"] for r in rows)
    assert proc.stdout.decode().count("\n") == 2  # one line for the judge, one for the summary path

    # other settings are not mixed in silently
    proc = bimo_cli("eval", "calibrate", str(pairs), *common, "--temperature", "0.5", timeout=600)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "temperature 0.0 -> 0.5" in err
    cal = calibration_figures(out / "calibration.json", "local:tiny")
    assert cal["line"].startswith("judge calibration: local:tiny") and cal["position_flips"] == res["position_flips"]


def test_a_judge_answering_garbage_is_recorded_per_pair(tiny_backend, tmp_path):
    from bimo.evaluate.calibrate import calibrate
    from bimo.evaluate.judge_step import JudgeSettings

    pairs = [normalize_pair(p, i) for i, p in enumerate(PAIRS[:2], 1)]
    # 16 tokens (the least allowed) cut most verdicts off; a compact JSON verdict may just fit
    settings = JudgeSettings(judge="local:tiny", retries=0, max_tokens=16)
    s = calibrate("built", [(settings, tiny_backend)], tmp_path, pairs=(pairs, []))
    res = s["judges"][0]
    assert res["failed"] >= 1 and res["failed"] + res["pairs"] == 2  # every pair: a verdict or a recorded failure
    assert len(res["failures"]) == res["failed"] and all("max_tokens" in f["reason"] for f in res["failures"])
    assert s["baselines"]["always_longer"]["agreement"]["rate"] == 1.0  # baselines still shown
    assert not math.isnan(s["baselines"]["random"]["agreement"]["rate"])


def test_report_has_a_calibration_section(tmp_path):
    from bimo.evaluate.report import build_report

    rows = [_row("a", "a", "a", 20, 10)] * 4 + [_row("b", "a", "b", 5, 9)] * 2
    summary = {"kind": "calibration", "source": "built", "pairs": 6, "skipped": 1,
               "judges": [{"judge": "local:x", "failed": 1, "verdicts": "v", **summarize(rows, rounds=50)}],
               "baselines": baselines(rows, rounds=50)}
    (tmp_path / "calibration.json").write_text(json.dumps(summary))
    page = build_report(tmp_path, tmp_path / "report", rounds=20).read_text()
    assert "<h2>Judge calibration</h2>" in page and "66.7% [" in page and "<i>always longer</i>" in page
    assert (tmp_path / "report" / "calibration0.png").stat().st_size > 1000


def test_two_judges_side_by_side(tiny_path, tmp_path, jsonl, bimo_cli):
    pairs = jsonl(tmp_path / "pairs.jsonl", PAIRS[:1])
    out = tmp_path / "cal"
    proc = bimo_cli("eval", "calibrate", str(pairs), "-j", "local:tiny", "-j", f"gguf:{tiny_path}", "--max-tokens",
                    "100", "--retries", "0", "-q", "-o", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    s = json.loads((out / "calibration.json").read_text())
    assert [r["judge"] for r in s["judges"]] == ["local:tiny", f"gguf:{tiny_path}"]
    assert len(list(out.glob("verdicts.*.jsonl"))) == 2 + len(list(out.glob("verdicts.*.errors.jsonl")))
    lines = proc.stdout.decode().splitlines()
    assert lines[0].startswith("local:tiny: ") and lines[1].startswith(f"gguf:{tiny_path}: ")
    proc = bimo_cli("eval", "calibrate", str(pairs), "-j", "local:tiny", "-j", "local:tiny", "-o", str(out))
    assert proc.returncode == 2 and "each --judge may be given once" in proc.stderr.decode()


def test_sample_is_seeded(tmp_path, jsonl):
    path = jsonl(tmp_path / "p.jsonl", [{"id": i, "prompt": "Say hi.", "a": f"Hello {i}", "b": "Hi", "winner": "a"}
                                        for i in range(30)])
    a, _ = load_pairs(path, sample=5, seed=3)
    b, _ = load_pairs(path, sample=5, seed=3)
    c, _ = load_pairs(path, sample=5, seed=4)
    assert [p["id"] for p in a] == [p["id"] for p in b] != [p["id"] for p in c] and len(a) == 5


def test_pair_rubrics_ask_for_what_they_say():
    from bimo.evaluate.pairjudge import pair_prompt

    rec = {"prompt": "Say hi.", "lang": "en"}
    _, plain = pair_prompt("pairwise", rec, "Hello", "Hi")
    _, forced = pair_prompt("pairwise-forced", rec, "Hello", "Hi")
    msgs, crit = pair_prompt("pairwise-criteria", rec, "Hello", "Hi")
    assert plain["properties"]["winner"]["enum"] == ["A", "B", "tie"]
    assert forced["properties"]["winner"]["enum"] == ["A", "B"]
    assert list(crit["properties"]) == ["criteria", "reason", "winner"] and "Step 1" in msgs[-1]["content"]
    with pytest.raises(BimoError, match="unknown pairwise rubric"):
        pair_prompt("nope", rec, "Hello", "Hi")
