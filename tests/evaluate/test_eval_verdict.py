"""Verdict words are earned: 'better'/'worse' only when the 95% interval clears the 45-55%
band, and the judge's calibration figures are printed beside win rates when given."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from bimo.evaluate import cli
from bimo.evaluate.battles import Battle
from bimo.evaluate.calibrate import summarize
from bimo.evaluate.winrate import battles_needed, pair_summary, verdict, verdict_text
from bimo.pipeline.evaluation import win_line
from fakes import ScriptedBackend
from scripted_judges import pair_by_quality


def _battles(wins, ties, losses):
    out = []
    for w, n in (("model_a", wins), ("tie", ties), ("model_b", losses)):
        out += [Battle(prompt=f"p{len(out) + i}", model_a="tuned", model_b="base", winner=w) for i in range(n)]
    return out


def test_one_win_and_five_ties_is_no_clear_difference():
    s = pair_summary(_battles(1, 5, 0), "tuned", "base", rounds=500)
    assert s["win_rate"] == pytest.approx(7 / 12) and s["band"] == "better"  # the point estimate alone
    assert s["verdict"] == "no clear difference"
    # 1.96^2 * p (1 - p) / (p - 0.55)^2 at p = 7/12
    p = 7 / 12
    assert s["battles_needed"] == int(np.ceil(1.96 ** 2 * p * (1 - p) / (p - 0.55) ** 2))
    line = win_line(s)
    assert "(1W 5T 0L, no clear difference: about" in line and "more battles would be needed" in line
    assert "better" not in line


def test_verdicts_need_the_interval_outside_the_band():
    assert verdict(1.0, (1.0, 1.0), 1) == "no clear difference"  # one win: the bootstrap is [100%, 100%]
    assert pair_summary(_battles(80, 0, 20), "tuned", "base", rounds=300)["verdict"] == "better"
    assert pair_summary(_battles(20, 0, 80), "tuned", "base", rounds=300)["verdict"] == "worse"
    assert pair_summary(_battles(6, 0, 4), "tuned", "base", rounds=300)["verdict"] == "no clear difference"
    assert battles_needed(0.52) is None
    even = pair_summary(_battles(5, 0, 5), "tuned", "base", rounds=100)
    assert verdict_text(even) == "no clear difference: the win rate lies inside the 45%-55% band"


def _calibration(tmp_path, flips_share):
    n_flip = int(round(10 * flips_share))
    rows = ([{"human": "a", "sides": ["a", "b"], "len_a": 5, "len_b": 5, "category": "x", "lang": "en"}] * n_flip
            + [{"human": "a", "sides": ["a", "a"], "len_a": 5, "len_b": 5, "category": "x", "lang": "en"}] * (10 - n_flip))
    res = {"judge": "fake:fair", "failed": 0, "verdicts": "v.jsonl", **summarize(rows, rounds=100)}
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"judges": [res], "flip_warn": 0.2}))
    return path


def test_compare_prints_calibration_and_warns_on_position_flips(tmp_path, jsonl, monkeypatch):
    monkeypatch.setattr(cli, "_backend", lambda uri: ScriptedBackend(pair_by_quality))
    recs = lambda q: [{"id": k, "prompt": f"Write {k}", "response": f"{q} text {k}"} for k in range(8)]  # noqa: E731
    a = jsonl(tmp_path / "alpha.jsonl", recs("good"))
    b = jsonl(tmp_path / "beta.jsonl", recs("meh"))
    run = CliRunner()
    args = ["compare", str(a), str(b), "--judge", "fake:fair", "-o", str(tmp_path / "bt.jsonl"), "-q", "--rounds", "50"]
    res = run.invoke(cli.app, [*args, "--calibration", str(_calibration(tmp_path, 0.4))])
    assert res.exit_code == 0, res.output
    assert "judge calibration: fake:fair: agreement 60.0%" in res.stdout
    assert "swapped in 40% of calibration pairs (over 20%)" in res.stderr
    assert "better" in res.stdout.splitlines()[0]  # 8 of 8: the interval clears the band
    res = run.invoke(cli.app, [*args, "--calibration", str(_calibration(tmp_path, 0.1))])
    assert res.exit_code == 0 and "judge calibration" in res.stdout and "swapped" not in res.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    res = run.invoke(cli.app, [*args, "--calibration", str(bad)])
    assert res.exit_code != 0 and "not a calibration summary" in str(res.exception)


def test_pipeline_recipe_takes_a_calibration_file(tmp_path):
    import yaml

    from bimo.pipeline.recipe import load_pipeline_recipe

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    recipe = yaml.safe_load((repo / "recipes" / "tiny.yaml").read_text())
    recipe["eval"] = {**recipe["eval"], "calibration": "judge/calibration.json"}
    for name in ("tests", "benchmarks"):  # the recipe's relative inputs
        (tmp_path / name).symlink_to(repo / name)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(yaml.safe_dump(recipe))
    loaded = load_pipeline_recipe(tmp_path / "recipes" / "r.yaml")
    assert loaded.eval.calibration == tmp_path / "recipes" / "judge" / "calibration.json"


def test_report_table_uses_the_earned_verdict(tmp_path):
    from bimo.evaluate.report import build_report

    recs = [b.to_record() for b in _battles(1, 5, 0)]
    (tmp_path / "battles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    page = build_report(tmp_path, tmp_path / "report", rounds=50).read_text()
    assert "<th>verdict</th>" in page and "no clear difference: about 835 more battles" in page
