"""Does long-output SFT make a small model write long in ONE pass, without padding?

Base vs trained on the held-out prompts (`benchmarks/prompts/longwriter_heldout.jsonl`: 24
prompts, half zh, half en, 300–4,000 units, none from the training documents), each answering
in a single call (`bimo bench run --single-pass`), plus, for reference, the plan-and-write
writer with the base model. Printed per model: S_l on the raw length and on the **effective
length** (units not covered by a repeat of an earlier 8-gram: looping is not length), per
LongBench-Write bucket and overall, produced/required, repeated-8-gram share, tokens/s, and the
same repetition measures for the human texts the model was trained on.

    # CPU: answer and score in one run (models from the registry, e.g. after recipes/longwriter-cpu.yaml)
    python benchmarks/longwriter_effect.py --base local:small --trained local:longwriter-cpu --out runs/lw-effect
    # a GPU run (benchmarks/longwriter_gpu.py) answers elsewhere: prepare its prompts, then score its files
    python benchmarks/longwriter_effect.py --prepare runs/lw-gpu/messages.jsonl
    python benchmarks/longwriter_effect.py --score runs/lw-gpu/pred_base.jsonl runs/lw-gpu/pred_trained.jsonl \
        --human runs/lw-gpu/sft.jsonl
The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

from bimo.evaluate.length import bucket_of, length_score
from bimo.io import atomic_write_jsonl, read_jsonl

HERE = Path(__file__).parent
HELDOUT = HERE / "prompts" / "longwriter_heldout.jsonl"
SHORT = HERE / "prompts" / "longwriter_short.jsonl"
BUCKETS = ["[0,500)", "[500,2k)", "[2k,4k)", "[4k,20k]"]


def prepare(out: Path, max_new_tokens: int) -> None:
    """Chat messages exactly as `bimo bench run --single-pass` sends them, for a run elsewhere."""
    from bimo.write.bench import bench_messages

    rows = []
    for kind, path, cap in (("long", HELDOUT, max_new_tokens), ("short", SHORT, 1024)):
        for rec in read_jsonl(path):
            rows.append({**rec, "set": kind, "messages": bench_messages(rec), "max_new_tokens": cap})
    atomic_write_jsonl(out, rows)
    print(f"{len(rows)} prompts → {out}")


def score_rows(rows: list[dict]) -> dict:
    """Per-record and per-bucket S_l (raw and effective), ratio and repetition."""
    from bimo.integrity import measure

    per = []
    for r in rows:
        if r.get("set", "long") != "long" or not r.get("length"):
            continue
        m = measure(r["response"], prompt=r.get("prompt", ""))
        req = float(r["length"])
        per.append({"id": r["id"], "lang": r.get("lang"), "bucket": bucket_of(req), "required": req,
                    "units": m.units, "effective": m.effective_length,
                    "s_l": length_score(req, m.units), "s_l_eff": length_score(req, m.effective_length),
                    "ratio": m.units / req, "repeated": m.repeated_share, "ending": m.ending,
                    "leaks": len(m.leaks), "tokens": r.get("tokens"), "finish": r.get("finish")})

    def agg(items: list[dict]) -> dict:
        if not items:
            return {}
        return {"n": len(items), "s_l": round(statistics.mean(x["s_l"] for x in items), 1),
                "s_l_eff": round(statistics.mean(x["s_l_eff"] for x in items), 1),
                "ratio": round(statistics.median(x["ratio"] for x in items), 2),
                "repeated": round(statistics.mean(x["repeated"] for x in items), 3),
                "max_repeated": round(max(x["repeated"] for x in items), 3),
                "dangling": sum(1 for x in items if x["ending"]), "leaks": sum(x["leaks"] for x in items)}

    out = {"overall": agg(per), "500-4k": agg([x for x in per if 500 <= x["required"] < 4000])}
    for b in BUCKETS:
        out[b] = agg([x for x in per if x["bucket"] == b])
    for lang in ("zh", "en"):
        out[lang] = agg([x for x in per if x["lang"] == lang])
    out["records"] = per
    return out


def human_reference(sft: Path) -> dict:
    from bimo.integrity import measure

    reps = [measure(r["messages"][-1]["content"]).repeated_share for r in read_jsonl(sft)]
    return {"n": len(reps), "repeated": round(statistics.mean(reps), 4), "max_repeated": round(max(reps), 4)}


def table(results: dict[str, dict]) -> str:
    cols = ["overall", "500-4k", *BUCKETS, "zh", "en"]
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, res in results.items():
        cells = []
        for c in cols:
            a = res.get(c) or {}
            cells.append(f"{a['s_l_eff']:.1f} ({a['s_l']:.1f}) rep {a['repeated']:.1%} ×{a['ratio']:.2f}" if a else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_cpu(args) -> dict[str, list[dict]]:
    from bimo.write.bench import run_bench

    args.out.mkdir(parents=True, exist_ok=True)
    prompts = HELDOUT
    if args.lengths:  # a subset by required length, e.g. 500:2000 (lower bound kept, upper left out)
        lo, hi = (float(x) for x in args.lengths.split(":"))
        prompts = args.out / "prompts.jsonl"
        atomic_write_jsonl(prompts, [r for r in read_jsonl(HELDOUT) if lo <= float(r["length"]) < hi])
    files = {}
    for name, uri, single in (("base", args.base, True), ("trained", args.trained, True),
                              ("base+writer", args.base, False)):
        if uri is None or (name == "base+writer" and args.no_writer) or (args.only and name != args.only):
            continue
        out = args.out / f"{name.replace('+', '-')}.jsonl"
        run_bench(prompts, out, model=uri, seed=1, max_tokens=args.max_new_tokens, single_pass=single)
        files[name] = read_jsonl(out)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prepare", type=Path, help="write chat messages for a run elsewhere and stop")
    ap.add_argument("--score", type=Path, nargs="+", help="prediction files to score (base first)")
    ap.add_argument("--human", type=Path, help="the SFT records trained on (human texts: repetition reference)")
    ap.add_argument("--base", help="base model URI (CPU run)")
    ap.add_argument("--trained", help="trained model URI (CPU run)")
    ap.add_argument("--out", type=Path, default=Path("runs/lw-effect"))
    ap.add_argument("--no-writer", action="store_true", help="skip the plan-and-write reference")
    ap.add_argument("--max-new-tokens", type=int, default=6144)
    ap.add_argument("--lengths", help="only the prompts whose required length is in LO:HI (e.g. 500:2000)")
    ap.add_argument("--only", choices=["base", "trained"], help="answer with one of the two models (files resume)")
    args = ap.parse_args()
    if args.lengths and not re.fullmatch(r"\d+(\.\d+)?:\d+(\.\d+)?", args.lengths):
        ap.error(f"--lengths takes LO:HI, e.g. 500:2000 (got {args.lengths!r})")
    if args.prepare:
        return prepare(args.prepare, args.max_new_tokens)
    if args.score:
        preds = {p.stem.removeprefix("pred_"): read_jsonl(p) for p in args.score}
    else:
        if not args.base:
            ap.error("give --base (and --trained), or --score FILES, or --prepare OUT")
        preds = run_cpu(args)
    results = {name: score_rows(rows) for name, rows in preds.items()}
    print("S_l on effective length (raw S_l), mean repeated-8-gram share, median produced/required:")
    print(table(results))
    for name, res in results.items():
        for rec in res["records"]:
            print(f"  {name:8s} {rec['id']:10s} req {rec['required']:>5.0f} units {rec['units']:>5d} "
                  f"eff {rec['effective']:>5d} S_l {rec['s_l']:5.1f}/{rec['s_l_eff']:5.1f} rep {rec['repeated']:.1%} "
                  f"{rec['finish'] or ''} {rec['ending'] or ''}")
    summary = {name: {k: v for k, v in res.items() if k != "records"} for name, res in results.items()}
    if args.human:
        summary["human"] = human_reference(args.human)
        print(f"human texts trained on: mean repeated 8-grams {summary['human']['repeated']:.2%} "
              f"(max {summary['human']['max_repeated']:.2%}, n={summary['human']['n']})")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
