"""Backend overhead: bimo's local paths vs calling xllamacpp directly, in one run.

Same model file, prompt, sampling settings and thread count on both sides; generation
is forced to a fixed length (ignore_eos) so both decode exactly the same number of
tokens. Requests alternate between the two to spread machine noise evenly.

    python benchmarks/backend_overhead.py [--model tiny|default|small] [--tokens 128] [--rounds 5]

Target: bimo ≥ 0.95× raw tokens/s. Also reports 4 concurrent requests vs sequential.
The streamed paths count the same thing on both sides: decoded characters per second of
the text the caller receives (a token that ends inside a UTF-8 character yields no chunk,
so counting chunks on one side and tokens on the other would not compare). The last
line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time

from bimo.llm import get_backend, registry
from bimo.llm.local import default_threads


def raw_server(path: str, n_ctx: int, parallel: int, threads: int):
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = path
    p.kv_unified = True
    p.n_ctx = n_ctx
    p.n_parallel = parallel
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.warmup = False
    p.verbosity = -1
    return xllamacpp.Server(p)


def request(i: int, tokens: int) -> dict:
    return {"messages": [{"role": "user", "content": f"请写一篇关于江南春天的散文。（第{i}篇）"}],
            "max_tokens": tokens, "temperature": 0.7, "top_p": 0.95, "seed": i, "ignore_eos": True,
            "repeat_penalty": 1.1}


def timed(fn) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default" if registry.is_pulled("default") else "tiny")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    os.environ["BIMO_NO_CACHE"] = "1"
    threads = default_threads()
    path = str(registry.pull(args.model))
    n_ctx, parallel = 4096, 4
    raw = raw_server(path, n_ctx, parallel, threads)
    be = get_backend(f"local:{args.model}", n_ctx=n_ctx, parallel=parallel, threads=threads)
    print(f"model: {args.model} ({path}), threads={threads}, tokens/request={args.tokens}, rounds={args.rounds}")

    def raw_once(i: int) -> int:
        return raw.handle_chat_completions(request(i, args.tokens))["usage"]["completion_tokens"]

    def raw_stream_once(i: int) -> int:
        chunks = []
        raw.handle_chat_completions({**request(i, args.tokens), "stream": True}, chunks.append)
        return sum(len(c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"])

    def bimo_once(i: int) -> int:
        return be.complete_request(request(i, args.tokens), cache=False).completion_tokens

    def bimo_stream_once(i: int) -> int:
        s = be.stream_request(request(i, args.tokens), cache=False)
        return sum(len(piece) for piece in s)

    paths = {"raw xllamacpp": raw_once, "bimo local": bimo_once,
             "raw xllamacpp stream": raw_stream_once, "bimo local stream": bimo_stream_once}
    rates: dict[str, list[float]] = {k: [] for k in paths}
    raw_once(0), bimo_once(0)  # warm up both
    for r in range(1, args.rounds + 1):
        for name, fn in paths.items():
            secs, n = timed(lambda fn=fn, r=r: fn(r))
            rates[name].append(n / secs)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print("\n| path | rate (median) | ratio vs raw |")
    print("|---|---|---|")
    ratios = {}
    for name in paths:
        base = med["raw xllamacpp stream" if "stream" in name else "raw xllamacpp"]
        unit = "chars/s" if "stream" in name else "tokens/s"
        ratios[name] = med[name] / base
        print(f"| {name} | {med[name]:.1f} {unit} | {ratios[name]:.3f}× |")

    # Concurrency: 4 requests at once vs one after another, through bimo.
    def run_all(concurrent: bool) -> float:
        t0 = time.perf_counter()
        if concurrent:
            ts = [threading.Thread(target=bimo_once, args=(100 + i,)) for i in range(4)]
            [t.start() for t in ts]
            [t.join() for t in ts]
        else:
            for i in range(4):
                bimo_once(100 + i)
        return time.perf_counter() - t0

    seq = run_all(False)
    par = run_all(True)
    total = 4 * args.tokens
    print(f"\n4 requests sequential: {seq:.2f} s ({total / seq:.1f} tok/s); "
          f"concurrent: {par:.2f} s ({total / par:.1f} tok/s); speed-up {seq / par:.2f}×")
    be.close()
    print(json.dumps({"benchmark": "backend_overhead", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "model": args.model, "tokens": args.tokens, "rounds": args.rounds, "threads": threads,
                      "load_1min": round(os.getloadavg()[0], 1),
                      "plain_tokens_per_s": {"raw": round(med["raw xllamacpp"], 2), "bimo": round(med["bimo local"], 2)},
                      "stream_chars_per_s": {"raw": round(med["raw xllamacpp stream"], 2),
                                             "bimo": round(med["bimo local stream"], 2)},
                      "ratio_plain": round(ratios["bimo local"], 3), "ratio_stream": round(ratios["bimo local stream"], 3),
                      "concurrent_4_speedup": round(seq / par, 2)}))


if __name__ == "__main__":
    main()
