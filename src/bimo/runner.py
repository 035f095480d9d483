"""The generation-step runner: records in, model calls in parallel, validated results out.

A *step* is three small pieces: `prompt(record) -> messages`, a JSON `schema` for the
answer, and `parse(record, output) -> list[result]` which raises `Reject(reason)` for
anything it will not accept. The runner does the rest, once, for every stage that
makes data (synthesis) or judges it (evaluation):

* bounded concurrency: threads up to `backend.parallel` (or `concurrency`), with a
  bounded window of in-flight records so huge inputs are streamed, not loaded;
* retries of unparseable or rejected answers with a fresh seed (the same seed would
  replay the cached answer);
* resumability after `kill -9`: every input record has a stable key (its `id`, or a
  hash of its content); results carry it in `meta.source_id` together with their part
  number, all parts of one record are written in one fsynced write, and a resume skips
  keys already complete in the output or listed in the errors file (with
  `retry_failed`, failures are forgotten and tried again instead). A record whose
  parts were torn by a crash is dropped from the output and redone, so nothing is
  lost or duplicated. The model and settings are recorded beside the output
  (`bimo.binding`); a resume asking for others is refused, so nothing is mixed;
* error accounting: every failure (backend error or timeout, unparseable output,
  failed validation, a bad input line) goes to `OUT.errors.jsonl` with its reason —
  never a silent empty row; a tqdm bar on stderr shows ok / retried / failed.

`run_step` writes files; `map_step` runs the same machinery in memory and yields
each record's outcome, for steps whose results are summarised rather than kept.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bimo.binding import check_sidecar, make_binding, params_settings, sidecar_path
from bimo.errors import BackendError, BimoError, ContextOverflow
from bimo.io import JsonlAppender, atomic_write_jsonl, errors_path, iter_jsonl, repair_jsonl
from bimo.llm.base import Backend, Completion, GenParams, Message, parse_json

__all__ = ["Reject", "GenerationStep", "RunConfig", "RunStats", "StepOutcome", "attempt_seed", "errors_path", "map_step",
           "reason_class", "run_step"]


#: GenerationStep config fields that change how a run goes, not what it writes (left out of the binding).
_NOT_OUTPUT = {"concurrency", "retries", "workers", "progress", "limit"}


class Reject(Exception):
    """The step will not accept this answer; `reason` says why (it ends up in the errors file).

    `retry=True` asks the runner to try again with a fresh seed (bad JSON, a failed check
    that sampling might pass); `retry=False` is final (the input itself is unusable).
    """

    def __init__(self, reason: str, *, retry: bool = True, detail: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.detail = detail


class GenerationStep:
    """One generation step. Override `prompt` and `parse` (and `schema`), or `process` for
    steps that make several calls per record (generate then score, several models...)."""

    name: str = "step"
    #: JSON schema the answer must follow (sent as response_format); None = free text
    schema: dict[str, Any] | None = None

    def __init__(self, backend: Backend | None = None, params: GenParams | None = None):
        self.backend = backend
        self.params = params or GenParams(temperature=0.7, max_tokens=1024, seed=0)

    # --- to override -----------------------------------------------------------
    def prompt(self, record: dict[str, Any]) -> list[Message]:
        raise NotImplementedError

    def parse(self, record: dict[str, Any], output: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def key(self, record: dict[str, Any]) -> str:
        """A stable id for the record: its `id`, else a hash of its content."""
        rid = record.get("id")
        if rid is not None and str(rid) != "":
            return str(rid)
        blob = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return "sha1:" + hashlib.sha1(blob).hexdigest()[:16]

    def admit(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Called serially, in the writer thread, before results are written: the place
        for checks across records (deduplication). Raise Reject to drop them all."""
        return results

    def prime(self, result: dict[str, Any]) -> None:
        """On resume, sees every result already written (to rebuild `admit`'s state)."""

    def describe(self, record: dict[str, Any]) -> dict[str, Any]:
        """Extra fields for the record's row in the errors file (what it was, who judged it...)."""
        return {}

    def binding(self) -> dict[str, Any]:
        """What the output depends on besides the input: recorded beside the output file
        (`OUT.binding.json`), and a resume with anything different is refused. Steps with
        settings of their own (a rubric, a judged model's name) add them."""
        config = getattr(self, "config", None)
        extra = {"config": config.model_dump(mode="json", exclude=_NOT_OUTPUT)} if isinstance(config, BaseModel) else {}
        return make_binding(getattr(self.backend, "uri", None), step=self.name, **params_settings(self.params),
                            **extra)

    @property
    def parallel(self) -> int:
        """Requests at once: the backend's slots, but no more answers of `max_tokens` than its
        context holds. The embedded backend's slots share one KV pool, so four 6,000-token
        answers that all run long would fail with "context exceeded" and keep only short ones."""
        slots = max(1, getattr(self.backend, "parallel", 1) or 1)
        n_ctx = getattr(self.backend, "n_ctx", None)
        if not n_ctx:
            return slots
        return max(1, min(slots, int(n_ctx) // (self.params.max_tokens + 1024)))

    # --- default machinery -------------------------------------------------------
    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        output = self.generate(self.prompt(record), attempt, schema=self.schema)
        return self.parse(record, output)

    def generate(self, messages: list[Message], attempt: int, *, schema: dict[str, Any] | None = None,
                 parse: Callable[[str], Any] | None = None, backend: Backend | None = None,
                 params: GenParams | None = None, cache: bool | None = None, salt: int = 0,
                 read: Callable[[Completion], Any] | None = None) -> Any:
        """One model call at seed `attempt_seed(params.seed, attempt, salt)`.

        The answer goes through `read(completion)` when given (what the text alone does not
        carry, such as token probabilities), else `parse(text)` when given, else is parsed as JSON when a
        schema is given, else returned as text (empty text is a Reject). An answer the
        parse refuses (ValueError, or not JSON) is a Reject with the raw answer in `detail`,
        retried by the runner with the next seed.

        A backend error is not caught: the record fails for good, with kind `backend` or
        `timeout`. The backend has already retried what a retry can fix (dropped
        connections, 5xx, with backoff); a new seed changes the answer, not the server, so
        retrying here would only multiply the wait on a dead or slow server and file a
        server fault as a bad answer. Judge runs try failures again on their next run,
        other runs with `retry_failed`.
        """
        backend = backend or self.backend
        if backend is None:
            raise BimoError(f"step {self.name} needs a model backend")
        params = params or self.params
        comp = backend.chat(messages, params, seed=attempt_seed(params.seed, attempt, salt), json_schema=schema,
                            cache=cache)
        if read is not None:
            try:
                return read(comp)
            except ValueError as exc:
                raise Reject(str(exc), detail=comp.text[:2000]) from None
        if parse is None and schema is None:
            if not comp.text.strip():
                raise Reject("empty output")
            return comp.text
        try:
            return parse(comp.text) if parse is not None else parse_json(comp.text)
        except (ValueError, BackendError) as exc:  # parse_json says "not JSON" with a BackendError
            reason = str(exc) if parse is not None else "unparseable output"
            if comp.finish_reason == "length":
                reason += " (cut off at max_tokens)"
            raise Reject(reason, detail=comp.text[:2000]) from None


def attempt_seed(seed: int | None, attempt: int, salt: int = 0) -> int | None:
    """The seed of try `attempt` (0, 1, ...) of a call seeded `seed`: the same seed would
    replay the cached answer, so each try moves on by one. `salt` keeps calls of one
    record that must differ (a repeat run, the parts of a long text) apart. None stays None."""
    return None if seed is None else seed + salt + attempt


class RunConfig(BaseModel):
    """How a step runs over a file."""

    concurrency: int | None = Field(None, ge=1, description="threads; default: the backend's parallel slots")
    resume: bool = False
    overwrite: bool = False
    limit: int | None = Field(None, ge=1, description="process at most this many input records")
    retries: int = Field(1, ge=0, description="extra attempts for rejected or unparseable answers")
    retry_failed: bool = False
    """On resume, try the records in the errors file again (their old rows are removed
    first) instead of treating them as done."""
    progress: bool = True


@dataclass
class RunStats:
    """What a run did; `reasons` counts failures by reason (first line, numbers kept)."""

    ok: int = 0
    outputs: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return self.ok + self.failed

    def summary(self) -> str:
        top = ", ".join(f"{r} ×{n}" for r, n in self.reasons.most_common(3))
        dups = f", {self.duplicates} duplicate ids (not run, in the errors file)" if self.duplicates else ""
        return (f"{self.ok} ok ({self.outputs} records), {self.failed} failed, {self.retried} retried, "
                f"{self.skipped} skipped (done before){dups}" + (f"; failures: {top}" if top else ""))


@dataclass
class StepOutcome:
    """What became of one record in `map_step`: `results`, or None with the `reason`."""

    key: str
    record: dict[str, Any]
    results: list[dict[str, Any]] | None
    attempts: int
    reason: str = ""
    kind: str = ""
    detail: Any = None

    @property
    def ok(self) -> bool:
        return self.results is not None


def map_step(step: GenerationStep, records: Iterable[dict[str, Any]], *, concurrency: int | None = None,
             retries: int = 1, progress: bool = False) -> Iterator[StepOutcome]:
    """Run `step` over `records` in memory; yields one outcome per record as it finishes.

    Same concurrency, retries and failure handling as `run_step`, without files:
    nothing is resumed, and repeated keys are all processed.
    """
    workers = concurrency or step.parallel
    bar = _bar(progress, step.name)
    ok = failed = 0
    try:
        keyed = ((step.key(r), r) for r in records)
        for key, record, out in _execute(step, keyed, workers, retries):
            ok, failed = ok + (out.results is not None), failed + (out.results is None)
            bar.update(1)
            bar.set_postfix(ok=ok, failed=failed, refresh=False)
            yield StepOutcome(key, record, out.results, out.attempts, out.reason, out.kind, out.detail)
    finally:
        bar.close()


def run_step(step: GenerationStep, records: Iterable[dict[str, Any]] | str | Path, out: str | Path,
             config: RunConfig | None = None) -> RunStats:
    """Run `step` over `records` (an iterable, or a JSONL path) into `out` and its errors file."""
    config = config or RunConfig()
    out = Path(out)
    err_path = errors_path(out)
    done = _prepare_outputs(step, out, err_path, config)
    stats = RunStats()
    bad_lines: list[str] = []
    source = iter_jsonl(records, bad_lines) if isinstance(records, str | Path) else iter(records)
    workers = config.concurrency or step.parallel
    t0 = time.perf_counter()
    bar = _bar(config.progress, step.name)
    with JsonlAppender(out) as sink, JsonlAppender(err_path) as errs:

        def todo() -> Iterator[tuple[str, dict[str, Any]]]:
            first_row: dict[str, int] = {}
            for n, record in enumerate(_with_bad_lines(source, bad_lines, errs, stats, step.name, done)):
                if config.limit is not None and n >= config.limit:
                    return
                key = step.key(record)
                if key in done:
                    stats.skipped += 1
                    continue
                if key in first_row:  # a repeated id: the first one is processed, this one recorded
                    _record_duplicate(step, key, record, n + 1, first_row[key], errs, stats, done)
                    continue
                first_row[key] = n + 1
                yield key, record

        try:
            for key, record, outcome in _execute(step, todo(), workers, config.retries):
                _settle(step, key, record, outcome, sink, errs, stats)
                bar.update(1)
                bar.set_postfix(ok=stats.ok, retried=stats.retried, failed=stats.failed, refresh=False)
        finally:
            bar.close()
    stats.seconds = time.perf_counter() - t0
    return stats


# --- internals -------------------------------------------------------------------------

def _execute(step: GenerationStep, items: Iterator[tuple[str, dict[str, Any]]], workers: int,
             retries: int) -> Iterator[tuple[str, dict[str, Any], _Outcome]]:
    """Run records on a thread pool, yielding (key, record, outcome) as each finishes.

    At most 2 x workers records are in flight, so a huge input is streamed. The input
    iterator and the consumer both run in the caller's thread: writing needs no lock.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"bimo-{step.name}") as pool:
        pending: dict[Future, tuple[str, dict[str, Any]]] = {}

        def drain(block: bool) -> Iterator[tuple[str, dict[str, Any], _Outcome]]:
            if not pending:
                return
            finished, _ = wait(list(pending), timeout=None if block else 0, return_when=FIRST_COMPLETED)
            for fut in finished:
                key, record = pending.pop(fut)
                yield key, record, fut.result()

        for key, record in items:
            pending[pool.submit(_attempt_all, step, record, retries)] = (key, record)
            if len(pending) >= 2 * workers:
                yield from drain(block=True)
            yield from drain(block=False)
        while pending:
            yield from drain(block=True)


@dataclass
class _Outcome:
    results: list[dict[str, Any]] | None
    attempts: int
    reason: str = ""
    kind: str = ""
    detail: Any = None


def _attempt_all(step: GenerationStep, record: dict[str, Any], retries: int) -> _Outcome:
    """Run one record, retrying rejected answers; never raises (bugs become error rows)."""
    last: Reject | None = None
    for attempt in range(retries + 1):
        try:
            results = step.process(record, attempt)
            if not results:
                raise Reject("no results", retry=False)
            return _Outcome(results, attempt + 1)
        except Reject as exc:
            last = exc
            if not exc.retry:
                break
        except ContextOverflow as exc:
            return _Outcome(None, attempt + 1, str(exc), "context")
        except BimoError as exc:
            kind = "timeout" if "timeout" in str(exc).lower() else "backend"
            return _Outcome(None, attempt + 1, str(exc), kind)
        except Exception as exc:  # a bug in a step: record it, keep the run going
            return _Outcome(None, attempt + 1, f"internal error: {type(exc).__name__}: {exc}", "internal")
    assert last is not None
    return _Outcome(None, attempt + 1, last.reason, "reject", last.detail)


def _settle(step: GenerationStep, key: str, record: dict[str, Any], outcome: _Outcome, sink: JsonlAppender,
            errs: JsonlAppender, stats: RunStats) -> None:
    if outcome.attempts > 1:
        stats.retried += 1
    results = outcome.results
    if results is not None:
        try:
            results = step.admit(results)
            if not results:
                raise Reject("dropped by admission", retry=False)
        except Reject as exc:
            outcome = _Outcome(None, outcome.attempts, exc.reason, "reject", exc.detail)
            results = None
    if results is None:
        stats.failed += 1
        stats.reasons[reason_class(outcome.reason)] += 1
        row = {"id": key, "step": step.name, "kind": outcome.kind, "reason": outcome.reason,
               "attempts": outcome.attempts}
        try:
            row = {**step.describe(record), **row}
        except Exception:  # context is a courtesy; never lose the failure over it
            pass
        if outcome.detail is not None:
            row["detail"] = outcome.detail
        errs.write(row)
        return
    n = len(results)
    # One write + fsync for all parts: a crash leaves all, none, or a torn tail that
    # the resume check detects by the part count.
    sink.write_many([{**res, "meta": {**(res.get("meta") or {}), "source_id": key, "part": i, "parts": n}}
                     for i, res in enumerate(results)])
    stats.ok += 1
    stats.outputs += n


def reason_class(reason: str) -> str:
    """Group reasons for the summary: the text before any ':' or '(' detail."""
    head = reason.split(":", 1)[0].split("(", 1)[0].strip()
    return head[:80] or "unknown"


def _with_bad_lines(source: Iterator[dict[str, Any]], bad: list[str], errs: JsonlAppender,
                    stats: RunStats, name: str, done: set[str]) -> Iterator[dict[str, Any]]:
    """Pass records through, sending malformed input lines to the errors file as they appear."""
    for rec in source:
        _flush_bad(bad, errs, stats, name, done)
        yield rec
    _flush_bad(bad, errs, stats, name, done)


def _record_duplicate(step: GenerationStep, key: str, record: dict[str, Any], row: int, first: int,
                      errs: JsonlAppender, stats: RunStats, done: set[str]) -> None:
    """A record whose key repeats an earlier row's: not run (its output would be ambiguous
    on resume), but listed in the errors file once, even across resumes."""
    stats.duplicates += 1
    if _duplicate_marker(row) in done:
        return
    entry = {"id": key, "step": step.name, "kind": "duplicate", "reason": f"duplicate id of row {first}",
             "row": row, "attempts": 0}
    try:
        entry = {**step.describe(record), **entry}
    except Exception:  # context is a courtesy; never lose the row over it
        pass
    errs.write(entry)


def _duplicate_marker(row: int) -> str:
    return f"duplicate-row:{row}"


def _flush_bad(bad: list[str], errs: JsonlAppender, stats: RunStats, name: str, done: set[str]) -> None:
    while bad:
        msg = bad.pop(0)
        stats.failed += 1
        stats.reasons["bad input line"] += 1
        key = "input:" + msg.split(": ", 1)[0]
        if key in done:  # reported by an earlier run already
            continue
        errs.write({"id": key, "step": name, "kind": "input", "reason": msg, "attempts": 0})


def _prepare_outputs(step: GenerationStep, out: Path, err_path: Path, config: RunConfig) -> set[str]:
    """Check/clean existing outputs and return the keys already complete."""
    if not config.resume:
        if (out.exists() and out.stat().st_size) or (err_path.exists() and err_path.stat().st_size):
            if not config.overwrite:
                raise BimoError(f"{out} already exists; pass --resume to continue it or --overwrite to start over")
        for p in (out, err_path, sidecar_path(out)):
            p.unlink(missing_ok=True)
        check_sidecar(out, step.binding(), reusing=False)
        return set()
    earlier = any(p.exists() and p.stat().st_size for p in (out, err_path))
    check_sidecar(out, step.binding(), reusing=earlier)
    done: set[str] = set()
    if out.exists():
        repair_jsonl(out)
        rows = list(iter_jsonl(out, []))
        parts: dict[str, set[int]] = {}
        want: dict[str, int] = {}
        for row in rows:
            meta = row.get("meta") or {}
            key = meta.get("source_id")
            if key is None:
                continue
            parts.setdefault(key, set()).add(int(meta.get("part", 0)))
            want[key] = int(meta.get("parts", 1))
        complete = {k for k, got in parts.items() if len(got) >= want[k]}
        if len(complete) < len(parts):  # torn groups: drop them, they will be redone
            torn = set(parts) - complete
            rows = [r for r in rows if (r.get("meta") or {}).get("source_id") not in torn]
            atomic_write_jsonl(out, rows)
        for row in rows:
            step.prime(row)
        done |= complete
    if err_path.exists():
        repair_jsonl(err_path)
        errs = list(iter_jsonl(err_path, []))
        if config.retry_failed:
            # Bad input lines and repeated ids stay reported (retrying cannot fix them); other
            # failures are forgotten, so a second failure is not listed twice.
            keep = [r for r in errs if r.get("kind") in ("input", "duplicate")]
            if len(keep) < len(errs):
                atomic_write_jsonl(err_path, keep)
            errs = keep
        # A duplicate's row names the key of the record it repeats, which is not done by it.
        done |= {str(r["id"]) for r in errs if "id" in r and r.get("kind") != "duplicate"}
        done |= {_duplicate_marker(int(r["row"])) for r in errs if r.get("kind") == "duplicate" and "row" in r}
    return done


def _bar(enabled: bool, name: str):
    from bimo.progress import progress_bar

    return progress_bar(desc=name, unit="rec", disable=not enabled, dynamic_ncols=True, mininterval=0.5)
