"""The pipeline's synth stage reports the self-curation scorer's calibration like `bimo
synth backtranslate --calibration`: refused when made with other settings, unless the
recipe says `calibration_any_settings`; then printed, kept and in the stage's figures."""

from __future__ import annotations

import json

from pipeline_util import tiny_recipe, write_recipe

from scripted_judges import pair_by_quality, scripted_calibration


def test_synth_stage_reports_its_scorer_calibration(bimo_cli, tmp_path, tiny_llama, toy, home_env):
    cal = scripted_calibration(tmp_path / "cal", pair_by_quality, judge="local:tiny")
    recipe = tiny_recipe(tiny_llama, toy)
    recipe["synth"]["backtranslate"]["score"] = True
    recipe["synth"]["calibration"] = str(cal)
    path = write_recipe(tmp_path / "r.yaml", recipe)
    run = tmp_path / "run"
    args = ["pipeline", "run", str(path), "-o", str(run), "--stop-after", "synth"]
    first = bimo_cli(*args, env=home_env, timeout=900)
    err = first.stderr.decode()
    assert first.returncode == 2, err[-2000:]
    assert "rubric 'pairwise' -> 'synth-score'" in err.strip().splitlines()[-1]
    assert not (run / "02-synth" / "sft.jsonl").exists()  # refused before any synthesis

    recipe["synth"]["calibration_any_settings"] = True
    write_recipe(path, recipe)
    second = bimo_cli(*args, "--resume", env=home_env, timeout=900)
    err = second.stderr.decode()
    assert second.returncode == 0, err[-2000:]
    assert "judge calibration: local:tiny: agreement 100.0%" in err
    figures = json.loads((run / "pipeline.json").read_text())["stages"]["synth"]["figures"]
    assert figures["judge_agreement"] == 1.0 and figures["judge_position_flips"] == 0.0
    kept = json.loads((run / "02-synth" / "sft.judge.json").read_text())
    assert kept["judge_settings"]["rubric"] == "synth-score" and kept["differences"]
