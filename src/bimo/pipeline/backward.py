"""The backward stage (Ziya's answer-to-instruction model), between synth and training.

1. the accepted SFT pairs of the synth stage, reversed (`bimo synth backward-model`): the
   pairs whose answer is the passage only, since that is what the model will be asked for;
2. `bimo train sft` on them (by default LoRA on the section's `base`, e.g. `small`);
3. GGUF export into the stage folder (not registered: it serves this run);
4. backtranslation of documents the synth stage did not use, with the exported model as
   the generator (`bimo synth backtranslate --generator gguf:PATH`) and the synth model
   describing and scoring: the same checks and self-curation as the prompted pairs;
5. the SFT data of the training stages: the synth stage's, then the pairs kept here.

Each part resumes on its own: the reversed pairs and the backtranslation through the
runner's per-record resume, training from its newest checkpoint, and a finished training
run or GGUF file is not redone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import atomic_write_jsonl, iter_jsonl
from bimo.pipeline.context import StageContext, StageResult
from bimo.pipeline.data import count_records, iter_corpus, sampled_once
from bimo.runner import errors_path


def reversible(sft_file: Path) -> list[dict[str, Any]]:
    """The pairs a backward model learns from: all but those whose passage is the material
    of an analysis (outline, review, title...), whose answer is the model's own writing."""
    return [r for r in iter_jsonl(sft_file) if (r.get("meta") or {}).get("anchor") != "input"]


def new_docs(ctx: StageContext, n: int, seed: int) -> Path:
    """`n` documents of the curated corpus the synth stage did not sample, chosen once
    (again when `n` or `seed` changes)."""
    used = {str(d.get("id")) for d in iter_jsonl(ctx.path(ctx.output("synth", "docs")))}
    corpus = [ctx.path(p) for p in ctx.output("curate", "corpus")]
    return sampled_once(ctx.dir, lambda: (d for d in iter_corpus(corpus) if str(d.get("id")) not in used), n, seed)


def run_backward(ctx: StageContext) -> StageResult:
    from bimo.llm import default_uri, get_backend
    from bimo.runner import RunConfig, run_step
    from bimo.synth.backtranslate import BackwardStep, run_backtranslate
    from bimo.train.export import export_run
    from bimo.train.models import is_run_dir, read_run

    recipe, cfg = ctx.recipe, ctx.recipe.backward
    ctx.dir.mkdir(parents=True, exist_ok=True)
    run_cfg = RunConfig(resume=True, retry_failed=True, concurrency=recipe.synth.concurrency,
                        retries=recipe.synth.retries, progress=True)
    synth_sft = ctx.path(ctx.output("synth", "sft"))
    pairs = ctx.dir / "pairs.jsonl"
    atomic_write_jsonl(pairs, reversible(synth_sft))
    back = ctx.dir / "back.jsonl"
    run_step(BackwardStep(None), pairs, back, run_cfg.model_copy(update={"concurrency": 1}))
    n_back = count_records(back)
    if n_back < cfg.min_pairs:
        raise BimoError(f"backward: {n_back} reversed pairs from {synth_sft} (backward.min_pairs is {cfg.min_pairs}); "
                        "synthesize more pairs first (synth.docs)")

    train_dir = ctx.dir / "train"
    if not (is_run_dir(train_dir) and read_run(train_dir).get("finished")):
        from bimo.train.run import train

        resume = ctx.resume and any((train_dir / "checkpoints").glob("checkpoint-*"))
        train(recipe.backward_train_config(data=back, output_dir=train_dir, resume=resume or None))
    gguf = ctx.dir / f"{recipe.name}-backward.{cfg.quant}.gguf"
    if not gguf.exists():
        export_run(train_dir, f"{recipe.name}-backward", cfg.quant, register=False, out_dir=ctx.dir)

    docs = new_docs(ctx, cfg.docs, cfg.seed)
    out = ctx.dir / "sft.jsonl"
    settings = cfg.backtranslate.model_copy(update={"generator": f"gguf:{gguf.resolve()}"})
    backend = get_backend(recipe.synth.model or default_uri())
    try:
        _, made = run_backtranslate(backend, docs, out, settings, run_cfg)
    finally:
        backend.close()
    kept = count_records(out)
    if kept < cfg.min_sft:
        raise BimoError(f"backward: the backward model's requests gave {kept} SFT pairs (backward.min_sft is "
                        f"{cfg.min_sft}); reasons in {errors_path(out)}")
    mixed = ctx.dir / "sft.train.jsonl"
    atomic_write_jsonl(mixed, [*iter_jsonl(synth_sft), *(iter_jsonl(out) if out.exists() else [])])
    rejected = count_records(errors_path(out))
    figures = {"reversed": n_back, "docs": count_records(docs), "kept": kept, "rejected": rejected,
               "kept_rate": round(kept / (kept + rejected), 3) if kept + rejected else None,
               "train_loss": (read_run(train_dir).get("metrics") or {}).get("train_loss")}
    outputs = {"back": ctx.rel(back), "run": ctx.rel(train_dir), "gguf": ctx.rel(gguf), "docs": ctx.rel(docs),
               "sft_made": ctx.rel(out), "sft": ctx.rel(mixed)}
    return StageResult(outputs=outputs, figures=figures,
                       summary=f"{n_back} reversed pairs -> backward model -> {kept} of {kept + rejected} "
                               f"new pairs kept")
