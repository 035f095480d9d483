"""Synthesis benchmark (prints figures; not a test).

1. Runner throughput against OpenAI-compatible servers with 8 slots, records/s at
   concurrency 1 and 8: (a) a loopback server whose 8 slots each take a fixed time per
   request (`--latency`), the way a GPU server's slots run side by side, so the figure is
   the runner's and the HTTP client's own scaling; (b) the embedded llama.cpp server of
   `local:tiny` over HTTP, for short JSON answers and fixed-length paragraphs (`--tokens`),
   where the 8 slots share this machine's cores.
2. Runner overhead per record with an instant in-process backend (target ≤ 5 ms).
3. With `local:default` (or `--model`) as generator and scorer on N documents of the frozen
   set (benchmarks/data/synth_heldout.jsonl): `--set heldout`, the 40 never read while tuning;
   `--set dev`, the 10 read while tuning; or `--set tuned`, the documents the one-step prompts
   were written with: kept rate of (document, task) pairs overall, per task and per language,
   the form the genre model gave against the set's own label, seconds per kept pair, and the
   constitutional kept rate.

The last line printed is a JSON summary; the stub server's speed-up is labelled as such.

    .venv/bin/python benchmarks/synth.py [--records 32] [--latency 0.2] [--docs 20] [--skip-quality | --only-quality]
        [--examples 2] [--max-tokens 1024] [--max-chars 1200] [--keep DIR] [--model local:default]
        [--set heldout|dev|tuned] [--tasks-per-doc 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bimo.llm.base import Backend
from bimo.runner import GenerationStep, Reject, RunConfig, run_step


class Instant(Backend):
    def __init__(self):
        super().__init__()
        self.cache, self.uri, self.parallel = None, "bench:instant", 8

    def _complete(self, request):
        return {"choices": [{"message": {"content": '{"n": 2}'}, "finish_reason": "stop"}]}


class Echo(GenerationStep):
    name = "bench"
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    def prompt(self, record):
        return [{"role": "user", "content": f"Reply with JSON {{\"n\": {record['x']}}} only."}]

    def parse(self, record, output):
        if not isinstance(output, dict):
            raise Reject("not an object")
        return [{"messages": [{"role": "assistant", "content": json.dumps(output)}], "meta": {}}]


class Sentence(GenerationStep):
    """Free text up to `--tokens` (the tiny model nearly always writes that much): a workload
    where decoding, not prompt handling, dominates."""

    name = "bench-text"

    def prompt(self, record):
        return [{"role": "user", "content": f"Write a short paragraph about the number {record['x']}."}]

    def parse(self, record, output):
        return [{"messages": [{"role": "assistant", "content": output}], "meta": {}}]


def throughput(n: int, tmp: Path, tokens: int) -> dict[str, float]:
    from bimo.llm import get_backend
    from bimo.llm.base import GenParams
    from bimo.llm.openai_backend import OpenAIBackend

    be = get_backend("local:tiny", parallel=8)
    api = OpenAIBackend(be.http_url + "/v1", "tiny", api_key=be.api_key, parallel=8)
    api.cache = None
    print(f"8-slot llama.cpp server (local:tiny over HTTP), {be.threads} threads, {os.cpu_count()} cores")
    speedups = {}
    for label, make, max_tokens in (("JSON answer of a few tokens", Echo, 24),
                                    (f"{tokens}-token paragraph", Sentence, tokens)):
        rates = {}
        for conc in (1, 8):
            params = GenParams(temperature=0.7, max_tokens=max_tokens, seed=None)
            recs = [{"id": f"{conc}-{i}", "x": i} for i in range(n)]
            s = run_step(make(api, params), recs, tmp / f"t{conc}.jsonl",
                         RunConfig(concurrency=conc, progress=False, overwrite=True))
            rates[conc] = s.done / s.seconds
            print(f"  {label}, concurrency {conc}: {rates[conc]:.2f} records/s "
                  f"({s.ok} ok, {s.failed} failed, {s.seconds:.1f} s)")
        print(f"  {label}: speed-up at 8 = {rates[8] / rates[1]:.2f}x (target >= 5x)")
        speedups["json" if make is Echo else f"paragraph_{tokens}_tokens"] = round(rates[8] / rates[1], 2)
    return speedups


class SlotServer:
    """A loopback OpenAI-compatible chat server with `slots` slots: each request holds a slot
    for `latency` seconds, then answers. Models a server whose slots really run in parallel
    (a GPU server), which two shared CPU cores cannot provide."""

    def __init__(self, slots: int, latency: float):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        gate, lat = threading.BoundedSemaphore(slots), latency

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gate:
                    time.sleep(lat)
                body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "slots",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": '{"n": 2}'}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()


def slot_throughput(n: int, tmp: Path, latency: float) -> float:
    from bimo.llm.base import GenParams
    from bimo.llm.openai_backend import OpenAIBackend

    server = SlotServer(8, latency)
    try:
        api = OpenAIBackend(server.url, "slots", api_key="x", parallel=8)
        api.cache = None
        print(f"8-slot loopback server, {1000 * latency:.0f} ms per request per slot")
        rates = {}
        for conc in (1, 8):
            recs = [{"id": f"{conc}-{i}", "x": i} for i in range(n)]
            s = run_step(Echo(api, GenParams(max_tokens=24)), recs, tmp / f"s{conc}.jsonl",
                         RunConfig(concurrency=conc, progress=False, overwrite=True))
            rates[conc] = s.done / s.seconds
            print(f"  concurrency {conc}: {rates[conc]:.2f} records/s ({s.ok} ok, {s.failed} failed, {s.seconds:.1f} s)")
        print(f"  speed-up at 8 = {rates[8] / rates[1]:.2f}x (stub server: time.sleep per slot; ideal 8x)")
        return round(rates[8] / rates[1], 2)
    finally:
        server.close()


def overhead(tmp: Path, n: int = 2000) -> float:
    recs = [{"id": i, "x": i} for i in range(n)]
    s = run_step(Echo(Instant()), recs, tmp / "o.jsonl", RunConfig(concurrency=8, progress=False, overwrite=True))
    print(f"runner overhead: {1000 * s.seconds / n:.2f} ms/record over {n} records (target <= 5 ms)")
    return round(1000 * s.seconds / n, 3)


REPO = Path(__file__).resolve().parents[1]
# Real documents, Chinese and English: the synth test set, Brown corpus excerpts (fiction and
# non-fiction), Tang poems and modern Chinese sayings (see tests/curate/data/README.md).
SOURCES = [REPO / "tests" / "synth" / "data" / "docs.jsonl", REPO / "tests" / "curate" / "data" / "brown_sample.jsonl",
           REPO / "tests" / "curate" / "data" / "tang300.jsonl", REPO / "tests" / "curate" / "data" / "sayings_zh.jsonl"]


def in_turn(pools: list[list[dict]], n: int) -> list[dict]:
    """The first `n` items taking one from each pool in turn."""
    out: list[dict] = []
    i = 0
    while len(out) < n and any(i < len(p) for p in pools):
        out += [p[i] for p in pools if i < len(p)]
        i += 1
    return out[:n]


def real_docs(n: int) -> list[dict]:
    """`n` distinct real documents, taken in turn from each source (so both languages appear)."""
    from bimo.io import iter_jsonl

    return in_turn([list(iter_jsonl(p)) for p in SOURCES], n)


HELDOUT = REPO / "benchmarks" / "data" / "synth_heldout.jsonl"  # frozen; see benchmarks/synth_heldout.py


#: the first documents of the frozen set taken in turn (`heldout_docs(DEV)`) were read while the
#: three-step design was tuned, so they are its development set; the other 40 stay held out
DEV = 10


def heldout_docs(n: int, part: str = "all") -> list[dict]:
    """`n` documents of the frozen set, taken in turn from each (language, form) group so a
    small slice still covers both languages and every form; `part` "dev" keeps the first
    `DEV` of that order, "heldout" the rest (never read while tuning)."""
    from bimo.io import iter_jsonl

    groups: dict[tuple, list[dict]] = {}
    for d in iter_jsonl(HELDOUT):
        groups.setdefault((d["metadata"]["lang"], d["metadata"]["form"]), []).append(d)
    order = in_turn([groups[k] for k in sorted(groups)], 10**6)
    pool = order[:DEV] if part == "dev" else order[DEV:] if part == "heldout" else order
    return pool[:n]


def rate_table(kept: dict, total: dict) -> str:
    return ", ".join(f"{k} {kept.get(k, 0)}/{n} ({100 * kept.get(k, 0) / n:.0f}%)" for k, n in sorted(total.items()))


def quality(docs: int, tmp: Path, examples: int, max_tokens: int, max_chars: int, model: str,
            retries: int = 0, tasks_per_doc: int = 2, doc_set: str = "heldout") -> dict:
    from collections import Counter

    from bimo.io import iter_jsonl
    from bimo.llm import get_backend
    from bimo.synth.backtranslate import BacktranslateConfig, plan_path, run_backtranslate
    from bimo.synth.constitution import ConstitutionConfig, ConstitutionStep

    rows = real_docs(docs) if doc_set == "tuned" else heldout_docs(docs, doc_set)
    be = get_backend(model)
    cfg = BacktranslateConfig(tasks_per_doc=tasks_per_doc, max_tokens=max_tokens, examples=examples,
                              max_source_chars=max_chars)
    out = tmp / "bt.jsonl"
    run_cfg = RunConfig(progress=True, overwrite=True, retries=retries)
    d, s = run_backtranslate(be, rows, out, cfg, run_cfg)
    print(f"{doc_set} set, {len(rows)} documents, {model} as generator and scorer, retries {retries}")
    print(f"described: {d.ok}/{d.done} documents; failures: {dict(d.reasons)}")
    print(f"backtranslation: {s.ok}/{s.done} (document, task) pairs kept ({100 * s.ok / max(1, s.done):.0f}%) "
          f"in {(d.seconds + s.seconds) / 60:.1f} min, {(d.seconds + s.seconds) / max(1, s.ok):.0f} s per kept pair; "
          f"failures: {dict(s.reasons)}")
    plans = list(iter_jsonl(plan_path(out)))
    same = sum(p["description"]["form"] == p["metadata"].get("form") for p in plans)
    print(f"form from the genre model = the set's own label: {same}/{len(plans)} "
          f"({Counter((p['metadata'].get('form'), p['description']['form']) for p in plans).most_common()})")
    work = [(t, p["description"]["lang"]) for p in plans for t in p["tasks"]]
    kept = [(r["meta"]["task"], r["meta"]["lang"]) for r in iter_jsonl(out)] if out.exists() else []
    print("  by task: " + rate_table(Counter(t for t, _ in kept), Counter(t for t, _ in work)))
    print("  by language: " + rate_table(Counter(lang for _, lang in kept), Counter(lang for _, lang in work)))
    figures = {"model": model, "set": doc_set, "documents": len(rows),
               "backtranslation_pass": round(s.ok / max(1, s.done), 3)}
    if not kept:
        return figures
    dpo = tmp / "dpo.jsonl"
    c = run_step(ConstitutionStep(be, ConstitutionConfig(min_score=0, max_tokens=max_tokens)), out, dpo,
                 RunConfig(progress=True, overwrite=True, retries=retries))
    print(f"constitution: {c.ok}/{c.done} pairs kept ({100 * c.ok / max(1, c.done):.0f}%) "
          f"in {c.seconds / 60:.1f} min; failures: {dict(c.reasons)}")
    print(f"outputs and errors (with reasons and the rejected text) in {tmp}")
    return {**figures, "constitution_pass": round(c.ok / max(1, c.done), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=32)
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--latency", type=float, default=0.2, help="seconds per request per slot of the loopback server")
    ap.add_argument("--tokens", type=int, default=64, help="length of the free-text throughput workload")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--only-quality", action="store_true", help="skip the overhead and throughput figures")
    ap.add_argument("--examples", type=int, default=2, help="annotated examples per backtranslation prompt")
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--max-chars", type=int, default=1200, help="longest source passage shown")
    ap.add_argument("--keep", type=Path, help="keep outputs and errors files in this folder")
    ap.add_argument("--model", default="local:default", help="model for the quality figures")
    ap.add_argument("--retries", type=int, default=0, help="retries per record in the quality figures")
    ap.add_argument("--tasks-per-doc", type=int, default=2)
    ap.add_argument("--set", dest="doc_set", choices=("heldout", "dev", "tuned"), default="heldout",
                    help="heldout: the 40 frozen documents never read while tuning; dev: the 10 of the frozen set "
                         "read while tuning the three-step design; tuned: the documents the one-step prompts were "
                         "written with")
    a = ap.parse_args()
    summary: dict = {"benchmark": "synth", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "load_1min_start": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as d:
        tmp = a.keep or Path(d)
        tmp.mkdir(parents=True, exist_ok=True)
        if not a.only_quality:
            summary["runner_overhead_ms"] = overhead(tmp)
            summary["stub_server_speedup_8"] = slot_throughput(a.records, tmp, a.latency)
            summary["llama_cpp_server_speedup_8"] = throughput(a.records, tmp, a.tokens)
        if not a.skip_quality:
            summary["quality"] = quality(a.docs, tmp, a.examples, a.max_tokens, a.max_chars, a.model, a.retries,
                                         a.tasks_per_doc, a.doc_set)
    summary["load_1min_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(summary))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
