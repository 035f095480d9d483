"""Side-by-side judging of prediction files in both presentation orders.

Each pair of models is judged on every shared prompt twice: once with model a's
answer shown first, once with model b's first. If the two verdicts disagree once
mapped back to the models, the judge was swayed by position and the battle counts
as a tie. The judge's options (one order, samples per order, a rubric per writing
type, criteria first) are `bimo.evaluate.pairjudge`'s and are recorded per battle. A battle is only written when both orders gave a valid verdict; a
failure goes to the errors file with its reason.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.evaluate.battles import Battle, battle_id
from bimo.evaluate.judge_step import JudgeSettings, JudgeStep, judge_run_config
from bimo.evaluate.pairjudge import OPTION_DEFAULTS, PairJudge
from bimo.evaluate.predictions import keyed_predictions, model_name, record_duplicates
from bimo.io import errors_path
from bimo.runner import run_step


class PairStep(JudgeStep):
    """One battle: a prompt judged as `PairJudge` says (a's answer first, then b's, unless
    one order was asked for), with the rubric and the judge's options recorded.

    A job is {"key", "model_a", "model_b", "a": record, "b": record}; every call of a try
    runs at that try's seeds, and a malformed verdict in any retries the pair.
    """

    name = "compare"

    def __init__(self, backend: Any, settings: JudgeSettings, rubric: str = "pairwise"):
        super().__init__(backend, settings)
        self.pair_judge = PairJudge(settings, rubric)

    def binding(self) -> dict[str, Any]:
        """The judge's options too, so a resume judged another way is refused rather than
        blended into one win rate (only options set away from their defaults: battle files
        judged before the options existed still resume)."""
        rec = self.pair_judge.recorded
        options = {k: rec.get(k) for k, v in OPTION_DEFAULTS.items() if rec.get(k) != v}
        if rec["rubric"] != "pairwise":
            options["rubric"] = rec["rubric"]
        return {**super().binding(), **({"judge_options": options} if options else {})}

    def key(self, job: dict[str, Any]) -> str:
        return json.dumps([job["key"], job["model_a"], job["model_b"]], ensure_ascii=False)

    def describe(self, job: dict[str, Any]) -> dict[str, Any]:
        return {"key": job["key"], "prompt": job["a"].get("prompt", ""), "model_a": job["model_a"],
                "model_b": job["model_b"], **self.context(), "judge_seed": self.settings.seed}

    def process(self, job: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        from bimo.text import count_length

        ra, rb_ = job["a"], job["b"]
        got = self.pair_judge.judge(self, ra, ra["response"], rb_["response"], attempt, self.key(job))
        sides = got["sides"]
        winner = {"a": "model_a", "b": "model_b", "tie": "tie"}[got["winner"]]
        battle = Battle(prompt=ra["prompt"], model_a=job["model_a"], model_b=job["model_b"], winner=winner,
                        response_a=ra["response"], response_b=rb_["response"], judge=self.settings.judge,
                        meta={"key": job["key"], "verdicts": got["verdicts"], "consistent": len(set(sides)) == 1,
                              "judge_temperature": self.settings.temperature, "judge_seeds": got["seeds"],
                              "judge_settings": self.pair_judge.recorded,
                              **{k: got[k] for k in ("first", "votes", "rubric_type", "margins", "score") if k in got},
                              "attempts": attempt + 1,
                              "len_a": count_length(ra["response"]), "len_b": count_length(rb_["response"]),
                              **{f: ra[f] for f in ("domain", "task", "lang") if f in ra}})
        rec = battle.to_record()
        return [{"id": battle_id(rec), **rec}]


def compare_files(paths: list[str | Path], backend: Any, out: str | Path, settings: JudgeSettings,
                  names: list[str] | None = None, limit: int | None = None,
                  progress: bool = False, rubric: str = "pairwise") -> list[Battle]:
    """Judge every pair of prediction files; returns all battles in OUT (old and new)."""
    from bimo.evaluate.battles import load_battles

    if len(paths) < 2:
        raise BimoError("compare needs at least two prediction files")
    names = names or [model_name(p) for p in paths]
    if len(names) != len(paths):
        raise BimoError(f"--names gives {len(names)} names for {len(paths)} files")
    if len(set(names)) != len(names):
        raise BimoError(f"model names must differ, got {', '.join(names)}; pass --names")
    keyed = [keyed_predictions(p) for p in paths]
    preds = [by_key for by_key, _ in keyed]

    out = Path(out)
    record_duplicates(errors_path(out), [d for _, dups in keyed for d in dups])
    jobs = []
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        shared = [k for k in preds[i] if k in preds[j]]
        if not shared:
            raise BimoError(f"{paths[i]} and {paths[j]} share no prompts (matched by id, else by prompt text)")
        jobs += [{"key": k, "model_a": a, "model_b": b, "a": preds[i][k], "b": preds[j][k]}
                 for k in shared[: limit or None]]

    run_step(PairStep(backend, settings, rubric), jobs, out, judge_run_config(settings, progress))
    return load_battles(out)


__all__ = ["PairStep", "compare_files", "errors_path"]
