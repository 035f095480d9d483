"""Evaluation benchmark: ratings fit and bootstrap speed, and judge throughput.

Prints figures; not a test. Targets: fit of 100k battles among 20 models < 1 s,
1000 bootstrap rounds < 60 s on 2 cores. Judge throughput uses `--judge-model`
(default `tiny`) when it has been pulled (`bimo models pull NAME`), otherwise that
part is skipped.

    .venv/bin/python benchmarks/eval.py [--rounds 1000] [--judge-items 8] [--judge-model default]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from bimo.evaluate.ratings import SCALE, PairCounts, bootstrap_strengths, fit_strengths


def ratings_bench(n: int, m: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    true = rng.normal(0, 1, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    u = rng.random(n)
    outcome = np.where(u < p - 0.05, 0, np.where(u < p + 0.05, 1, 2))  # ~10% ties
    names = [f"model-{k:02d}" for k in range(m)]

    t0 = time.perf_counter()
    pc = PairCounts.from_arrays(names, a, b, outcome)
    t1 = time.perf_counter()
    t = fit_strengths(pc)
    t2 = time.perf_counter()
    boot = bootstrap_strengths(pc, rounds=rounds, seed=0, init=t)
    t3 = time.perf_counter()

    rank_ok = np.array_equal(np.argsort(t), np.argsort(true))
    width = np.mean(np.diff(np.quantile(boot * SCALE, [0.025, 0.975], axis=0), axis=0))
    print(f"ratings: {n} battles, {m} models (cores available: {os.cpu_count()})")
    print(f"  aggregate battles into pair counts: {t1 - t0:.3f} s")
    print(f"  maximum-likelihood fit:             {t2 - t1:.3f} s   (target < 1 s)")
    print(f"  fit incl. aggregation:              {t2 - t0:.3f} s")
    print(f"  {rounds} bootstrap rounds:             {t3 - t2:.2f} s    (target < 60 s)")
    print(f"  ranking recovered exactly: {rank_ok}; mean 95% interval width: {width:.1f} Elo")


def judge_bench(items: int, model: str = "tiny") -> None:
    from bimo.llm import registry

    try:
        registry.resolve_path(model)
    except Exception as exc:  # not pulled: skip, as documented
        print(f"judge throughput: skipped ({exc}); run `bimo models pull {model}` first")
        return
    from bimo.evaluate.judge import judge_file
    from bimo.evaluate.runner import JudgeSettings
    from bimo.io import atomic_write_jsonl
    from bimo.llm import get_backend

    recs = [{"id": k, "prompt": f"Write a one-line slogan for shop number {k}.", "lang": "en",
             "response": f"Shop {k}: where good things happen every day."} for k in range(items)]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BIMO_CACHE"] = os.path.join(tmp, "cache.sqlite")  # measure real calls, not cache hits
        pred = os.path.join(tmp, "p.jsonl")
        atomic_write_jsonl(pred, recs)
        be = get_backend(f"local:{model}")
        settings = JudgeSettings(judge=f"local:{model}", retries=1, max_tokens=160)
        t0 = time.perf_counter()
        s = judge_file(pred, "writebench", be, os.path.join(tmp, "out.jsonl"), settings)
        dt = time.perf_counter() - t0
        be.close()
    print(f"judge throughput (local:{model}, writebench, parallel={be.parallel}): {items} items in {dt:.1f} s "
          f"= {items / dt:.2f} items/s; judged {s['judged_now']}, failed {s['failed_now']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--battles", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--judge-items", type=int, default=8)
    ap.add_argument("--judge-model", default="tiny", help="registry model for the judge throughput")
    args = ap.parse_args()
    ratings_bench(args.battles, args.models, args.rounds)
    judge_bench(args.judge_items, args.judge_model)


if __name__ == "__main__":
    main()
