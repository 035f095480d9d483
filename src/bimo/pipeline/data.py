"""The data stages: curate a corpus, then make SFT and preference data from it.

curate: the embedded `bimo curate` recipe, run by `bimo.curate.pipeline.run` into the
stage folder (its own `.work/` markers make an interrupted curation resumable).
synth: a seeded sample of the curated documents -> instruction backtranslation ->
Constitutional DPO pairs, both through the shared runner (`bimo.runner.run_step`), whose
per-record resume picks up an interrupted stage where it stopped. Existing SFT or
preference files named in the recipe are mixed in after synthesis.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import atomic_write_jsonl, atomic_write_text, iter_jsonl
from bimo.pipeline.context import StageContext, StageResult
from bimo.runner import errors_path


def run_curate(ctx: StageContext) -> StageResult:
    from bimo.curate.pipeline import run as curate_run

    recipe = ctx.recipe.curate_recipe(ctx.dir)
    resume = ctx.resume and (ctx.dir / ".work" / "state.json").exists()
    if ctx.resume and not resume and ctx.dir.exists():
        shutil.rmtree(ctx.dir)  # stopped before curation recorded anything: start the stage over
    summary = curate_run(recipe, resume=resume)
    shards = corpus_files(ctx.dir)
    if not summary["output_docs"] or not shards:
        raise BimoError(f"curation kept no documents; see {ctx.dir / 'report.md'}")
    return StageResult(
        outputs={"corpus": [ctx.rel(p) for p in shards], "report": ctx.rel(ctx.dir / "report.md")},
        figures={"docs_in": summary["input_docs"], "docs_kept": summary["output_docs"]},
        summary=f"{summary['input_docs']} docs in, {summary['output_docs']} kept",
    )


def corpus_files(folder: Path) -> list[Path]:
    """The kept shards of a curation output folder, in order."""
    return sorted(p for p in folder.glob("shard-*.jsonl*") if p.is_file())


def iter_corpus(files: list[Path]) -> Iterator[dict[str, Any]]:
    for f in files:
        yield from iter_jsonl(f)


def sample_docs(docs: Iterator[dict[str, Any]], n: int | None, seed: int) -> list[dict[str, Any]]:
    """`n` documents chosen by a seeded hash of their id (all when n is None), in a stable order.

    A pure function of (seed, ids): the same sample on a resume, and it streams (memory ~ n).
    """
    def rank(doc: dict[str, Any]) -> str:
        ident = str(doc.get("id") or hashlib.sha1(str(doc.get("text", "")).encode("utf-8")).hexdigest())
        return hashlib.sha1(f"{seed}:{ident}".encode()).hexdigest()

    usable = (d for d in docs if isinstance(d.get("text"), str) and d["text"].strip())
    if n is None:
        return list(usable)
    return [d for _, d in heapq.nsmallest(n, ((rank(d), d) for d in usable), key=lambda x: x[0])]


def sampled_once(folder: Path, docs: Callable[[], Iterator[dict[str, Any]]], n: int | None, seed: int) -> Path:
    """`folder/docs.jsonl`: `n` of `docs()` sampled by `seed`, once. A resumed stage works on
    the same documents; a changed `n` or `seed` (kept in `docs.sample.json`) samples again
    (a larger `n` adds to the sample, and the runner skips the work items already done)."""
    docs_file, sample_file = folder / "docs.jsonl", folder / "docs.sample.json"
    sample = json.dumps({"docs": n, "seed": seed})
    if not docs_file.exists() or not sample_file.exists() or sample_file.read_text(encoding="utf-8") != sample:
        atomic_write_jsonl(docs_file, sample_docs(docs(), n, seed))
        atomic_write_text(sample_file, sample)
    return docs_file


def count_records(path: Path) -> int:
    return sum(1 for _ in iter_jsonl(path, [])) if path.exists() else 0


def run_synth(ctx: StageContext) -> StageResult:
    from bimo.llm import default_uri, get_backend
    from bimo.runner import RunConfig, run_step
    from bimo.synth.backtranslate import run_backtranslate
    from bimo.synth.constitution import ConstitutionStep

    cfg = ctx.recipe.synth
    ctx.dir.mkdir(parents=True, exist_ok=True)
    corpus = [ctx.path(p) for p in ctx.output("curate", "corpus")]
    docs_file = sampled_once(ctx.dir, lambda: iter_corpus(corpus), cfg.docs, cfg.seed)
    n_docs = count_records(docs_file)
    sft_file, pairs_file = ctx.dir / "sft.jsonl", ctx.dir / "pairs.jsonl"
    # resume=True in a fresh folder is a plain run; after an interruption it skips finished records
    # and tries failed ones again (cheap when nothing changed: seeded answers come from the request
    # cache; useful when the settings did change, e.g. looser checks after too few pairs).
    run_cfg = RunConfig(resume=True, retry_failed=True, concurrency=cfg.concurrency, retries=cfg.retries,
                        progress=True)
    with_pairs = "dpo" in ctx.recipe.stages
    if cfg.method == "longdoc" and cfg.longdoc.require_license:
        from bimo.synth.longdoc import check_licences

        check_licences(list(iter_jsonl(docs_file)))
    cal = None
    if cfg.calibration is not None:  # read before any work: a bad or mismatched file fails early
        from bimo.synth.calibration import scorer_calibration

        if cfg.method != "backtranslate":
            raise BimoError("synth.calibration describes backtranslate's self-curation scorer; synth.method is "
                            f"{cfg.method}")
        cal = scorer_calibration(cfg.calibration, cfg.model or default_uri(), cfg.backtranslate,
                                 cfg.calibration_any_settings)
    backend = get_backend(cfg.model or default_uri())
    try:
        if cfg.method == "longdoc":
            from bimo.synth.longdoc import LongDocStep
            from bimo.synth.longdoc import expand_docs as pieces

            run_step(LongDocStep(backend, cfg.longdoc), pieces(iter_jsonl(docs_file), cfg.longdoc), sft_file, run_cfg)
        else:
            run_backtranslate(backend, docs_file, sft_file, cfg.backtranslate, run_cfg)
        if with_pairs and cfg.method == "backtranslate" and sft_file.exists() and sft_file.stat().st_size:
            run_step(ConstitutionStep(backend, cfg.constitution), sft_file, pairs_file, run_cfg)
    finally:
        backend.close()
    made_sft, made_pairs = count_records(sft_file), count_records(pairs_file)
    train_sft = _mix(sft_file, cfg.extra_sft, ctx.dir / "sft.train.jsonl")
    train_pairs = _mix(pairs_file, cfg.extra_pairs, ctx.dir / "pairs.train.jsonl") if with_pairs else None
    n_sft = count_records(train_sft)
    n_pairs = count_records(train_pairs) if train_pairs else 0
    if n_sft < cfg.min_sft:
        raise BimoError(f"synthesis gave {n_sft} SFT records (synth.min_sft is {cfg.min_sft}); reasons in "
                        f"{errors_path(sft_file)}; sample more documents (synth.docs) or use a stronger synth.model")
    if with_pairs and n_pairs < cfg.min_pairs:
        raise BimoError(f"synthesis gave {n_pairs} preference pairs (synth.min_pairs is {cfg.min_pairs}); reasons in "
                        f"{errors_path(pairs_file)}; sample more documents or use a stronger synth.model")
    figures = {"docs": n_docs, "sft_made": made_sft, "sft_failed": count_records(errors_path(sft_file)),
               "sft": n_sft, "pairs_made": made_pairs, "pairs_failed": count_records(errors_path(pairs_file)),
               "pairs": n_pairs}
    outputs = {"docs": ctx.rel(docs_file), "sft": ctx.rel(train_sft)}
    if train_pairs is not None:
        outputs["pairs"] = ctx.rel(train_pairs)
    if cal is not None:  # the scorer's figures beside the synthesis figures, and beside sft.jsonl
        from bimo.synth.calibration import keep_calibration

        for text in keep_calibration(sft_file, *cal):
            print(text, file=sys.stderr)
        figures.update(judge_agreement=cal[0]["agreement"], judge_position_flips=cal[0]["position_flips"])
    extra = f" (+{n_sft - made_sft} mixed in)" if n_sft > made_sft else ""
    line = f"{n_docs} docs -> {made_sft} SFT pairs{extra}"
    if with_pairs:
        extra = f" (+{n_pairs - made_pairs} mixed in)" if n_pairs > made_pairs else ""
        line += f", {made_pairs} DPO pairs{extra}"
    return StageResult(outputs=outputs, figures=figures, summary=line)


def _mix(made: Path, extra: list[Path], out: Path) -> Path:
    """`made` alone, or a new file with `made` followed by every extra file's records."""
    if not extra:
        return made
    rows: list[dict[str, Any]] = list(iter_jsonl(made)) if made.exists() else []
    for path in extra:
        rows.extend(iter_jsonl(path))
    atomic_write_jsonl(out, rows)
    return out


def pretrain_text(ctx: StageContext) -> Path:
    """The curated corpus as one training file (shards joined byte for byte; gzip members join too)."""
    shards = [ctx.path(p) for p in ctx.output("curate", "corpus")]
    if len(shards) == 1:
        return shards[0]
    out = ctx.dir / ("text.jsonl.gz" if shards[0].suffix == ".gz" else "text.jsonl")
    ctx.dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as dst:
        for shard in shards:
            with open(shard, "rb") as src:
                shutil.copyfileobj(src, dst)
    tmp.replace(out)
    return out
