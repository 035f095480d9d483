"""Synthesis benchmark (prints figures; not a test).

1. Runner throughput against an OpenAI-compatible server with 8 slots (the embedded
   llama.cpp server of `local:tiny`), records/s at concurrency 1 and 8.
2. Runner overhead per record with an instant in-process backend (target ≤ 5 ms).
3. With `local:default` on N real documents: share of backtranslated pairs passing span
   verification, and share of constitutional negatives passing minimality.

    .venv/bin/python benchmarks/synth.py [--records 32] [--docs 20] [--skip-quality]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bimo.llm.base import Backend
from bimo.runner import Reject, RunConfig, Step, errors_path, run_step


class Instant(Backend):
    def __init__(self):
        super().__init__()
        self.cache, self.uri, self.parallel = None, "bench:instant", 8

    def _complete(self, request):
        return {"choices": [{"message": {"content": '{"n": 2}'}, "finish_reason": "stop"}]}


class Echo(Step):
    name = "bench"
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    def prompt(self, record):
        return [{"role": "user", "content": f"Reply with JSON {{\"n\": {record['x']}}} only."}]

    def parse(self, record, output):
        if not isinstance(output, dict):
            raise Reject("not an object")
        return [{"messages": [{"role": "assistant", "content": json.dumps(output)}], "meta": {}}]


def throughput(n: int, tmp: Path) -> None:
    from bimo.llm import get_backend
    from bimo.llm.openai_backend import OpenAIBackend

    be = get_backend("local:tiny", parallel=8)
    api = OpenAIBackend(be.http_url + "/v1", "tiny", api_key=be.api_key, parallel=8)
    api.cache = None
    from bimo.llm.base import GenParams

    rates = {}
    for conc in (1, 8):
        step = Echo(api, GenParams(temperature=0.7, max_tokens=24, seed=None))
        recs = [{"id": f"{conc}-{i}", "x": i} for i in range(n)]
        s = run_step(step, recs, tmp / f"t{conc}.jsonl", RunConfig(concurrency=conc, progress=False, overwrite=True))
        rates[conc] = s.done / s.seconds
        print(f"concurrency {conc}: {rates[conc]:.2f} records/s ({s.ok} ok, {s.failed} failed, {s.seconds:.1f} s)")
    print(f"speed-up at 8: {rates[8] / rates[1]:.2f}x (target >= 5x; CPU decode on {os.cpu_count()} cores limits it)")


def overhead(tmp: Path, n: int = 2000) -> None:
    recs = [{"id": i, "x": i} for i in range(n)]
    s = run_step(Echo(Instant()), recs, tmp / "o.jsonl", RunConfig(concurrency=8, progress=False, overwrite=True))
    print(f"runner overhead: {1000 * s.seconds / n:.2f} ms/record over {n} records (target <= 5 ms)")


def quality(docs: int, tmp: Path) -> None:
    from bimo.io import iter_jsonl
    from bimo.llm import get_backend
    from bimo.synth.backtranslate import BacktranslateConfig, BacktranslateStep, expand_docs
    from bimo.synth.constitution import ConstitutionConfig, ConstitutionStep

    src = Path(__file__).resolve().parents[1] / "tests" / "synth" / "data" / "docs.jsonl"
    rows = list(iter_jsonl(src))
    rows = (rows * (docs // len(rows) + 1))[:docs]
    rows = [{**r, "id": f"{r['id']}-{i}"} for i, r in enumerate(rows)]
    be = get_backend("local:default")
    cfg = BacktranslateConfig(tasks_per_doc=1, score=False, max_tokens=512)
    out = tmp / "bt.jsonl"
    s = run_step(BacktranslateStep(be, cfg), list(expand_docs(rows, cfg)), out,
                 RunConfig(progress=True, overwrite=True, retries=0))
    print(f"backtranslation: {s.ok}/{s.done} pairs pass span verification ({100 * s.ok / max(1, s.done):.0f}%) "
          f"on {docs} documents; failures: {dict(s.reasons)}")
    dpo = tmp / "dpo.jsonl"
    c = run_step(ConstitutionStep(be, ConstitutionConfig(min_score=0, max_tokens=512)), out, dpo,
                 RunConfig(progress=True, overwrite=True, retries=0))
    print(f"constitution: {c.ok}/{c.done} negatives pass minimality ({100 * c.ok / max(1, c.done):.0f}%); "
          f"failures: {dict(c.reasons)}; errors in {errors_path(dpo)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=32)
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--skip-quality", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        overhead(tmp)
        throughput(a.records, tmp)
        if not a.skip_quality:
            quality(a.docs, tmp)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
