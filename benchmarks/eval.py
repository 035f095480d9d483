"""Evaluation benchmark: ratings fit and bootstrap speed, and judge throughput.

Prints figures; not a test. Targets: fit of 100k battles among 20 models < 1 s,
1000 bootstrap rounds < 60 s on 2 cores. The same battles are also written as a JSONL
file of `Battle` records and rated the way `bimo eval ratings FILE` does (reading and
validating the records, aggregation, fit, bootstrap), in process and as the CLI command
itself (with its start-up). The last line printed is a JSON summary. Judge throughput uses `--judge-model`
(default `tiny`) when it has been pulled (`bimo models pull NAME`), otherwise that
part is skipped.

    .venv/bin/python benchmarks/eval.py [--rounds 1000] [--judge-items 8] [--judge-model default]

`--offline DIR` instead runs the whole evaluation offline through the CLI, the way a user
would: two registry models answer a few bimo-bench prompts (Chinese and English), the
embedded default judges one pointwise and both side by side, checks its own agreement,
and writes the report; it prints each command's time and the results.

    .venv/bin/python benchmarks/eval.py --offline runs/eval-offline [--offline-models small,default]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bimo.evaluate.ratings import SCALE, PairCounts, bootstrap_strengths, fit_strengths


def ratings_bench(n: int, m: int, rounds: int) -> dict[str, float]:
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
    figures = {"aggregate_s": round(t1 - t0, 4), "fit_s": round(t2 - t1, 4), "bootstrap_s": round(t3 - t2, 2)}
    return {**figures, **cli_path_bench(names, a, b, outcome, rounds)}


def cli_path_bench(names: list[str], a, b, outcome, rounds: int) -> dict[str, float]:
    """The path `bimo eval ratings battles.jsonl` takes, on the same battles."""
    from bimo.evaluate.battles import load_battles
    from bimo.evaluate.ratings import compute_ratings

    winner = np.array(["model_a", "model_b", "tie"])[outcome]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "battles.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for k in range(len(a)):
                fh.write(json.dumps({"id": str(k), "model_a": names[a[k]], "model_b": names[b[k]],
                                     "winner": str(winner[k])}) + "\n")
        t0 = time.perf_counter()
        battles = load_battles(path)
        t1 = time.perf_counter()
        compute_ratings(battles, rounds=rounds, seed=0)
        t2 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bimo.cli", "eval", "ratings", str(path), "--rounds", str(rounds),
                               "--json"], capture_output=True, text=True)
        t3 = time.perf_counter()
        if proc.returncode:
            raise SystemExit(f"bimo eval ratings failed: {proc.stderr[-500:]}")
    print("  the CLI path, same battles as a JSONL file of Battle records:")
    print(f"    read and validate records:        {t1 - t0:.2f} s")
    print(f"    aggregate, fit, {rounds} bootstrap:  {t2 - t1:.2f} s")
    print(f"    `bimo eval ratings FILE --json`:  {t3 - t2:.2f} s (whole command, with start-up)")
    return {"cli_read_s": round(t1 - t0, 2), "cli_rate_s": round(t2 - t1, 2), "cli_command_s": round(t3 - t2, 2)}


def judge_bench(items: int, model: str = "tiny") -> None:
    from bimo.llm import registry

    try:
        registry.resolve_path(model)
    except Exception as exc:  # not pulled: skip, as documented
        print(f"judge throughput: skipped ({exc}); run `bimo models pull {model}` first")
        return
    from bimo.evaluate.judge import judge_file
    from bimo.evaluate.judge_step import JudgeSettings
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


OFFLINE_TASKS = [("title", "zh"), ("brainstorm", "zh"), ("outline", "zh"), ("chat", "zh"),
                 ("title", "en"), ("brainstorm", "en"), ("outline", "en"), ("chat", "en")]


def offline(run: str, models: list[str], judge: str, agreement_n: int) -> None:
    """The offline evaluation end to end, through the `bimo` command line."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from bimo.io import atomic_write_jsonl, iter_jsonl

    out = Path(run)
    out.mkdir(parents=True, exist_ok=True)
    bench = Path(__file__).parent / "prompts" / "bimo_bench.jsonl"
    rows = list(iter_jsonl(bench))
    picked = [next(r for r in rows if r["task"] == t and r["lang"] == lang and not r.get("length"))
              for t, lang in OFFLINE_TASKS]
    prompts = out / "prompts.jsonl"
    atomic_write_jsonl(prompts, picked)
    bimo = [sys.executable, "-m", "bimo.cli"]
    # A request cache of its own, so every figure is a real generation, not a hit from an earlier run.
    env = {**os.environ, "BIMO_CACHE": str(out / "cache.sqlite")}

    def step(label: str, *args: str) -> str:
        t0 = time.perf_counter()
        proc = subprocess.run([*bimo, *args], capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"{label} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
        print(f"  {label}: {dt:.1f} s")
        return proc.stdout

    print(f"offline evaluation in {out}: {len(picked)} prompts, models {', '.join(models)}, judge {judge}")
    preds = []
    for m in models:
        pred = out / f"{m}.jsonl"
        step(f"bench run local:{m}", "bench", "run", str(prompts), "-m", f"local:{m}", "-o", str(pred),
             "--max-tokens", "512")
        preds.append(pred)
    common = ["--judge", judge, "--json", "-q"]
    judged = out / f"{models[-1]}.writebench.judged.jsonl"
    s = json.loads(step(f"judge {models[-1]} (writebench)", "eval", "judge", str(preds[-1]), "-r", "writebench",
                        "-o", str(judged), *common))
    scores = [json.loads(x)["scores"]["overall"] for x in judged.read_text().splitlines()]
    print(f"    judged {s['judged_now']}, failed {s['failed_now']}; mean overall "
          f"{sum(scores) / max(1, len(scores)):.2f}/10 over {len(scores)}")
    res = json.loads(step("compare (both orders)", "eval", "compare", *map(str, preds), "-o", str(out / "battles.jsonl"),
                          *common))
    for pair in res["pairs"]:
        print(f"    {pair['model_a']} vs {pair['model_b']}: n={pair['n']}, win rate {pair['win_rate']}, 95% {pair['ci']}, "
              f"W/T/L {pair['wins']}/{pair['ties']}/{pair['losses']}, LC {pair['lc_win_rate']}")
    print(f"    failed battles: {res['failed']}")
    step("agreement", "eval", "agreement", *map(str, preds), "--judge", judge, "-n", str(agreement_n),
         "-o", str(out / "agreement.json"))
    agree = json.loads((out / "agreement.json").read_text())
    print("    agreement: " + json.dumps({k: v for k, v in agree.items() if not isinstance(v, (list, dict))}))
    step("report", "eval", "report", str(out))
    print(f"  report: {out}/report/index.html")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--battles", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--judge-items", type=int, default=8)
    ap.add_argument("--judge-model", default="tiny", help="registry model for the judge throughput")
    ap.add_argument("--offline", metavar="DIR", help="run the offline evaluation end to end into DIR instead")
    ap.add_argument("--offline-models", default="small,default", help="registry models compared by --offline")
    ap.add_argument("--judge", default="local:default", help="judge for --offline")
    ap.add_argument("--agreement-items", type=int, default=4)
    args = ap.parse_args()
    if args.offline:
        offline(args.offline, args.offline_models.split(","), args.judge, args.agreement_items)
        return
    figures = ratings_bench(args.battles, args.models, args.rounds)
    judge_bench(args.judge_items, args.judge_model)
    print(json.dumps({"benchmark": "eval", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "battles": args.battles, "models": args.models, "rounds": args.rounds,
                      "load_1min": round(os.getloadavg()[0], 1), "cores": os.cpu_count(), "ratings": figures}))


if __name__ == "__main__":
    main()
