"""LongWriter's effect on a GPU, in one prepared run: long-output SFT data from long human texts,
LoRA SFT, then base and trained models answer the same held-out prompts in ONE call each.

Optional: bimo never needs a GPU. This is the GPU twin of `recipes/longwriter-cpu.yaml` for a
machine with torch, transformers and peft (and pydantic, gguf): the model is the registry's
GGUF; the SFT records are made exactly as `bimo synth longdoc` makes them (its
`LongDocStep.prompt`/`parse`, the same checks and code-written length clauses), only the
instruction drafts come from batched transformers generation instead of llama.cpp; the prompts
are the chat messages `benchmarks/longwriter_effect.py --prepare` writes (worded exactly as
`bimo bench run --single-pass` words them). Prediction files go to `--out`, for
`benchmarks/longwriter_effect.py --score`.

    python benchmarks/longwriter_gpu.py --gguf small.gguf --docs long.jsonl --prompts messages.jsonl --out OUT

Training: LoRA on every linear layer, loss on the assistant turn only (the prompt's tokens are
masked), records longer than --max-length refused unless --allow-truncation (named, as
`bimo train` does). Generation: sampling as bimo's defaults (temperature 0.7, top_p 0.95),
batched, `--max-new-tokens` per answer; a looping answer runs to the cap (and is scored on its
effective length, so looping is not length).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def load(gguf: Path, dtype, device: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype)
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, model.to(device)


def encode(tok, messages: list[dict]) -> tuple[list[int], list[int]]:
    """(input ids, labels): the whole conversation, loss only on the last assistant turn."""
    def ids(msgs, gen):
        out = tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=gen)
        return list(out["input_ids"] if hasattr(out, "keys") else out)

    prompt = ids(messages[:-1], True)
    full = ids(messages, False)
    if full[:len(prompt)] != prompt:  # template re-renders the prompt differently: mask by length
        full = prompt + ids([messages[-1]], False)[len(ids([], False)):]
    return full, [-100] * len(prompt) + full[len(prompt):]


def make_sft(tok, model, docs: list[dict], args, device: str) -> tuple[list[dict], list[dict]]:
    """`bimo synth longdoc` on the GPU: pieces → instruction drafts (batched sampling, the answer
    started as JSON) → LongDocStep.parse; rejected pieces are drafted again (new sample) up to
    --retries times. Returns (SFT records, failures with reasons)."""
    import torch

    from bimo.llm.base import parse_json
    from bimo.runner import Reject
    from bimo.synth.longdoc import LongDocConfig, LongDocStep, expand_docs

    step = LongDocStep(None, LongDocConfig(max_units=args.max_units, seed=0))
    todo, failed, kept = [], [], []
    for rec in expand_docs(docs, step.config):
        if rec.get("skip"):
            failed.append({"id": rec["id"], "reason": rec["skip"]})
        else:
            todo.append(rec)
    if args.max_pieces and len(todo) > args.max_pieces:  # an even draw per language, seeded
        from bimo.text import detect_lang

        by_lang: dict[str, list[dict]] = {}
        for r in todo:
            by_lang.setdefault(detect_lang(r["text"][:400]), []).append(r)
        rng, picked = random.Random(0), []
        quota = args.max_pieces // len(by_lang)
        for _, group in sorted(by_lang.items()):
            picked.extend(rng.sample(group, min(quota, len(group))))
        log(f"{len(todo)} pieces; drafting {len(picked)} ({', '.join(f'{k} {len(v)}' for k, v in sorted(by_lang.items()))} available)")
        todo = picked
    tok.padding_side = "left"
    lead = '{"form": "'
    for attempt in range(args.retries + 1):
        if not todo:
            break
        again = []
        for b in range(0, len(todo), args.synth_batch):
            batch = todo[b:b + args.synth_batch]
            texts = [tok.apply_chat_template(step.prompt(r), tokenize=False, add_generation_prompt=True) + lead
                     for r in batch]
            enc = tok(texts, return_tensors="pt", padding=True).to(device)
            torch.manual_seed(1000 + attempt)
            with torch.no_grad():
                gen = model.generate(**enc, max_new_tokens=200, do_sample=True, temperature=0.7, top_p=0.95,
                                     pad_token_id=tok.pad_token_id, stop_strings=['"}', '"\n}'], tokenizer=tok)
            for r, row in zip(batch, gen[:, enc["input_ids"].shape[1]:], strict=True):
                raw = lead + tok.decode(row, skip_special_tokens=True)
                try:
                    kept.extend(step.parse(r, _draft(raw, parse_json), attempt))
                except Reject as exc:
                    if not exc.retry:
                        failed.append({"id": r["id"], "reason": exc.reason})
                    elif attempt < args.retries:
                        again.append(r)
                    else:
                        failed.append({"id": r["id"], "reason": exc.reason, "draft": raw[:300]})
                except Exception as exc:  # unparseable JSON and the like
                    again.append(r)
                    if attempt == args.retries:
                        failed.append({"id": r["id"], "reason": f"unparseable: {exc}", "draft": raw[:300]})
        log(f"synth attempt {attempt}: {len(kept)} kept so far, {len(again)} to draft again")
        todo = again
    return kept, failed


def _draft(raw: str, parse_json) -> dict:
    """The draft as JSON; without llama.cpp's grammar a small model may stop before closing the
    object, so the two string fields are read leniently then (a cut-off instruction is left to
    LongDocStep.parse's checks)."""
    import re

    try:
        return parse_json(raw)
    except Exception:
        form = re.search(r'"form"\s*:\s*"([^"\n]*)', raw)
        instr = re.search(r'"instruction"\s*:\s*"([^"\n]*)', raw)
        if not instr:
            raise
        return {"form": form.group(1) if form else "", "instruction": instr.group(1)}


def train(tok, model, records: list[dict], args, device: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    data = [encode(tok, r["messages"]) for r in records]
    over = [(len(x), i + 1) for i, (x, _) in enumerate(data) if len(x) > args.max_length]
    if over and not args.allow_truncation:
        raise SystemExit(f"{len(over)} of {len(data)} records exceed --max-length {args.max_length}: {sorted(over)[-3:]}")
    data = [(x[:args.max_length], y[:args.max_length]) for x, y in data]
    cfg = LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.05, target_modules="all-linear",
                     task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    if args.grad_ckpt:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    steps = math.ceil(len(data) * args.epochs / args.grad_accum)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 20))
                                              * max(0.0, 1 - s / steps) + 1e-3)
    rng = random.Random(0)
    order = [i for _ in range(math.ceil(args.epochs)) for i in rng.sample(range(len(data)), len(data))]
    order = order[:steps * args.grad_accum]
    model.train()
    losses, t0, tokens = [], time.time(), 0
    stopped_early = False
    for k, i in enumerate(order):
        if args.train_seconds and time.time() - t0 > args.train_seconds and k % args.grad_accum == 0:
            stopped_early = True  # the time budget is spent: answer with the steps taken so far
            log(f"training stopped at step {len(losses)}/{steps}: --train-seconds {args.train_seconds} spent")
            break
        x, y = data[i]
        xb = torch.tensor([x], device=device)
        yb = torch.tensor([y], device=device)
        out = model(input_ids=xb, labels=yb)
        (out.loss / args.grad_accum).backward()
        tokens += len(x)
        if (k + 1) % args.grad_accum == 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(round(float(out.loss), 4))
            if len(losses) % 10 == 0:
                log(f"step {len(losses)}/{steps} loss {losses[-1]}")
    model.eval()
    return {"model": model, "steps": steps, "steps_done": len(losses), "stopped_early": stopped_early,
            "records": len(data), "losses": losses,
            "train_seconds": round(time.time() - t0, 1), "train_tokens": tokens}


