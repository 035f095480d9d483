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
from bimo.evaluate.runner import (
    JudgeSettings,
    JudgeStep,
    item_key,
    judge_run_config,
    keyed_predictions,
    model_name,
    record_duplicates,
)
from bimo.io import errors_path, iter_jsonl
from bimo.runner import map_step, run_step


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

    def verdicts(self, job: dict[str, Any], attempt: int) -> dict[str, Any]:
        ra, rb_ = job["a"], job["b"]
        v1, s1 = self.ask(rb.pair_messages(ra, ra["response"], rb_["response"]), rb.PAIR_SCHEMA, rb.parse_pair, attempt)
        v2, s2 = self.ask(rb.pair_messages(ra, rb_["response"], ra["response"]), rb.PAIR_SCHEMA, rb.parse_pair, attempt)
        winner, consistent = combine(v1, v2)
        return {"winner": winner, "consistent": consistent, "verdicts": [v1, v2], "attempts": attempt + 1,
                "seeds": [s1, s2]}

    def process(self, job: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        from bimo.text import count_length

        res = self.verdicts(job, attempt)
        ra, rb_ = job["a"], job["b"]
        battle = Battle(prompt=ra["prompt"], model_a=job["model_a"], model_b=job["model_b"], winner=res["winner"],
                        response_a=ra["response"], response_b=rb_["response"], judge=self.settings.judge,
                        meta={"key": job["key"], "verdicts": res["verdicts"], "consistent": res["consistent"],
                              "judge_temperature": self.settings.temperature, "judge_seeds": res["seeds"],
                              "attempts": res["attempts"],
                              "len_a": count_length(ra["response"]), "len_b": count_length(rb_["response"]),
                              **{f: ra[f] for f in ("domain", "task", "lang") if f in ra}})
        rec = battle.to_record()
        return [{"id": battle_id(rec), **rec}]


class _VerdictsOnly(PairStep):
    def process(self, job: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        return [self.verdicts(job, attempt)]


def judge_pair(backend: Any, rec: dict[str, Any], resp_a: str, resp_b: str, settings: JudgeSettings,
               cache: bool | None = None, seed_offset: int = 0) -> dict[str, Any]:
    """Both orders for one prompt: {'winner', 'consistent', 'verdicts': [ab, ba], 'attempts', 'seeds'}.

    Raises BimoError with the reason when every try gave a malformed verdict.
    """
    job = {"key": item_key(rec), "model_a": "a", "model_b": "b", "a": {**rec, "response": resp_a},
           "b": {**rec, "response": resp_b}}
    step = _VerdictsOnly(backend, settings, cache=cache, seed_offset=seed_offset)
    outcome = next(map_step(step, [job], concurrency=1, retries=settings.retries))
    if outcome.results is None:
        raise BimoError(f"judge failed after {outcome.attempts} tries: {outcome.reason}")
    return outcome.results[0]


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
    # Battles already in OUT are skipped by (key, model_a, model_b), which also covers
    # files written before the runner's bookkeeping (`meta.source_id`) existed.
    done = set()
    if out.exists():
        for r in iter_jsonl(out, []):
            done.add((r.get("key"), r.get("model_a"), r.get("model_b")))

    jobs = []
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        shared = [k for k in preds[i] if k in preds[j]]
        if not shared:
            raise BimoError(f"{paths[i]} and {paths[j]} share no prompts (matched by id, else by prompt text)")
        for k in shared[: limit or None]:
            if (k, a, b) not in done:
                jobs.append({"key": k, "model_a": a, "model_b": b, "a": preds[i][k], "b": preds[j][k]})

    run_step(PairStep(backend, settings), jobs, out, judge_run_config(settings, progress))
    return load_battles(out)


__all__ = ["PairStep", "combine", "compare_files", "errors_path", "judge_pair"]
