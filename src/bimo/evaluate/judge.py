"""Pointwise judging of a prediction file with a rubric (writebench, longbench, criteria).

Outputs are resumable JSONL: judgments go to OUT, failures to OUT's `.errors.jsonl`
twin with the reason and the raw answer. Items already judged in OUT are skipped, so
a crashed run picks up where it stopped. For `criteria`, criteria are generated once
per instruction into a shared file and reused for every model judged against it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from bimo.evaluate import rubric as rb
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


def errors_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".errors.jsonl")


def instruction_key(rec: dict[str, Any]) -> str:
    """Criteria belong to the instruction (prompt + input), not to an answer."""
    h = hashlib.sha256((rec.get("prompt", "") + "\x00" + (rec.get("input") or "")).encode()).hexdigest()
    return h[:16]


class CriteriaBook:
    """Per-instruction criteria, generated on first need and appended to a JSONL file."""

    def __init__(self, path: Path, rubric: rb.Rubric, backend: Any, settings: JudgeSettings):
        from bimo.io import JsonlAppender, iter_jsonl

        self.rubric, self.backend, self.settings = rubric, backend, settings
        self.book: dict[str, list[dict[str, str]]] = {}
        if path.exists():
            for rec in iter_jsonl(path):
                self.book[rec["key"]] = rec["criteria"]
        self._out = JsonlAppender(path)

    def ensure(self, records: list[dict[str, Any]]) -> dict[str, str]:
        """Generate missing criteria; returns {instruction key: failure reason} for those that failed."""
        todo, seen = [], set()
        for rec in records:
            k = instruction_key(rec)
            if k not in self.book and k not in seen:
                seen.add(k)
                todo.append(rec)
        failed = {}
        schema = rb.criteria_gen_schema(self.rubric.n_criteria)

        def gen(rec: dict[str, Any]):
            msgs = rb.criteria_gen_messages(self.rubric, rec)
            return ask(self.backend, msgs, schema, lambda t: rb.parse_criteria(self.rubric, t), self.settings)

        for rec, res in parallel_map(gen, todo, backend_parallel(self.backend)):
            k = instruction_key(rec)
            if isinstance(res, JudgeFailure):
                failed[k] = f"criteria generation failed: {res.reason}"
            elif isinstance(res, BaseException):
                raise res
            else:
                self.book[k] = res[0]
                self._out.write({"key": k, "prompt": rec.get("prompt", ""), "criteria": res[0],
                                 "judge": self.settings.judge, "time": time.time()})
        return failed

    def close(self) -> None:
        self._out.close()


def judge_file(pred_path: str | Path, rubric_name: str, backend: Any, out: str | Path,
               settings: JudgeSettings, name: str | None = None, limit: int | None = None,
               criteria_path: str | Path | None = None) -> dict[str, Any]:
    """Judge every record of a prediction file; returns a summary (counts, means per dimension)."""
    from bimo.io import JsonlAppender, iter_jsonl

    rubric = rb.load_rubric(rubric_name)
    records = load_predictions(pred_path)[: limit or None]
    model = name or model_name(pred_path)
    out = Path(out)
    done = {r["key"] for r in iter_jsonl(out)} if out.exists() else set()
    todo = [r for r in records if item_key(r) not in done]

    book = None
    failed_criteria: dict[str, str] = {}
    if rubric.name == "criteria":
        book = CriteriaBook(Path(criteria_path or out.parent / "criteria.jsonl"), rubric, backend, settings)
        failed_criteria = book.ensure(todo)

    def judge_one(rec: dict[str, Any]):
        if book is not None:
            crit = book.book[instruction_key(rec)]
            msgs = rb.criteria_score_messages(rubric, rec, rec["response"], crit)
            schema = rb.criteria_score_schema(rubric, len(crit))
            return ask(backend, msgs, schema, lambda t: rb.parse_criteria_scores(rubric, t, crit), settings)
        msgs = rb.score_messages(rubric, rec, rec["response"])
        return ask(backend, msgs, rb.score_schema(rubric), lambda t: rb.parse_scores(rubric, t), settings)

    base = {"model": model, "rubric": rubric.name, "judge": settings.judge,
            "judge_temperature": settings.temperature}
    n_ok = n_err = 0
    with JsonlAppender(out) as ok_out, JsonlAppender(errors_path(out)) as err_out:
        def fail(rec: dict[str, Any], reason: str, raw: str = "", attempts: int = 0) -> None:
            nonlocal n_err
            n_err += 1
            err_out.write({"key": item_key(rec), "prompt": rec["prompt"], **base, "judge_seed": settings.seed,
                           "reason": reason, "raw": raw, "attempts": attempts, "time": time.time()})

        runnable = []
        for rec in todo:
            if book is not None and instruction_key(rec) in failed_criteria:
                fail(rec, failed_criteria[instruction_key(rec)])
            else:
                runnable.append(rec)
        for rec, res in parallel_map(judge_one, runnable, backend_parallel(backend)):
            if isinstance(res, JudgeFailure):
                fail(rec, res.reason, res.raw, res.attempts)
                continue
            if isinstance(res, BaseException):
                raise res
            verdict, attempts, seed = res
            n_ok += 1
            ok_out.write({"key": item_key(rec), "id": rec.get("id"), "prompt": rec["prompt"], **base,
                          "judge_seed": seed, "attempts": attempts,
                          **{k: rec[k] for k in ("lang", "domain", "task", "length") if k in rec},
                          "response_length": _length(rec["response"]),
                          "scores": verdict["scores"], "overall": verdict["overall"],
                          "reason": verdict.get("reason", ""),
                          **({"reasons": verdict["reasons"]} if "reasons" in verdict else {}),
                          "time": time.time()})
    if book is not None:
        book.close()
    summary = summarize_judgments(list(iter_jsonl(out)) if out.exists() else [])
    summary.update({"judged_now": n_ok, "failed_now": n_err, "skipped_done": len(records) - len(todo),
                    "out": str(out), "errors": str(errors_path(out))})
    return summary


def _length(text: str) -> int:
    from bimo.text import count_length

    return count_length(text)


def summarize_judgments(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean overall and mean per dimension, per model and rubric."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in recs:
        groups.setdefault((r.get("model", "?"), r.get("rubric", "?")), []).append(r)
    rows = []
    for (model, rubric), rs in sorted(groups.items()):
        dims: dict[str, list[float]] = {}
        if rubric != "criteria":  # criteria differ per instruction; only the mean is comparable
            for r in rs:
                for k, v in r["scores"].items():
                    dims.setdefault(k, []).append(v)
        rows.append({"model": model, "rubric": rubric, "n": len(rs),
                     "overall": sum(r["overall"] for r in rs) / len(rs),
                     "dimensions": {k: sum(v) / len(v) for k, v in dims.items()}})
    return {"models": rows}
