"""Long-form benchmark: length score S_l, wall time and decoding overhead.

    python benchmarks/longform.py [--model local:default] [--quick] [--limit N] [--parallel-check]

Runs the long-form writer over benchmarks/prompts/longform_dev.jsonl (`--quick`: a
small spread of lengths for small machines) and prints mean S_l overall and per
LongBench-Write bucket, total wall time, tokens generated, and the overhead ratio =
wall time / (tokens in the final text ÷ measured decode tokens/s) — 1.0 when nothing
but the final text is decoded. `--parallel-check` also times sequential vs
`--parallel 4` on one prompt; `--baseline` asks the same model plainly (one call, no plan)
for the prompts of 1,000 or more and prints their S_l beside bimo's. Reference: AgentWrite checks no length at all, and plain
models stop near 2,000 words whatever is asked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bimo.evaluate.length import bucket_of, length_score
from bimo.llm import get_backend
from bimo.llm.base import GenParams
from bimo.text import count_length
from bimo.write.longform import LongformConfig, LongformWriter

DEV = Path(__file__).parent / "prompts" / "longform_dev.jsonl"
QUICK = ["zh-00", "en-02", "zh-05", "en-06", "zh-09", "en-11"]


def decode_rate(backend) -> float:
    """Decode tokens/s of a plain request of fixed length on this backend."""
    req = {"messages": [{"role": "user", "content": "写一篇关于春天的散文。"}], "max_tokens": 128,
           "ignore_eos": True, "seed": 1, "temperature": 0.7}
    comp = backend.complete_request(req, cache=False)
    t = comp.raw.get("timings", {})
    return t.get("predicted_per_second") or comp.completion_tokens / comp.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="local:default")
    ap.add_argument("--quick", action="store_true", help="six prompts from 100 to 3,000")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--ids", default=None, help="only these prompt ids, comma-separated")
    ap.add_argument("--parallel-check", action="store_true")
    ap.add_argument("--baseline", action="store_true", help="plain single-call S_l for prompts >= 1,000")
    ap.add_argument("--out", default=None, help="save predictions JSONL here")
    args = ap.parse_args()
    records = [json.loads(x) for x in DEV.read_text(encoding="utf-8").splitlines() if x.strip()]
    if args.quick:
        records = [r for r in records if r["id"] in QUICK]
    if args.ids:
        records = [r for r in records if r["id"] in args.ids.split(",")]
    records = records[: args.limit] if args.limit else records
    backend = get_backend(args.model, parallel=4)
    backend.cache = None  # time real generation, never answers from the request cache
    rate = decode_rate(backend)
    print(f"model {args.model}: decode {rate:.1f} tokens/s; {len(records)} prompts")
    rows, t_all, tok_all = [], 0.0, 0
    ideal_all = ideal_final = 0.0  # seconds that pure decoding of the tokens would take
    for r in records:
        w = LongformWriter(backend, LongformConfig(length=r["length"], seed=1))
        before = decode_rate(backend)
        t0 = time.perf_counter()
        res = w.run(r["prompt"], run_dir=None)
        wall = time.perf_counter() - t0
        # The machine may be shared: the decode rate is re-measured around every prompt.
        rate = (before + decode_rate(backend)) / 2
        ideal_all += res.tokens / rate
        ideal_final += res.length / (w.ratio or 1.0) / rate
        # tokens the final text needs, from the ratio measured on this run
        ftok = res.length / (w.ratio or 1.0)
        s = length_score(r["length"], res.length)
        rows.append({**r, "response": res.text, "output_length": res.length, "S_l": s, "seconds": wall,
                     "tokens": res.tokens, "sections": len(res.plan.sections)})
        t_all += wall
        tok_all += res.tokens
        print(f"  {r['id']}: required {r['length']:>6} got {res.length:>6}  S_l {s:5.1f}  "
              f"{len(res.plan.sections)} sections, {res.tokens} tokens, {wall:.0f} s, overhead "
              f"{wall / (res.tokens / rate):.2f} (final text only {wall / (ftok / rate):.2f}), decode {rate:.1f} tok/s")
    print("\n| bucket | prompts | mean S_l |\n|---|---|---|")
    buckets: dict[str, list[float]] = {}
    for row in rows:
        buckets.setdefault(bucket_of(row["length"]), []).append(row["S_l"])
    for b, vals in buckets.items():
        print(f"| {b} | {len(vals)} | {statistics.mean(vals):.1f} |")
    print(f"| all | {len(rows)} | {statistics.mean(r['S_l'] for r in rows):.1f} |")
    print(f"\nwall time {t_all:.0f} s; tokens generated {tok_all}; "
          f"overhead ratio {t_all / ideal_all:.2f} (wall / (tokens generated ÷ decode tokens/s measured "
          f"around each prompt)); against final-text tokens only {t_all / ideal_final:.2f}")
    if args.baseline:
        print("\n| prompt | required | plain single call | S_l plain | S_l bimo |\n|---|---|---|---|---|")
        for row in rows:
            if row["length"] < 1000:
                continue
            comp = backend.chat([{"role": "user", "content": row["prompt"]}],
                                GenParams(max_tokens=7000, temperature=0.7, seed=1), cache=False)
            got = count_length(comp.text)
            print(f"| {row['id']} | {row['length']} | {got} | {length_score(row['length'], got):.1f} | "
                  f"{row['S_l']:.1f} |")
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    if args.parallel_check:
        r = next(x for x in records if x["length"] >= 1500) if any(x["length"] >= 1500 for x in records) else records[-1]
        times = {}
        for k in (1, 4):
            w = LongformWriter(backend, LongformConfig(length=r["length"], seed=2, parallel=k))
            t0 = time.perf_counter()
            res = w.run(r["prompt"])
            times[k] = time.perf_counter() - t0
            print(f"parallel={k}: {times[k]:.0f} s, length {res.length} (S_l {length_score(r['length'], res.length):.1f})")
        print(f"parallel speed-up: {times[1] / times[4]:.2f}x")
    backend.close()


if __name__ == "__main__":
    main()
