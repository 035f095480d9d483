"""Side-by-side judging of prediction files in both presentation orders.

Each pair of models is judged on every shared prompt twice: once with model a's
answer shown first, once with model b's first. If the two verdicts disagree once
mapped back to the models, the judge was swayed by position and the battle counts
as a tie. A battle is only written when both orders gave a valid verdict; a
failure goes to the errors file with its reason.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.evaluate import rubric as rb
from bimo.evaluate.battles import Battle, battle_id
from bimo.evaluate.judge_step import JudgeSettings, JudgeStep, judge_run_config
from bimo.evaluate.predictions import keyed_predictions, model_name, record_duplicates
from bimo.io import errors_path
from bimo.runner import attempt_seed, run_step


def combine(first: str, second: str) -> tuple[str, bool]:
    """Winner from the verdict with a shown first (`first`) and with b shown first (`second`).

    Returns (winner, consistent); an inconsistent pair is a tie.
    """
    swap = {"A": "B", "B": "A", "tie": "tie"}
    second_unswapped = swap[second]
    if first != second_unswapped:
        return "tie", False
    return {"A": "model_a", "B": "model_b", "tie": "tie"}[first], True


class PairStep(JudgeStep):
    """One battle: a prompt judged with a's answer first, then with b's first.

    A job is {"key", "model_a", "model_b", "a": record, "b": record}; both orders
    run at the attempt's seed, and a malformed verdict in either retries the pair.
    """

    name = "compare"

    def key(self, job: dict[str, Any]) -> str:
        return json.dumps([job["key"], job["model_a"], job["model_b"]], ensure_ascii=False)

    def describe(self, job: dict[str, Any]) -> dict[str, Any]:
        return {"key": job["key"], "prompt": job["a"].get("prompt", ""), "model_a": job["model_a"],
                "model_b": job["model_b"], **self.context(), "judge_seed": self.settings.seed}

    def process(self, job: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        from bimo.text import count_length

        ra, rb_ = job["a"], job["b"]
        a_first = rb.pair_messages(ra, ra["response"], rb_["response"])
        b_first = rb.pair_messages(ra, rb_["response"], ra["response"])
        v1, v2 = (self.generate(m, attempt, schema=rb.PAIR_SCHEMA, parse=rb.parse_pair) for m in (a_first, b_first))
        winner, consistent = combine(v1, v2)
        seed = attempt_seed(self.settings.seed, attempt)
        battle = Battle(prompt=ra["prompt"], model_a=job["model_a"], model_b=job["model_b"], winner=winner,
                        response_a=ra["response"], response_b=rb_["response"], judge=self.settings.judge,
                        meta={"key": job["key"], "verdicts": [v1, v2], "consistent": consistent,
                              "judge_temperature": self.settings.temperature, "judge_seeds": [seed, seed],
                              "attempts": attempt + 1,
                              "len_a": count_length(ra["response"]), "len_b": count_length(rb_["response"]),
                              **{f: ra[f] for f in ("domain", "task", "lang") if f in ra}})
        rec = battle.to_record()
        return [{"id": battle_id(rec), **rec}]


def compare_files(paths: list[str | Path], backend: Any, out: str | Path, settings: JudgeSettings,
                  names: list[str] | None = None, limit: int | None = None,
                  progress: bool = False) -> list[Battle]:
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

    run_step(PairStep(backend, settings), jobs, out, judge_run_config(settings, progress))
    return load_battles(out)


__all__ = ["PairStep", "combine", "compare_files", "errors_path"]
