"""A calibrated judge beside synthesis: `--calibration` on `bimo synth rank` and
`backtranslate` prints the judge's figures with the run's statistics, keeps them for
`bimo synth stats`, warns on position flips, and refuses a calibration made with other
judge settings unless `--calibration-any-settings` says so."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bimo.errors import BimoError
from bimo.synth import cli
from bimo.synth.calibration import judge_path
from fakes import ScriptedBackend
from scripted_judges import pair_always_first, pair_by_quality, scripted_calibration

DATA = Path(__file__).parent / "data"
TINY = {"BIMO_N_CTX": "4096", "BIMO_THREADS": "1"}
def fair_judge_and_models(uri: str | None) -> ScriptedBackend:
    """m:good answers 'good ...', m:poor answers 'poor ...', any other URI judges by quality."""
    if uri in ("m:good", "m:poor"):
        word = uri.split(":")[1]
        return ScriptedBackend(lambda messages, seed: f"{word} answer to: {messages[-1]['content'][:20]}", uri=uri)
    return ScriptedBackend(pair_by_quality, uri=uri or "j:fair")


def rank(monkeypatch, tmp_path, *args):
    monkeypatch.setattr(cli, "_backend", fair_judge_and_models)
    out = tmp_path / "rank.jsonl"
    res = CliRunner().invoke(cli.app, ["rank", str(DATA / "instructions.jsonl"), "--models", "m:good,m:poor",
                                       "--judge", "j:fair", "-o", str(out), "-q", *args])
    return res, out


def test_rank_prints_and_keeps_a_matching_calibration(monkeypatch, tmp_path):
    cal = scripted_calibration(tmp_path / "cal", pair_by_quality)
    res, out = rank(monkeypatch, tmp_path, "--calibration", str(cal))
    assert res.exit_code == 0, res.output
    assert "judge calibration: j:fair: agreement 100.0%" in res.stderr and "warning" not in res.stderr
    kept = json.loads(judge_path(out).read_text())
    assert kept["agreement"] == 1.0 and kept["position_flips"] == 0.0 and kept["differences"] == []
    assert kept["judge_settings"]["max_tokens"] == 256 and kept["judge_settings"]["rubric"] == "pairwise"
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 2 and all(r["meta"]["chosen_model"] == "m:good" for r in recs)
    assert all(r["meta"]["judge_settings"] == kept["judge_settings"] for r in recs)
    stats = CliRunner().invoke(cli.app, ["stats", str(out)])
    assert stats.exit_code == 0, stats.output
    assert "## Judge calibration" in stats.stdout and "- j:fair: agreement 100.0%" in stats.stdout


def test_rank_refuses_a_calibration_of_other_settings_unless_told(monkeypatch, tmp_path):
    cal = scripted_calibration(tmp_path / "cal", pair_by_quality)
    res, out = rank(monkeypatch, tmp_path, "--calibration", str(cal), "--judge-tokens", "100")
    assert isinstance(res.exception, BimoError) and not out.exists()  # exit 2 through `bimo` (run_app)
    assert "calibrated with other settings than this judge's (max_tokens 256 -> 100)" in str(res.exception)
    res, out = rank(monkeypatch, tmp_path, "--calibration", str(cal), "--judge-tokens", "100",
                    "--calibration-any-settings")
    assert res.exit_code == 0, res.output
    assert "(calibrated with other settings: max_tokens 256 -> 100)" in res.stderr
    assert json.loads(judge_path(out).read_text())["differences"] == ["max_tokens 256 -> 100"]


def test_rank_warns_when_the_calibrated_judge_follows_position(monkeypatch, tmp_path):
    cal = scripted_calibration(tmp_path / "cal", pair_always_first)
    res, out = rank(monkeypatch, tmp_path, "--calibration", str(cal))
    assert res.exit_code == 0, res.output
    warn = [x for x in res.stderr.splitlines() if x.startswith("warning: ")]
    assert len(warn) == 1 and "swapped in 100% of calibration pairs (over 20%)" in warn[0]
    assert "- warning: judge j:fair changes its verdict" in CliRunner().invoke(cli.app, ["stats", str(out)]).stdout


def test_stats_says_when_the_kept_figures_are_damaged(tmp_path):
    out = tmp_path / "d.jsonl"
    out.write_text(json.dumps({"prompt": [{"role": "user", "content": "x"}], "chosen": [{"role": "assistant", "content": "a"}],
                               "rejected": [{"role": "assistant", "content": "b"}], "meta": {}}) + "\n")
    judge_path(out).write_text("{broken")
    res = CliRunner().invoke(cli.app, ["stats", str(out)])
    assert res.exit_code == 0 and "d.judge.json is damaged" in res.stdout


def test_backtranslate_calibration_settings_are_checked_first(bimo_cli, tmp_path):
    """The self-curation scorer is asked pointwise: a pairwise calibration of the same model
    always differs in its rubric, refused in one line before any model is loaded."""
    cal = scripted_calibration(tmp_path / "cal", pair_by_quality, judge="local:tiny")
    args = ["synth", "backtranslate", str(DATA / "docs.jsonl"), "-o", str(tmp_path / "bt.jsonl"), "--model",
            "local:tiny", "--calibration", str(cal)]
    r = bimo_cli(*args)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1, err
    assert "rubric 'pairwise' -> 'synth-score'" in err and " -> 1" in err  # one token, read from its probabilities
    r = bimo_cli(*args, "--no-score")
    assert r.returncode == 2 and "scoring is off (--no-score)" in r.stderr.decode()
    assert not (tmp_path / "bt.jsonl").exists()


def test_backtranslate_tiny_model_with_a_calibration(bimo_cli, tiny_path, tmp_path):
    cal = scripted_calibration(tmp_path / "cal", pair_by_quality, judge="local:tiny")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(next(x for x in (DATA / "docs.jsonl").read_text().splitlines() if '"thoreau-walden"' in x) + "\n")
    out = tmp_path / "bt.jsonl"
    r = bimo_cli("synth", "backtranslate", str(docs), "-o", str(out), "--model", "local:tiny", "--tasks-per-doc", "1",
                 "--examples", "1", "--max-tokens", "128", "--retries", "0", "-q", "--calibration", str(cal),
                 "--calibration-any-settings", env=TINY, timeout=600)
    err = r.stderr.decode()
    assert r.returncode in (0, 1), err[-800:]  # the tiny model often keeps nothing (exit 1, with reasons)
    assert "judge calibration: local:tiny: agreement 100.0%" in err and "rubric 'pairwise' -> 'synth-score'" in err
    kept = json.loads(judge_path(out).read_text())
    assert kept["judge_settings"]["rubric"] == "synth-score" and kept["judge_settings"]["judge"] == "local:tiny"
