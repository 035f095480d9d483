"""Training benchmark (prints figures; not a test).

Part 1, always: tokens/s of bimo's SFT (`bimo.train.run.train`, what `bimo train sft`
calls) against a minimal plain-TRL script with the same model, data and settings, plus
packing on vs. off and each run's peak RAM. Every run is a fresh subprocess so peak RAM is
per run; variants alternate over --reps rounds and the best round is reported.
Part 2, with --real: LoRA DPO of the registry's `small` model (Qwen2.5-Coder-0.5B) on
preference pairs built from real human documents (each text against degraded copies of
itself, see `real_pairs`), split by source document; preference accuracy on the pairs of
the held-out documents (share where log p(chosen) > log p(rejected)) of the base model vs.
the DPO model, and DPO's implicit reward accuracy. Slow on CPU (~1 epoch by default).

    .venv/bin/python benchmarks/train.py [--steps 20] [--reps 2] [--real --real-steps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SETTINGS = {"max_length": 256, "batch_size": 8, "learning_rate": 1e-4, "logging_steps": 5}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(kind: str, model: str, data: str, steps: int, packing: bool) -> dict:
    """One training run in this process; returns tokens, train-loop seconds and wall seconds."""
    start = time.perf_counter()
    out = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    if kind == "bimo":
        from bimo.train.config import load_config
        from bimo.train.run import train

        cfg = load_config("sft", overrides={**SETTINGS, "data": data, "base": model, "output_dir": out,
                                            "max_steps": steps, "packing": packing, "save_steps": 10**6})
        res = train(cfg)
        tokens, loop_s = res.metrics["num_tokens"], res.metrics["train_runtime"]
    else:
        # The plain script a TRL user would write for the same job.
        from datasets import load_dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import SFTConfig, SFTTrainer

        tok = AutoTokenizer.from_pretrained(model)
        ds = load_dataset("json", data_files=data, split="train").remove_columns(["meta"])
        args = SFTConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=SETTINGS["batch_size"],
                         learning_rate=SETTINGS["learning_rate"], max_length=SETTINGS["max_length"],
                         packing=packing, assistant_only_loss=True, logging_steps=SETTINGS["logging_steps"],
                         save_strategy="no", report_to=[],
                         # CPU fp32 and no activation checkpointing, as bimo's defaults (TRL's differ).
                         bf16=False, gradient_checkpointing=False)
        trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model), args=args, train_dataset=ds,
                             processing_class=tok)
        res = trainer.train()
        tokens = [h["num_tokens"] for h in trainer.state.log_history if "num_tokens" in h][-1]
        loop_s = res.metrics["train_runtime"]
    wall = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return {"kind": kind, "packing": packing, "tokens": tokens, "loop_s": loop_s, "wall_s": wall,
            "peak_mb": _peak_mb()}


def _spawn(kind: str, model: Path, data: Path, steps: int, packing: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--model", str(model), "--data", str(data),
           "--steps", str(steps), "--packing", str(int(packing))]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def part_speed(steps: int, reps: int, root: Path) -> dict[str, float]:
    from bimo.io import atomic_write_jsonl
    from bimo.train.tiny import build_tiny_model, sft_records

    model = build_tiny_model(root / "model", hidden=256, layers=4, vocab=1024)
    data = root / "sft.jsonl"
    atomic_write_jsonl(data, sft_records(2000))
    variants = [("bimo", True), ("plain", True), ("bimo", False), ("plain", False)]
    best: dict[tuple[str, bool], dict] = {}
    for _ in range(reps):
        for kind, packing in variants:
            r = _spawn(kind, model, data, steps, packing)
            r["tps"] = r["tokens"] / r["loop_s"]
            key = (kind, packing)
            if key not in best or r["tps"] > best[key]["tps"]:
                best[key] = r
    print(f"\n## SFT throughput: tiny Llama (4x256, vocab 1k), {steps} steps, batch {SETTINGS['batch_size']}, "
          f"max_length {SETTINGS['max_length']}, CPU threads {os.cpu_count()}, best of {reps}")
    print("| run | packing | tokens | train-loop s | tokens/s | wall s | peak RAM MB |")
    print("|---|---|---|---|---|---|---|")
    for (kind, packing), r in best.items():
        print(f"| {kind} | {'on' if packing else 'off'} | {r['tokens']:.0f} | {r['loop_s']:.2f} | {r['tps']:.0f} | "
              f"{r['wall_s']:.1f} | {r['peak_mb']:.0f} |")
    for packing in (True, False):
        ratio = best[("bimo", packing)]["tps"] / best[("plain", packing)]["tps"]
        print(f"bimo / plain TRL tokens/s, packing {'on' if packing else 'off'}: {ratio:.3f} (target >= 0.95)")
    gain = best[("bimo", True)]["tps"] / best[("bimo", False)]["tps"]
    print(f"packing on / off (bimo): {gain:.2f}x tokens/s")
    return {f"bimo_over_plain_{'packed' if p else 'unpacked'}": round(best[("bimo", p)]["tps"] / best[("plain", p)]["tps"], 3)
            for p in (True, False)}


def _pair_logps(model, tok, pairs: list[dict]) -> list[tuple[float, float]]:
    """Summed log-probs of the chosen and rejected answers given the prompt (chat template applied)."""
    import torch

    out = []
    model.eval()
    for p in pairs:
        prompt = tok.apply_chat_template(p["prompt"], tokenize=False, add_generation_prompt=True)
        scores = []
        for key in ("chosen", "rejected"):
            full = tok.apply_chat_template(p["prompt"] + p[key], tokenize=False)
            ids = tok(full, return_tensors="pt", add_special_tokens=False).input_ids
            n_prompt = len(tok(prompt, add_special_tokens=False).input_ids)
            with torch.no_grad():
                logits = model(ids).logits[0, :-1].float()
            logp = torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None])[:, 0]
            scores.append(float(logp[n_prompt - 1:].sum()))
        out.append((scores[0], scores[1]))
    return out


REAL_DOCS = Path(__file__).parent / "data" / "synth_heldout.jsonl"


def _trim(text: str, max_chars: int) -> str:
    """The text's leading paragraphs up to `max_chars` (at least two paragraphs or sentences
    remain so every probe can be built); keeps the pairs inside the training length."""
    from bimo.text import sentences

    out = ""
    for para in [p.strip() for p in text.split("\n") if p.strip()]:
        if out and len(out) + len(para) > max_chars:
            break
        out = f"{out}\n\n{para}" if out else para
    if len(out) > max_chars:  # one long paragraph: cut at a sentence end
        cut = ""
        for s in sentences(out):
            if cut and len(cut) + len(s) > max_chars:
                break
            cut += s
        out = cut
    return out.strip()


def real_pairs(root: Path, held_share: float = 0.4, max_chars: int = 600) -> tuple[list[dict], list[dict], dict]:
    """Preference pairs built from real human documents, split by source document.

    Each document of the frozen set (benchmarks/data/synth_heldout.jsonl: Brown corpus and
    People's Daily excerpts, licences in their metadata) is set against four degraded copies
    of itself made by `bimo eval probe` (filler padded in, sentences shuffled, a paragraph
    repeated, set phrases inserted): the human text is the chosen side. Documents, not pairs,
    are split (by a hash of the id), so no held-out pair shares a source text with training.
    """
    import hashlib

    from bimo.evaluate.probe import build_pairs
    from bimo.io import atomic_write_jsonl, read_jsonl

    docs = [{"id": d["id"], "text": _trim(d["text"], max_chars), "lang": d["metadata"]["lang"]}
            for d in read_jsonl(REAL_DOCS)]
    atomic_write_jsonl(root / "docs.jsonl", docs)
    pairs, skipped = build_pairs(root / "docs.jsonl", seed=7)
    ids = sorted({d["id"] for d in docs}, key=lambda i: hashlib.sha1(i.encode()).hexdigest())
    held = set(ids[: round(len(ids) * held_share)])

    def record(p: dict) -> dict:
        return {"prompt": [{"role": "user", "content": p["prompt"]}],
                "chosen": [{"role": "assistant", "content": p["chosen"]}],
                "rejected": [{"role": "assistant", "content": p["rejected"]}],
                "meta": {"id": p["id"], "doc": p["id"].rsplit(":", 1)[0], "probe": p["category"], "lang": p["lang"]}}

    train_p = [record(p) for p in pairs if p["id"].rsplit(":", 1)[0] not in held]
    held_p = [record(p) for p in pairs if p["id"].rsplit(":", 1)[0] in held]
    info = {"docs": len(docs), "held_docs": len(held), "skipped": len(skipped)}
    return train_p, held_p, info


def part_real(steps: int, root: Path, batch: int = 4) -> dict[str, float]:
    """LoRA DPO of `small` on real-text pairs from some documents; preference accuracy on
    pairs from the other documents, before (the base model) and after."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bimo.io import atomic_write_jsonl
    from bimo.train.config import load_config
    from bimo.train.models import resolve_base
    from bimo.train.run import train

    t0 = time.perf_counter()
    base = resolve_base("small")
    conv_s = time.perf_counter() - t0
    train_p, held_out, info = real_pairs(root)
    atomic_write_jsonl(root / "pairs.jsonl", train_p)
    dpo = train(load_config("dpo", overrides={
        "data": root / "pairs.jsonl", "base": "small", "output_dir": root / "dpo", "lora": True,
        "max_length": 512, "batch_size": batch, "max_steps": steps, "save_steps": 10**6, "logging_steps": 1,
        "learning_rate": 5e-5}))
    tok = AutoTokenizer.from_pretrained(dpo.model_dir)
    base_model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    base_scores = _pair_logps(base_model, tok, held_out)
    dpo_model = PeftModel.from_pretrained(base_model, dpo.model_dir)
    dpo_scores = _pair_logps(dpo_model, tok, held_out)

    def acc(scores, subset=None) -> float:
        idx = [i for i in range(len(held_out)) if subset is None or subset(held_out[i])]
        return sum(scores[i][0] > scores[i][1] for i in idx) / len(idx)

    # DPO's implicit reward: how much more the tuned model likes each side than the base does
    reward = [(d[0] - b[0], d[1] - b[1]) for d, b in zip(dpo_scores, base_scores, strict=True)]
    margins = [h["rewards/margins"] for h in dpo.history if "rewards/margins" in h]
    epochs = steps * batch / len(train_p)
    print(f"\n## Real pairs: registry `small` (Qwen2.5-Coder-0.5B-Instruct), LoRA DPO, CPU, {steps} steps x {batch}")
    print(f"GGUF -> checkpoint conversion: {conv_s:.0f} s (cached afterwards); base {base}")
    print(f"pairs: {len(train_p)} for training from {info['docs'] - info['held_docs']} documents, "
          f"{len(held_out)} held out from {info['held_docs']} other documents ({epochs:.2f} epochs)")
    print(f"DPO: {dpo.metrics['train_runtime'] / steps:.1f} s/step, train reward margin first/last "
          f"{margins[0]:.3f} / {margins[-1]:.3f}")
    print(f"held-out preference accuracy, log p(chosen) > log p(rejected): base {acc(base_scores):.3f} -> DPO {acc(dpo_scores):.3f}")
    print(f"held-out DPO reward accuracy (tuned vs base log-ratio, chosen > rejected): {acc(reward):.3f}")
    by: dict[str, dict[str, float]] = {}
    for key in sorted({p["meta"]["probe"] for p in held_out} | {p["meta"]["lang"] for p in held_out}):
        def sel(p: dict, k: str = key) -> bool:
            return k in (p["meta"]["probe"], p["meta"]["lang"])

        by[key] = {"n": sum(map(sel, held_out)), "base": round(acc(base_scores, sel), 3),
                   "dpo": round(acc(dpo_scores, sel), 3), "reward": round(acc(reward, sel), 3)}
        print(f"  {key:8s} n={by[key]['n']:3d}  base {by[key]['base']:.3f}  DPO {by[key]['dpo']:.3f}  "
              f"reward {by[key]['reward']:.3f}")
    return {"real_pairs_train": len(train_p), "real_pairs_held_out": len(held_out), "dpo_steps": steps,
            "held_out_accuracy_base": round(acc(base_scores), 3), "held_out_accuracy_dpo": round(acc(dpo_scores), 3),
            "held_out_reward_accuracy": round(acc(reward), 3), "by": by}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--real", action="store_true", help="also run the slow real-model DPO part")
    ap.add_argument("--real-steps", type=int, default=30)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--worker", choices=["bimo", "plain"])
    ap.add_argument("--model")
    ap.add_argument("--data")
    ap.add_argument("--packing", type=int, default=1)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.model, a.data, a.steps, bool(a.packing))))
        return
    summary: dict = {"benchmark": "train", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "load_1min_start": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bimo-bench-") as tmp:
        if not a.skip_speed:
            summary["speed"] = part_speed(a.steps, a.reps, Path(tmp) / "speed")
        if a.real:
            summary["dpo"] = part_real(a.real_steps, Path(tmp) / "real")
    summary["load_1min_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
