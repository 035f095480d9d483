"""Long-form benchmark: length score S_l with integrity, wall time and decoding overhead.

    python benchmarks/longform.py [--model local:default] [--quick] [--heldout | --prompts FILE] [--limit N] [--ids ID,...]
        [--parallel-check [--parallel-id ID]] [--baseline [--baseline-ids ID,...]]
        [--context points|summary|full] [--dry] [--run-dir DIR] [--one-pass]

Every output is also measured by `bimo.integrity`: S_l on the effective length (repeats
taken out), the share of repeated 8-grams, language leaks, dangling endings and the
integrity flags. `--heldout` uses benchmarks/prompts/longform_heldout.jsonl, a prompt set
frozen before the writer's anti-repetition work was tuned (never tune on it); `--prompts FILE`
any other set, such as benchmarks/prompts/longform_heldout2.jsonl, a second held-out set frozen
after the first had been read.

Runs the long-form writer over benchmarks/prompts/longform_dev.jsonl (`--quick`: a
small spread of lengths for small machines) and prints mean S_l overall and per
LongBench-Write bucket, total wall time, tokens generated, and the overhead ratio =
wall time / (tokens in the final text ÷ measured decode tokens/s) — 1.0 when nothing
but the final text is decoded — and where the generated tokens went (the writer's
`TokenUse`: kept, or thrown away as repeats, a rewritten section's losing copy, cut to
length..., or spent on the plan and repairs), per prompt and overall, with the overhead against
the kept tokens as counted there (the final-text figure estimates the text's tokens from the
units-per-token ratio of the last pieces, which list-like or looping pieces skew), and against
the output texts as the model's own tokenizer counts them (llama.cpp's /tokenize, on local
models: the exact decoding steps of the kept text, the issue's definition of overhead). `--parallel-check` also times sequential vs
`--parallel 4` on one prompt; `--baseline` asks the same model plainly (one call, no plan)
for the prompts of 1,000 or more and prints their S_l beside bimo's. Reference: AgentWrite checks no length at all, and plain
models stop near 2,000 words whatever is asked. `--parallel-id` and `--baseline-ids` name
the prompts of those two checks, so one command reproduces a cited table. `--context`
compares what a section sees of the text before it; `--dry` runs the writer with the DRY
sampler on every piece (`LongformConfig.dry`), not only on re-asks. `--run-dir DIR` makes a long run
resumable: each prompt writes in DIR/<id> (the writer's own checkpoints) and each finished
row is kept in DIR/rows.jsonl, so a rerun after a kill skips finished prompts and resumes
the one in progress (its wall time then counts only the resumed part, marked "resumed").
`--one-pass` measures the pure decode time of each output literally: the prompt, then as many
tokens as the output has, decoded in one request (`ignore_eos`), on the same backend right
after the prompt's run, so the rate falls with the context as a single pass of that text would
(the 128-token measurement is taken at an empty context); the overhead against that time is
printed beside the others (kept in DIR/one_pass.jsonl with `--run-dir`; an output that does
not fit the backend's context in one request is left out and said so).
The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import urllib.request
from pathlib import Path

from bimo.evaluate.length import bucket_of, length_score
from bimo.integrity import measure
from bimo.io import JsonlAppender, read_jsonl
from bimo.llm import get_backend
from bimo.llm.base import GenParams
from bimo.text import count_length
from bimo.write.longform import LongformConfig, LongformWriter
from bimo.write.runstate import TokenUse

DEV = Path(__file__).parent / "prompts" / "longform_dev.jsonl"
HELDOUT = Path(__file__).parent / "prompts" / "longform_heldout.jsonl"
QUICK = ["zh-00", "en-02", "zh-05", "en-06", "zh-09", "en-11"]


def decode_rate(backend) -> float:
    """Decode tokens/s of a plain request of fixed length on this backend."""
    req = {"messages": [{"role": "user", "content": "写一篇关于春天的散文。"}], "max_tokens": 128,
           "ignore_eos": True, "seed": 1, "temperature": 0.7}
    comp = backend.complete_request(req, cache=False)
    t = comp.raw.get("timings", {})
    return t.get("predicted_per_second") or comp.completion_tokens / comp.seconds


class TimedBackend:
    """The benchmark's backend, timing where each call's wall time goes: prompt processing
    (a request's start to its first token) and decoding (first token to last, per token
    after the first). Streamed pieces are timed as the writer receives them; other calls by
    the server's own timings where it reports them. The decode rate *in the run* (decoded
    tokens ÷ decoding time) is the rate of the very decoding the writer did, on the same
    cores at the same moment, where `decode_rate` samples 128 tokens before and after."""

    def __init__(self, inner):
        self.inner = inner
        self.reset()

    def reset(self) -> None:
        self.prompt_s = self.decode_s = 0.0
        self.decode_n = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def chat(self, messages, params=None, **kw):
        t0 = time.perf_counter()
        comp = self.inner.chat(messages, params, **kw)
        t = comp.raw.get("timings") or {}
        if t.get("predicted_ms") is not None and t.get("prompt_ms") is not None:
            self.prompt_s += t["prompt_ms"] / 1000
            self.decode_s += t["predicted_ms"] / 1000
            self.decode_n += t.get("predicted_n", 0)
        else:  # no server timings: the whole call counts as prompt processing (never as decoding)
            self.prompt_s += time.perf_counter() - t0
        return comp

    def stream(self, messages, params=None, **kw):
        t0 = time.perf_counter()
        st = self.inner.stream(messages, params, **kw)
        chunks, marks = st.chunks, []

        def timed():
            for c in chunks():
                if any((ch.get("delta") or {}).get("content") for ch in c.get("choices") or []):
                    marks.append(time.perf_counter())
                yield c
            if marks:
                self.prompt_s += marks[0] - t0
                self.decode_s += marks[-1] - marks[0]
                self.decode_n += len(marks) - 1

        st.chunks = timed  # Stream iterates self.chunks()
        return st


def text_tokens(backend, text: str) -> int | None:
    """Tokens of `text` by the model's own tokenizer (llama.cpp's /tokenize), None where the
    backend has no such endpoint: the exact size of the output in decoding steps."""
    url, key = getattr(backend, "http_url", None), getattr(backend, "api_key", None)
    if not url:
        return None
    req = urllib.request.Request(url.rstrip("/") + "/tokenize", data=json.dumps({"content": text}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        return len(json.loads(urllib.request.urlopen(req, timeout=60).read())["tokens"])
    except (OSError, ValueError, KeyError):
        return None


def one_pass_seconds(backend, prompt: str, tokens: int) -> float:
    """Seconds to decode `tokens` tokens in one request after `prompt` (decoding only, by the
    server's timings): what a single pass writing that many tokens costs at the very least."""
    req = {**GenParams(temperature=0.7, seed=1, max_tokens=tokens).to_request([{"role": "user", "content": prompt}]),
           "ignore_eos": True}
    comp = backend.complete_request(req, cache=False)
    t = comp.raw.get("timings") or {}
    if "predicted_ms" not in t:
        raise SystemExit("--one-pass needs a backend that reports llama.cpp's timings (local: and gguf: models)")
    if t.get("predicted_n") != tokens:
        raise SystemExit(f"--one-pass: the request decoded {t.get('predicted_n')} of {tokens} tokens")
    return t["predicted_ms"] / 1000


def time_line(wall: float, timing: dict, text_tokens: int | None) -> str:
    """Where a run's wall time went, and the overhead against the decode rate in the run."""
    p, d, n = timing["prompt_s"], timing["decode_s"], timing["decode_n"]
    rest = wall - p - d
    line = (f"time went: prompt processing {p:.0f} s ({p / wall:.0%}), decoding {d:.0f} s ({d / wall:.0%}"
            + (f", {n / d:.1f} tokens/s in the run" if d > 0 else "") + f"), the rest {rest:.0f} s ({rest / wall:.0%})")
    if text_tokens and d > 0 and n:
        line += f"; overhead against the output's tokens at the run's decode rate {wall / (text_tokens / (n / d)):.2f}"
    return line


def one_pass(backend, rows: list[dict], run_dir: Path | None) -> float | None:
    """`--one-pass`: each row's output tokens decoded in one request; prints the overhead per
    prompt and over all that fit, returns the latter (None when none fit)."""
    found = run_dir is not None and (run_dir / "one_pass.jsonl").exists()
    done = {x["id"]: x for x in read_jsonl(run_dir / "one_pass.jsonl")} if found else {}
    ledger = JsonlAppender(run_dir / "one_pass.jsonl") if run_dir is not None else None
    n_ctx = getattr(backend, "n_ctx", None) or 8192
    wall = one = 0.0
    print("\n| prompt | output tokens | wall s | one-pass decode s | its rate tokens/s | overhead vs one pass |\n"
          "|---|---|---|---|---|---|")
    for row in rows:
        ntok = row.get("text_tokens") or text_tokens(backend, row["response"])
        if not ntok:
            continue
        if row["id"] not in done:
            if ntok + (text_tokens(backend, row["prompt"]) or 0) + 64 > n_ctx:
                print(f"| {row['id']} | {ntok} | {row['seconds']:.0f} | does not fit {n_ctx} tokens of context in "
                      "one request | | |")
                continue
            done[row["id"]] = {"id": row["id"], "tokens": ntok,
                               "seconds": one_pass_seconds(backend, row["prompt"], ntok)}
            if ledger is not None:
                ledger.write(done[row["id"]])
        x = done[row["id"]]
        wall += row["seconds"]
        one += x["seconds"]
        print(f"| {row['id']} | {ntok} | {row['seconds']:.0f} | {x['seconds']:.0f} | {ntok / x['seconds']:.1f} | "
              f"{row['seconds'] / x['seconds']:.2f} |")
    if ledger is not None:
        ledger.close()
    if not one:
        return None
    print(f"overhead against one-pass decoding of the outputs' tokens (wall / decode time of as many tokens "
          f"in one request): {wall / one:.2f}")
    return round(wall / one, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="local:default")
    ap.add_argument("--quick", action="store_true", help="six prompts from 100 to 3,000")
    ap.add_argument("--heldout", action="store_true", help="the frozen held-out prompts instead of the dev set")
    ap.add_argument("--prompts", default=None,
                    help="a JSONL prompt file instead (id, prompt, length, lang), e.g. "
                         "benchmarks/prompts/longform_heldout2.jsonl")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--ids", default=None, help="only these prompt ids, comma-separated")
    ap.add_argument("--parallel-check", action="store_true")
    ap.add_argument("--parallel-id", default=None, help="prompt for --parallel-check (default: first of >= 1,500)")
    ap.add_argument("--baseline", action="store_true", help="plain single-call S_l for prompts >= 1,000")
    ap.add_argument("--baseline-ids", default=None, help="prompts for --baseline, comma-separated (default: all >= 1,000)")
    ap.add_argument("--out", default=None, help="save predictions JSONL here")
    ap.add_argument("--dry", action="store_true",
                    help="the DRY sampler on every piece, not only on re-asks after a repeated piece")
    ap.add_argument("--context", default="points", choices=["points", "summary", "full"],
                    help="what a section sees of the text before it")
    ap.add_argument("--run-dir", default=None, help="resumable: per-prompt checkpoints and finished rows here")
    ap.add_argument("--one-pass", action="store_true",
                    help="also decode each output's token count in one request: the pure decode time of the text")
    args = ap.parse_args()
    if args.prompts and (args.heldout or args.quick):
        ap.error("--prompts replaces --heldout and --quick")
    src = Path(args.prompts) if args.prompts else HELDOUT if args.heldout else DEV
    if not src.is_file():
        ap.error(f"no prompt file {src}")
    records = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines() if x.strip()]
    if args.quick and not args.heldout:
        records = [r for r in records if r["id"] in QUICK]
    if args.ids:
        records = [r for r in records if r["id"] in args.ids.split(",")]
    records = records[: args.limit] if args.limit else records
    if args.parallel_id and args.parallel_id not in {r["id"] for r in records}:
        ap.error(f"--parallel-id {args.parallel_id} is not among the selected prompts")
    backend = get_backend(args.model, parallel=4)
    backend.cache = None  # time real generation, never answers from the request cache
    timed = TimedBackend(backend)
    rate = decode_rate(backend)
    print(f"model {args.model}: decode {rate:.1f} tokens/s; {len(records)} prompts")
    rows, t_all, tok_all = [], 0.0, 0
    use_all = TokenUse()  # where the generated tokens went, over every prompt
    ideal_all = ideal_final = 0.0  # seconds that pure decoding of the tokens would take
    ideal_kept = 0.0  # the same for the tokens counted as kept (`TokenUse.kept`), where counted
    ideal_text: float | None = 0.0  # the same for the output text as the model tokenizes it
    run_dir = Path(args.run_dir) if args.run_dir else None
    done: dict[str, dict] = {}
    ledger = None
    if run_dir is not None:
        ledger = JsonlAppender(run_dir / "rows.jsonl")  # repairs a torn last line first
        done = {x["id"]: x for x in read_jsonl(run_dir / "rows.jsonl")}
        other = [x["id"] for x in done.values()
                 if x.get("context", "points") != args.context or x.get("model") != args.model
                 or x.get("dry", False) != args.dry]
        if other:  # finished rows are reused only for the same model and settings
            ap.error(f"{run_dir} holds rows written with another model, --context or --dry ({', '.join(other[:3])}); "
                     "use another --run-dir")
    for r in records:
        if r["id"] in done:
            row = done[r["id"]]
            integ = measure(row["response"], prompt=r["prompt"])  # measures as this version defines them
            row.update(integ.summary(), S_l_eff=length_score(r["length"], integ.effective_length), flags=integ.flags())
            rows.append(row)
            t_all += row["seconds"]
            tok_all += row["tokens"]
            ideal_all += row["ideal_s"]
            ideal_final += row["ideal_final_s"]
            ideal_kept += row.get("ideal_kept_s", 0.0)
            if row.get("use"):
                use_all.add(TokenUse.model_validate(row["use"]))
            ntok = text_tokens(backend, row["response"])
            if ntok is None or ideal_text is None:
                ideal_text = None
            else:
                ideal_text += ntok / (row["tokens"] / row["ideal_s"])  # at the rate measured for that prompt
            print(f"  {r['id']}: finished earlier, S_l {row['S_l']:5.1f}, S_l eff {row['S_l_eff']:5.1f}, repeated "
                  f"8-grams {row['repeated_share']:.1%}, near repeats {row['near_repeats']:.1%}, lines about the "
                  f"writing {row['scaffolding']}" + (f"; FLAGGED: {'; '.join(row['flags'])}" if row["flags"] else ""))
            continue
        w = LongformWriter(timed, LongformConfig(length=r["length"], seed=1, context=args.context, dry=args.dry))
        timed.reset()
        before = decode_rate(backend)
        prompt_dir = run_dir / r["id"] if run_dir is not None else None
        resumed = prompt_dir is not None and (prompt_dir / "state.json").exists()
        t0 = time.perf_counter()
        res = w.run(r["prompt"], run_dir=prompt_dir)
        wall = time.perf_counter() - t0
        timing = {"prompt_s": round(timed.prompt_s, 1), "decode_s": round(timed.decode_s, 1),
                  "decode_n": timed.decode_n}
        ntok = text_tokens(backend, res.text)
        # The machine may be shared: the decode rate is re-measured around every prompt.
        rate = (before + decode_rate(backend)) / 2
        ideal_all += res.tokens / rate
        ideal_final += res.length / (w.ratio or 1.0) / rate
        ideal_kept += w.use.kept / rate
        # tokens the final text needs, from the ratio measured on this run
        ftok = res.length / (w.ratio or 1.0)
        s = length_score(r["length"], res.length)
        integ = measure(res.text, prompt=r["prompt"])
        s_eff = length_score(r["length"], integ.effective_length)
        rows.append({**r, "response": res.text, "output_length": res.length, "S_l": s, "S_l_eff": s_eff,
                     **integ.summary(), "flags": integ.flags(), "retries_for_repetition": w.repeats,
                     "stopped": bool(w.stops), "seconds": wall, "tokens": res.tokens, "sections": len(res.plan.sections),
                     "ideal_s": res.tokens / rate, "ideal_final_s": ftok / rate, "ideal_kept_s": w.use.kept / rate,
                     "resumed": resumed, "timing": timing, "text_tokens": ntok,
                     "context": args.context, "dry": args.dry, "model": args.model, "use": w.use.model_dump()})
        use_all.add(w.use)
        if ledger is not None:
            ledger.write(rows[-1])
        t_all += wall
        tok_all += res.tokens
        print(f"  {r['id']}: required {r['length']:>6} got {res.length:>6}  S_l {s:5.1f}  "
              f"{len(res.plan.sections)} sections, {res.tokens} tokens, {wall:.0f} s, overhead "
              f"{wall / (res.tokens / rate):.2f} (final text only {wall / (ftok / rate):.2f}), decode {rate:.1f} tok/s; "
              f"S_l eff {s_eff:5.1f}, repeated 8-grams {integ.repeated_share:.1%}, near repeats {integ.near_repeats:.1%}, "
              f"lines about the writing {len(integ.scaffolding)}, leaks {len(integ.leaks)}, "
              f"ending {integ.ending or 'ok'}, {w.repeats} retries for repetition"
              + (f"; FLAGGED: {'; '.join(integ.flags())}" if integ.flags() else ""))
        ideal_text = None if ntok is None or ideal_text is None else ideal_text + ntok / rate
        print(f"    tokens went: {w.use.line()}; overhead against the kept tokens as counted "
              f"{wall / max(1e-9, w.use.kept / rate):.2f}"
              + (f", against the output's {ntok} tokens {wall / (ntok / rate):.2f}" if ntok else ""))
        print("    " + time_line(wall, timing, ntok))
    print("\n| bucket | prompts | mean S_l | mean S_l eff | mean repeated 8-grams | max | near repeats | "
          "lines about the writing | leaks | dangling | flagged |\n|---|---|---|---|---|---|---|---|---|---|---|")
    buckets: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: r["length"]):  # buckets in length order
        buckets.setdefault(bucket_of(row["length"]), []).append(row)
    for b, group in [*buckets.items(), ("all", rows)]:
        print(f"| {b} | {len(group)} | {statistics.mean(x['S_l'] for x in group):.1f} | "
              f"{statistics.mean(x['S_l_eff'] for x in group):.1f} | "
              f"{statistics.mean(x['repeated_share'] for x in group):.1%} | {max(x['repeated_share'] for x in group):.1%} | "
              f"{statistics.mean(x['near_repeats'] for x in group):.1%} | {sum(x['scaffolding'] for x in group)} | "
              f"{sum(x['leaks'] for x in group)} | {sum(1 for x in group if x['ending'])} | "
              f"{sum(1 for x in group if x['flags'])} |")
    print(f"\nwall time {t_all:.0f} s; tokens generated {tok_all}; "
          f"overhead ratio {t_all / ideal_all:.2f} (wall / (tokens generated ÷ decode tokens/s measured "
          f"around each prompt)); against final-text tokens only {t_all / ideal_final:.2f}")
    print(f"waste: {use_all.wasted()} of {use_all.total()} tokens thrown away; tokens went: {use_all.line()}"
          + (f"; overhead against the kept tokens as counted {t_all / ideal_kept:.2f}" if ideal_kept else ""))
    if ideal_text:
        print(f"overhead against the output texts as the model tokenizes them (wall / (their tokens ÷ decode "
              f"tokens/s)): {t_all / ideal_text:.2f}")
    timed_rows = [x for x in rows if x.get("timing") and x.get("text_tokens")]
    run_overhead = None
    if timed_rows:  # rows of runs before the timing was recorded are left out of this figure
        tsum = {k: sum(x["timing"][k] for x in timed_rows) for k in ("prompt_s", "decode_s", "decode_n")}
        print(f"over the {len(timed_rows)} prompts timed in the run: "
              + time_line(sum(x["seconds"] for x in timed_rows), tsum, sum(x["text_tokens"] for x in timed_rows)))
        if tsum["decode_s"] > 0 and tsum["decode_n"]:
            run_overhead = round(sum(x["seconds"] for x in timed_rows) * tsum["decode_n"] / tsum["decode_s"]
                                 / sum(x["text_tokens"] for x in timed_rows), 2)
    summary: dict = {"benchmark": "longform", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "model": args.model, "load_1min": round(os.getloadavg()[0], 1),
                     "prompts": {r["id"]: round(r["S_l"], 1) for r in rows},
                     "buckets": {b: {"n": len(v), "S_l": round(statistics.mean(x["S_l"] for x in v), 1),
                                     "S_l_eff": round(statistics.mean(x["S_l_eff"] for x in v), 1),
                                     "repeated": round(statistics.mean(x["repeated_share"] for x in v), 4)}
                                 for b, v in buckets.items()},
                     "mean_S_l": round(statistics.mean(r["S_l"] for r in rows), 1),
                     "mean_S_l_eff": round(statistics.mean(r["S_l_eff"] for r in rows), 1), "wall_s": round(t_all),
                     "overhead": round(t_all / ideal_all, 2), "overhead_final": round(t_all / ideal_final, 2),
                     "overhead_kept": round(t_all / ideal_kept, 2) if ideal_kept else None,
                     "overhead_text": round(t_all / ideal_text, 2) if ideal_text else None,
                     "overhead_text_run_rate": run_overhead, "timed_prompts": len(timed_rows),
                     "use": use_all.model_dump()}
    if args.one_pass:
        summary["overhead_one_pass"] = one_pass(backend, rows, run_dir)
    if args.baseline:
        print("\n| prompt | required | plain single call | S_l plain | S_l bimo |\n|---|---|---|---|---|")
        summary["baseline_S_l"] = {}
        for row in rows:
            if (row["id"] not in args.baseline_ids.split(",")) if args.baseline_ids else row["length"] < 1000:
                continue
            comp = backend.chat([{"role": "user", "content": row["prompt"]}],
                                GenParams(max_tokens=7000, temperature=0.7, seed=1), cache=False)
            got = count_length(comp.text)
            print(f"| {row['id']} | {row['length']} | {got} | {length_score(row['length'], got):.1f} | "
                  f"{row['S_l']:.1f} |")
            summary["baseline_S_l"][row["id"]] = round(length_score(row["length"], got), 1)
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    if args.parallel_check:
        if args.parallel_id:
            r = next(x for x in records if x["id"] == args.parallel_id)
        else:
            r = next((x for x in records if x["length"] >= 1500), records[-1])
        times = {}
        for k in (1, 4):
            w = LongformWriter(backend, LongformConfig(length=r["length"], seed=2, parallel=k))
            t0 = time.perf_counter()
            res = w.run(r["prompt"])
            times[k] = time.perf_counter() - t0
            print(f"parallel={k}: {times[k]:.0f} s, length {res.length} (S_l {length_score(r['length'], res.length):.1f})")
        print(f"parallel speed-up: {times[1] / times[4]:.2f}x")
        summary["parallel"] = {"id": r["id"], "sequential_s": round(times[1]), "parallel_4_s": round(times[4])}
    if ledger is not None:
        ledger.close()
    backend.close()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
