"""Pointwise judging of a prediction file with a rubric (writebench, longbench, criteria).

Runs on the shared step runner: judgments go to OUT, failures to OUT's
`.errors.jsonl` twin with the reason and the raw answer. Items already judged in OUT
are skipped and earlier failures are tried again, so a crashed run picks up where it
stopped. For `criteria`, criteria are generated once per instruction into a shared
file (by the same runner) and reused for every model judged against it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from bimo.binding import check_sidecar
from bimo.evaluate import rubric as rb
from bimo.evaluate.judge_step import JudgeSettings, JudgeStep, judge_run_config
from bimo.evaluate.predictions import item_key, load_predictions, model_name
from bimo.io import errors_path, iter_jsonl
from bimo.runner import Reject, attempt_seed, run_step

__all__ = ["CriteriaBook", "errors_path", "instruction_key", "judge_file", "summarize_judgments"]


def instruction_key(rec: dict[str, Any]) -> str:
    """Criteria belong to the instruction (prompt + input), not to an answer."""
    h = hashlib.sha256((rec.get("prompt", "") + "\x00" + (rec.get("input") or "")).encode()).hexdigest()
    return h[:16]


class CriteriaStep(JudgeStep):
    """Writes the criteria for one instruction."""

    name = "criteria"

    def __init__(self, backend: Any, settings: JudgeSettings, rubric: rb.Rubric):
        super().__init__(backend, settings)
        self.rubric = rubric
        self.schema = rb.criteria_gen_schema(rubric.n_criteria)

    def key(self, record: dict[str, Any]) -> str:
        return instruction_key(record)

    def binding(self) -> dict[str, Any]:
        return {**super().binding(), "rubric": self.rubric.name, "n_criteria": self.rubric.n_criteria}

    def describe(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"key": instruction_key(record), "prompt": record.get("prompt", ""), **self.context()}

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        msgs = rb.criteria_gen_messages(self.rubric, record)
        crit = self.generate(msgs, attempt, schema=self.schema, parse=lambda t: rb.parse_criteria(self.rubric, t))
        return [{"key": instruction_key(record), "prompt": record.get("prompt", ""), "criteria": crit,
                 **self.context(), "judge_seed": attempt_seed(self.settings.seed, attempt), "time": time.time()}]


class CriteriaBook:
    """Per-instruction criteria, generated on first need and kept in a JSONL file."""

    def __init__(self, path: Path, rubric: rb.Rubric, backend: Any, settings: JudgeSettings,
                 progress: bool = False):
        self.path, self.rubric, self.backend, self.settings = Path(path), rubric, backend, settings
        self.progress = progress
        self.book: dict[str, list[dict[str, str]]] = {}
        self._load()

    def _load(self) -> None:
        if self.path.exists():
            for rec in iter_jsonl(self.path, []):  # a torn last line is repaired by the runner
                if "key" in rec and "criteria" in rec:
                    self.book[rec["key"]] = rec["criteria"]

    def ensure(self, records: list[dict[str, Any]]) -> dict[str, str]:
        """Generate missing criteria; returns {instruction key: failure reason} for those that failed."""
        todo, seen = [], set()
        for rec in records:
            k = instruction_key(rec)
            if k not in self.book and k not in seen:
                seen.add(k)
                todo.append(rec)
        step = CriteriaStep(self.backend, self.settings, self.rubric)
        if not todo:  # nothing to generate, but the criteria must still be this judge's
            check_sidecar(self.path, step.binding(), reusing=self.path.exists())
            return {}
        run_step(step, todo, self.path, judge_run_config(self.settings, self.progress))
        self._load()
        err = errors_path(self.path)
        reasons = {str(r.get("id")): r.get("reason", "") for r in iter_jsonl(err, [])} if err.exists() else {}
        return {k: f"criteria generation failed: {reasons.get(k) or 'no criteria'}" for k in seen if k not in self.book}


class ScoreStep(JudgeStep):
    """Scores one answer with a rubric (for `criteria`, against the instruction's criteria)."""

    name = "judge"

    def __init__(self, backend: Any, settings: JudgeSettings, rubric: rb.Rubric, model: str,
                 book: CriteriaBook | None = None, failed_criteria: dict[str, str] | None = None):
        super().__init__(backend, settings)
        self.rubric, self.model, self.book = rubric, model, book
        self.failed_criteria = failed_criteria or {}

    def key(self, record: dict[str, Any]) -> str:
        return item_key(record)

    def binding(self) -> dict[str, Any]:
        """The judge and its settings, the rubric, and the judged model: one file per model."""
        return {**super().binding(), "rubric": self.rubric.name, "judged_model": self.model}

    def base(self) -> dict[str, Any]:
        return {"model": self.model, "rubric": self.rubric.name, **self.context()}

    def describe(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"key": item_key(record), "prompt": record.get("prompt", ""), **self.base(),
                "judge_seed": self.settings.seed}

    def process(self, rec: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        rubric = self.rubric
        if self.book is not None:
            k = instruction_key(rec)
            crit = self.book.book.get(k)
            if crit is None:
                raise Reject(self.failed_criteria.get(k, "criteria generation failed"), retry=False)
            msgs = rb.criteria_score_messages(rubric, rec, rec["response"], crit)
            verdict = self.generate(msgs, attempt, schema=rb.criteria_score_schema(rubric, len(crit)),
                                    parse=lambda t: rb.parse_criteria_scores(rubric, t, crit))
        else:
            msgs = rb.score_messages(rubric, rec, rec["response"])
            verdict = self.generate(msgs, attempt, schema=rb.score_schema(rubric),
                                    parse=lambda t: rb.parse_scores(rubric, t))
        return [{"key": item_key(rec), "id": rec.get("id"), "prompt": rec["prompt"], **self.base(),
                 "judge_seed": attempt_seed(self.settings.seed, attempt), "attempts": attempt + 1,
                 **{k: rec[k] for k in ("lang", "domain", "task", "length") if k in rec},
                 "response_length": _length(rec["response"]),
                 "scores": verdict["scores"], "overall": verdict["overall"],
                 "reason": verdict.get("reason", ""),
                 **({"reasons": verdict["reasons"]} if "reasons" in verdict else {}),
                 "time": time.time()}]


def judge_file(pred_path: str | Path, rubric_name: str, backend: Any, out: str | Path,
               settings: JudgeSettings, name: str | None = None, limit: int | None = None,
               criteria_path: str | Path | None = None, progress: bool = False) -> dict[str, Any]:
    """Judge every record of a prediction file; returns a summary (counts, means per dimension)."""
    rubric = rb.load_rubric(rubric_name)
    records = load_predictions(pred_path)[: limit or None]
    model = name or model_name(pred_path)
    out = Path(out)
    book = None
    failed_criteria: dict[str, str] = {}
    if rubric.name == "criteria":
        book = CriteriaBook(Path(criteria_path or out.parent / "criteria.jsonl"), rubric, backend, settings,
                            progress=progress)
        failed_criteria = book.ensure(records)

    step = ScoreStep(backend, settings, rubric, model, book, failed_criteria)
    stats = run_step(step, records, out, judge_run_config(settings, progress))
    summary = summarize_judgments(list(iter_jsonl(out, [])) if out.exists() else [])
    summary.update({"judged_now": stats.ok, "failed_now": stats.failed, "skipped_done": stats.skipped,
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
