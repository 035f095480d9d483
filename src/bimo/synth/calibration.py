"""A calibrated judge beside the data it curated.

`bimo synth backtranslate` keeps pairs by a model's self-curation score (P(yes)) and `bimo
synth rank` makes preference pairs from a pairwise judge's verdicts. Given the judge's
calibration (`--calibration calibration.json`, written by `bimo eval calibrate`), the
command reads it the way `bimo eval compare` does (`calibration_figures`): the settings the
calibration was made with must be the judge's settings here, else one line names the
differences and the command stops before any work (`--calibration-any-settings` shows the
figures anyway, with the differences in the line). The figures are printed beside the
run's statistics, a position-flip rate over the threshold gets a one-line warning, and
they are kept in `OUT.judge.json` so `bimo synth stats OUT` shows them too.

What the figures say about a scorer: the self-curation score is asked with a pointwise
prompt (rubric `synth-score`), while `calibrate` measures the same model as a pairwise
judge. Such a calibration always differs in its rubric, so it needs
`--calibration-any-settings`, and it tells how far that model agrees with people when
it compares, not how its yes/no reads do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import atomic_write_text, twin_path

SCORE_RUBRIC = "synth-score"


def judge_path(out: str | Path) -> Path:
    """`OUT.judge.json` beside `OUT.jsonl` (the naming of the errors and binding files)."""
    return twin_path(out, ".judge.json")


def scorer_settings(uri: str, temperature: float, max_tokens: int, seed: int) -> dict[str, Any]:
    """The self-curation scorer's verdict settings, in `bimo eval calibrate`'s terms."""
    from bimo.evaluate.judge_step import JudgeSettings
    from bimo.evaluate.pairjudge import judge_settings_record

    return judge_settings_record(JudgeSettings(judge=uri, temperature=temperature, max_tokens=max_tokens, seed=seed),
                                 SCORE_RUBRIC)


def read_calibration(path: str | Path, settings: dict[str, Any], allow_other: bool) -> dict[str, Any]:
    """The judge's figures (`calibration_figures`), refused when made with other settings."""
    from bimo.evaluate.calibrate import calibration_figures

    return calibration_figures(path, settings=settings, allow_other=allow_other)


def scorer_calibration(path: str | Path, uri: str, config: Any, allow_other: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(figures, scorer settings) for backtranslate's self-curation (`config`: a BacktranslateConfig)."""
    if not config.score:
        raise BimoError("a calibration describes the self-curation scorer, and scoring is off (--no-score)")
    from bimo.synth.backtranslate import SCORE_PARAMS

    settings = scorer_settings(uri, SCORE_PARAMS.temperature, SCORE_PARAMS.max_tokens, config.seed)
    return read_calibration(path, settings, allow_other), settings


def keep_calibration(out: str | Path, figures: dict[str, Any], used: dict[str, Any]) -> list[str]:
    """Keep the figures beside the output (`OUT.judge.json`, for `bimo synth stats`); returns the
    lines to print beside the run's statistics: the figures, and a warning on position flips."""
    atomic_write_text(judge_path(out), json.dumps({**figures, "judge_settings": used}, ensure_ascii=False,
                                                  indent=1) + "\n")
    return [figures["line"]] + ([f"warning: {figures['warning']}"] if figures["warning"] else [])


def recorded_calibration(out: str | Path) -> dict[str, Any] | None:
    """The figures kept beside OUT; None when there are none. A damaged file is said in the
    line, so the statistics are still written."""
    path = judge_path(out)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("line"), str):
        return {"line": f"judge calibration: {path} is damaged (not the JSON bimo writes)", "warning": None}
    return data