def generate(tok, model, prompts: list[dict], args, device: str, label: str) -> list[dict]:
    """Sampled answers, one call each (no plan). Prompts are batched longest cap first; a batch
    runs to its largest cap and each answer is cut at its own cap afterwards, which is the answer
    a separate call with that cap would have ended with (finish "length" when it had not stopped)."""
    import torch

    tok.padding_side = "left"
    stops = sorted({t for t in (tok.eos_token_id, tok.pad_token_id, tok.convert_tokens_to_ids("<|im_end|>"))
                    if isinstance(t, int) and t >= 0})
    def cap_of(p: dict) -> int:  # the prompt's own cap, never above --max-new-tokens
        return min(int(p.get("max_new_tokens", args.max_new_tokens)), args.max_new_tokens)

    order = sorted(prompts, key=lambda p: -cap_of(p))
    batches = [order[i:i + args.batch] for i in range(0, len(order), args.batch)]
    out_rows = []
    for b, batch in enumerate(batches):
        texts = [tok.apply_chat_template(p["messages"], tokenize=False, add_generation_prompt=True) for p in batch]
        enc = tok(texts, return_tensors="pt", padding=True).to(device)
        cap = max(cap_of(p) for p in batch)
        t0 = time.time()
        torch.manual_seed(args.seed)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=cap, do_sample=True, temperature=0.7, top_p=0.95,
                                 pad_token_id=tok.pad_token_id, eos_token_id=stops)
        secs = time.time() - t0
        for p, row in zip(batch, gen[:, enc["input_ids"].shape[1]:], strict=True):
            ids = row.tolist()[:cap_of(p)]
            n = next((j for j, t in enumerate(ids) if t in stops), len(ids))
            text = tok.decode(ids[:n], skip_special_tokens=True)
            out_rows.append({**{k: v for k, v in p.items() if k != "messages"}, "response": text, "tokens": n,
                             "finish": "stop" if n < len(ids) else "length", "model": label,
                             "mode": "single-pass", "batch_seconds": round(secs, 1),
                             "batch_tokens": int(gen.shape[1] - enc["input_ids"].shape[1])})
        log(f"{label}: batch {b + 1}/{len(batches)} ({len(batch)} prompts, cap {cap}) in {secs:.0f} s")
    return out_rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--docs", type=Path, help="long human documents (id, text, metadata): SFT records are made here")
    ap.add_argument("--sft", type=Path, help="ready SFT records (instead of --docs)")
    ap.add_argument("--max-units", type=int, default=2500, help="longest piece of a document")
    ap.add_argument("--max-pieces", type=int, default=0, help="draft at most this many pieces (even per language; 0: all)")
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--synth-batch", type=int, default=64)
    ap.add_argument("--prompts", type=Path, required=True, help="JSONL: id, messages, length, (max_new_tokens)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--phase", choices=["all", "base", "train"], default="all",
                    help="base: answer with the base model only; train: make data, train, answer with the "
                         "trained model (the two can run at once as two processes on one GPU)")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--grad-accum", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=4096)
    ap.add_argument("--allow-truncation", action="store_true")
    ap.add_argument("--grad-ckpt", action="store_true")
    ap.add_argument("--train-seconds", type=float, default=0, help="stop training after this long (0: no limit)")
    ap.add_argument("--max-new-tokens", type=int, default=6144, help="ceiling on every prompt's own cap")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()

    import sys

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    tok, model = load(args.gguf, dtype, device)
    log(f"loaded {args.gguf.name} on {device} in {time.time() - t0:.0f} s")
    prompts = read_jsonl(args.prompts)
    summary: dict = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                     "args": {k: str(v) for k, v in vars(args).items()}}
    if args.phase == "base":
        base = generate(tok, model, prompts, args, device, "base")
        write_jsonl(args.out / "pred_base.jsonl", base)
        log(f"base done in {time.time() - t0:.0f} s")
        return
    if args.docs:
        records, failures = make_sft(tok, model, read_jsonl(args.docs), args, device)
        write_jsonl(args.out / "sft.jsonl", records)
        write_jsonl(args.out / "sft.errors.jsonl", failures)
        log(f"SFT records: {len(records)} kept, {len(failures)} failed")
        summary["synth_seconds"] = round(time.time() - t0, 1)
    else:
        records = read_jsonl(args.sft)
    if not records:
        raise SystemExit("no SFT records to train on")
    result = train(tok, model, records, args, device)
    peft_model = result.pop("model")
    summary.update(result)
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    trained = generate(tok, peft_model, prompts, args, device, "trained")
    write_jsonl(args.out / "pred_trained.jsonl", trained)
    if args.phase == "all":
        with peft_model.disable_adapter():
            base = generate(tok, peft_model, prompts, args, device, "base")
        write_jsonl(args.out / "pred_base.jsonl", base)
    summary["total_seconds"] = round(time.time() - t0, 1)
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    log(f"done in {summary['total_seconds']} s")


if __name__ == "__main__":
    main()
