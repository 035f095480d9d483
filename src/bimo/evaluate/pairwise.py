"""Side-by-side judging of prediction files in both presentation orders.

Each pair of models is judged on every shared prompt twice: once with model a's
answer shown first, once with model b's first. If the two verdicts disagree once
mapped back to the models, the judge was swayed by position and the battle counts
as a tie. A battle is only written when both orders gave a valid verdict; a
failure goes to the errors file with its reason.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.evaluate import rubric as rb
from bimo.evaluate.battles import Battle
from bimo.evaluate.judge import errors_path
from bimo.evaluate.runner import (
    JudgeFailure,
    JudgeSettings,
    ask,
    backend_parallel,
    item_key,
    load_predictions,
    model_name,
    parallel_map,
)


def combine(first: str, second: str) -> tuple[str, bool]:
    """Winner from the verdict with a shown first (`first`) and with b shown first (`second`).

    Returns (winner, consistent); an inconsistent pair is a tie.
    """
    swap = {"A": "B", "B": "A", "tie": "tie"}
    second_unswapped = swap[second]
    if first != second_unswapped:
        return "tie", False
    return {"A": "model_a", "B": "model_b", "tie": "tie"}[first], True


def judge_pair(backend: Any, rec: dict[str, Any], resp_a: str, resp_b: str, settings: JudgeSettings,
               cache: bool | None = None, seed_offset: int = 0) -> dict[str, Any]:
    """Both orders for one prompt: {'winner', 'consistent', 'verdicts': [ab, ba], 'attempts'}."""
    v1, n1, s1 = ask(backend, rb.pair_messages(rec, resp_a, resp_b), rb.PAIR_SCHEMA, rb.parse_pair, settings,
                     cache=cache, seed_offset=seed_offset)
    v2, n2, s2 = ask(backend, rb.pair_messages(rec, resp_b, resp_a), rb.PAIR_SCHEMA, rb.parse_pair, settings,
                     cache=cache, seed_offset=seed_offset)
    winner, consistent = combine(v1, v2)
    return {"winner": winner, "consistent": consistent, "verdicts": [v1, v2], "attempts": n1 + n2, "seeds": [s1, s2]}


def compare_files(paths: list[str | Path], backend: Any, out: str | Path, settings: JudgeSettings,
                  names: list[str] | None = None, limit: int | None = None) -> list[Battle]:
    """Judge every pair of prediction files; returns all battles in OUT (old and new)."""
    from bimo.io import JsonlAppender, iter_jsonl

    if len(paths) < 2:
        raise BimoError("compare needs at least two prediction files")
    names = names or [model_name(p) for p in paths]
    if len(names) != len(paths):
        raise BimoError(f"--names gives {len(names)} names for {len(paths)} files")
    if len(set(names)) != len(names):
        raise BimoError(f"model names must differ, got {', '.join(names)}; pass --names")
    preds = [{item_key(r): r for r in load_predictions(p)} for p in paths]

    out = Path(out)
    done = set()
    if out.exists():
        for r in iter_jsonl(out):
            done.add((r.get("key"), r["model_a"], r["model_b"]))

    jobs = []
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        shared = [k for k in preds[i] if k in preds[j]]
        if not shared:
            raise BimoError(f"{paths[i]} and {paths[j]} share no prompts (matched by id, else by prompt text)")
        for k in shared[: limit or None]:
            if (k, a, b) not in done:
                jobs.append((k, a, b, preds[i][k], preds[j][k]))

    def run(job):
        k, a, b, ra, rb_ = job
        return judge_pair(backend, ra, ra["response"], rb_["response"], settings)

    from bimo.text import count_length

    with JsonlAppender(out) as ok_out, JsonlAppender(errors_path(out)) as err_out:
        for job, res in parallel_map(run, jobs, backend_parallel(backend)):
            k, a, b, ra, rb_ = job
            if isinstance(res, JudgeFailure):
                err_out.write({"key": k, "prompt": ra["prompt"], "model_a": a, "model_b": b, "judge": settings.judge,
                               "reason": res.reason, "raw": res.raw, "attempts": res.attempts, "time": time.time()})
                continue
            if isinstance(res, BaseException):
                raise res
            battle = Battle(prompt=ra["prompt"], model_a=a, model_b=b, winner=res["winner"],
                            response_a=ra["response"], response_b=rb_["response"], judge=settings.judge,
                            meta={"key": k, "verdicts": res["verdicts"], "consistent": res["consistent"],
                                  "judge_temperature": settings.temperature, "judge_seeds": res["seeds"],
                                  "len_a": count_length(ra["response"]), "len_b": count_length(rb_["response"]),
                                  **{f: ra[f] for f in ("domain", "task", "lang") if f in ra}})
            ok_out.write(battle.to_record())
    from bimo.evaluate.battles import load_battles

    return load_battles(out)
