"""`bimo synth`: training data from human writing and principles (thin: parse, call library)."""

from __future__ import annotations

from pathlib import Path

import typer

from bimo.cliutil import fail, given
from bimo.extras import installed, missing_extra_message, require

app = typer.Typer(help="Make training data: backtranslated SFT, constitutional and ranked DPO, "
                       "long-output SFT, RAG and tool-use samples, and their statistics.",
                  no_args_is_help=True)

_MODEL = typer.Option(None, "--model", "-m", help="model URI (default: bimo.llm.default_uri())")
_OUT = typer.Option(..., "--output", "-o", help="output JSONL; failures go to OUT.errors.jsonl")
_RESUME = typer.Option(False, "--resume", help="continue an interrupted run, skipping finished ids")
_OVERWRITE = typer.Option(False, "--overwrite", help="replace an existing output")
_LIMIT = typer.Option(None, "--limit", min=1, help="use at most N input records")
_CONC = typer.Option(None, "--concurrency", "-j", min=1, help="parallel requests (default: the backend's slots)")
_MAXTOK = typer.Option(None, "--max-tokens", min=16, help="generation limit per call")
_QUIET = typer.Option(False, "--quiet", "-q", help="no progress bar")
_RETRIES = typer.Option(1, "--retries", min=0, help="extra attempts (new seed) for rejected or unparseable answers")
_CALIBRATION = typer.Option(None, "--calibration", help="the judge's calibration.json (bimo eval calibrate): its "
                            "figures are printed with the run's statistics and kept in OUT.judge.json")
_ANY_SETTINGS = typer.Option(False, "--calibration-any-settings",
                             help="use a calibration made with other judge settings (the differences are named)")


def _say_calibration(cal: tuple[dict, dict] | None, output: Path) -> None:
    """The judge's figures beside the run's statistics, kept in OUT.judge.json for `synth stats`."""
    if cal is not None:
        from bimo.synth.calibration import keep_calibration

        for line in keep_calibration(output, *cal):
            typer.echo(line, err=True)


def _run(step, records, out: Path, resume: bool, overwrite: bool, limit, conc, quiet: bool,
         retries: int = 1) -> None:
    from bimo.runner import RunConfig, errors_path, run_step

    stats = run_step(step, records, out, RunConfig(resume=resume, overwrite=overwrite, limit=limit,
                                                   concurrency=conc, progress=not quiet, retries=retries))
    typer.echo(f"{out}: {stats.summary()} in {stats.seconds:.1f} s; errors: {errors_path(out)}", err=True)
    return stats


def _fail_if_nothing(stats, out: Path) -> None:
    """Exit 1 when no record came out: an empty input, or every record failed (reasons in the errors file)."""
    if stats.outputs == 0 and stats.skipped == 0:
        from bimo.runner import errors_path

        why = f"every record failed (see {errors_path(out)})" if stats.failed else "the input has no records"
        fail(f"{out}: nothing written: {why}", 1)


def _backend(uri: str | None):
    from bimo.llm import get_backend

    return get_backend(uri)


@app.command()
def backtranslate(docs: Path = typer.Argument(..., help="documents JSONL: id, text, metadata"), output: Path = _OUT,
                  model: str = _MODEL, limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE,
                  tasks: str = typer.Option(None, "--tasks", help="comma-separated task types (default: all)"),
                  tasks_per_doc: int = typer.Option(None, "--tasks-per-doc", min=1),
                  threshold: float = typer.Option(None, "--threshold", min=0.0, max=1.0, help="keep pairs whose self-curation P(yes) ≥ this (default 0.85)"),
                  no_score: bool = typer.Option(False, "--no-score", help="skip the self-curation call"),
                  examples: int = typer.Option(None, "--examples", min=0, max=8,
                                               help="annotated examples per prompt (fewer: shorter prompts)"),
                  generator: str = typer.Option(None, "--generator",
                                                help="who writes the instructions: 'prompted' (default; --model, "
                                                     "three steps) or the URI of a trained backward model, e.g. "
                                                     "gguf:back.gguf (one call per document; --model still "
                                                     "describes and scores)"),
                  max_tokens: int = _MAXTOK, concurrency: int = _CONC, retries: int = _RETRIES,
                  calibration: Path = _CALIBRATION, any_settings: bool = _ANY_SETTINGS,
                  quiet: bool = _QUIET) -> None:
    """Human documents → instruction/response SFT pairs (instruction backtranslation).

    Each document is described first (OUT.plan.jsonl), then one instruction is written and
    checked per (document, fitting task), or, with a backward model as --generator, one per
    document. Exits 1, with the top reasons, when nothing is kept."""
    from bimo.io import iter_jsonl
    from bimo.llm import default_uri
    from bimo.runner import RunConfig, errors_path
    from bimo.synth.backtranslate import (
        BacktranslateConfig,
        check_generator,
        check_prompted_only,
        plan_path,
        run_backtranslate,
    )
    from bimo.synth.calibration import scorer_calibration

    picked = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    options = given(tasks_per_doc=tasks_per_doc, threshold=threshold, examples=examples, tasks=picked,
                    max_tokens=max_tokens)
    if generator is not None:
        options["generator"] = check_generator(generator, "--generator")
        check_prompted_only(options["generator"], options, flags=True)
    cfg = BacktranslateConfig(score=not no_score, **options)
    cal = None if calibration is None else scorer_calibration(calibration, model or default_uri(), cfg, any_settings)
    run_cfg = RunConfig(resume=resume, overwrite=overwrite, limit=limit, concurrency=concurrency,
                        progress=not quiet, retries=retries)
    writer = _backend(cfg.generator) if cfg.backward else None  # opened first: a bad path fails at once
    try:
        described, pairs = run_backtranslate(_backend(model), iter_jsonl(docs), output, cfg, run_cfg, writer)
    finally:
        if writer is not None:
            writer.close()
    plans = plan_path(output)
    typer.echo(f"{plans}: {described.summary()}; errors: {errors_path(plans)}", err=True)
    typer.echo(f"{output}: {pairs.summary()} in {described.seconds + pairs.seconds:.1f} s; "
               f"errors: {errors_path(output)}", err=True)
    _say_calibration(cal, output)
    _exit_if_nothing_kept(output, [errors_path(plans), errors_path(output)])


def _exit_if_nothing_kept(output: Path, error_files: list[Path]) -> None:
    """A run that kept nothing ends with exit code 1 and its three most frequent reasons."""
    from collections import Counter

    from bimo.io import iter_jsonl
    from bimo.runner import reason_class

    if output.exists() and any(True for _ in iter_jsonl(output, [])):
        return
    reasons = Counter(reason_class(str(r.get("reason", ""))) for f in error_files if f.exists()
                      for r in iter_jsonl(f, []))
    top = "; ".join(f"{r} ({n})" for r, n in reasons.most_common(3)) or "no input records"
    typer.echo(f"nothing kept: {top}", err=True)
    raise typer.Exit(1)


@app.command("backward-model")
def backward_model(sft: Path = typer.Argument(..., help="SFT JSONL"), output: Path = _OUT,
                   limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE,
                   quiet: bool = _QUIET) -> None:
    """SFT pairs reversed (response → instruction) to train a backward model."""
    from bimo.synth.backtranslate import BackwardStep

    _run(BackwardStep(None), sft, output, resume, overwrite, limit, 1, quiet)


@app.command()
def constitution(sft: Path = typer.Argument(..., help="SFT JSONL (e.g. from backtranslate)"), output: Path = _OUT,
                 model: str = _MODEL, principles: Path = typer.Option(None, "--principles", help="folder of principle YAML files"),
                 min_score: float = typer.Option(None, "--min-score", min=0.0, max=1.0, help="skip SFT pairs whose self-curation score is below this"),
                 max_principles: int = typer.Option(None, "--max-principles", min=1,
                                                    help="principles listed per prompt (fewer: shorter prompts)"),
                 model_answers: bool = typer.Option(False, "--model-answers",
                                                    help="also start negatives from model-written answers (outlines, "
                                                         "titles: backtranslated pairs whose passage was the material)"),
                 limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE,
                 max_tokens: int = _MAXTOK, concurrency: int = _CONC, retries: int = _RETRIES,
                 quiet: bool = _QUIET) -> None:
    """Constitutional DPO: break the principle a good response exemplifies, minimally."""
    from bimo.synth.constitution import ConstitutionConfig, ConstitutionStep

    cfg = ConstitutionConfig(**given(principles_dir=principles, min_score=min_score, max_principles=max_principles,
                                     max_tokens=max_tokens, human_answers_only=False if model_answers else None))
    step = ConstitutionStep(_backend(model), cfg)
    _run(step, sft, output, resume, overwrite, limit, concurrency, quiet, retries)


@app.command()
def rank(instructions: Path = typer.Argument(..., help="JSONL with instruction / prompt / messages"),
         models: str = typer.Option(..., "--models", help="comma-separated model URIs (two or more)"),
         output: Path = _OUT, judge: str = typer.Option(None, "--judge", help="judge model URI (default model)"),
         limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE,
         max_tokens: int = _MAXTOK, judge_tokens: int = typer.Option(None, "--judge-tokens", min=16,
                                                                     help="generation limit per verdict"),
         concurrency: int = _CONC, retries: int = _RETRIES, calibration: Path = _CALIBRATION,
         any_settings: bool = _ANY_SETTINGS, quiet: bool = _QUIET) -> None:
    """Several models answer, a pairwise judge ranks them both ways, pairs come from the ranking."""
    from bimo.evaluate.pairjudge import judge_settings_record
    from bimo.llm import default_uri
    from bimo.synth.calibration import read_calibration
    from bimo.synth.rank import RankConfig, RankStep, rank_judge

    uris = [u.strip() for u in models.split(",") if u.strip()]
    cfg = RankConfig(**given(judge_tokens=judge_tokens, max_tokens=max_tokens))
    settings = judge_settings_record(rank_judge(judge or default_uri(), cfg), "pairwise")
    cal = None if calibration is None else (read_calibration(calibration, settings, any_settings), settings)
    backends = [_backend(u) for u in uris]
    step = RankStep(backends, _backend(judge), cfg)
    _run(step, instructions, output, resume, overwrite, limit, concurrency, quiet, retries)
    _say_calibration(cal, output)


@app.command()
def longform(instructions: Path = typer.Argument(..., help="JSONL with instruction (and optional length)"),
             output: Path = _OUT, model: str = _MODEL,
             min_score: float = typer.Option(None, "--min-score", help="keep records with length score ≥ this"),
             length: int = typer.Option(None, "--length", min=1, help="length for prompts that state none"),
             limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE,
             concurrency: int = _CONC, retries: int = _RETRIES, quiet: bool = _QUIET) -> None:
    """Long-output SFT records from the long-form writer, kept by length score."""
    from bimo.synth.longform import LongformStep, LongformSynthConfig

    cfg = LongformSynthConfig(**given(min_score=min_score, default_length=length),
                              run_dir=output.with_name(output.name + ".work"))
    _run(LongformStep(_backend(model), cfg), instructions, output, resume, overwrite, limit, concurrency, quiet,
         retries)


@app.command()
def longdoc(docs: Path = typer.Argument(..., help="long human documents JSONL: id, text, metadata (with license)"),
            output: Path = _OUT, model: str = _MODEL,
            min_units: int = typer.Option(None, "--min-units", min=50, help="shortest piece kept"),
            max_units: int = typer.Option(None, "--max-units", min=100,
                                          help="longer documents are split"),
            no_license_check: bool = typer.Option(False, "--no-license-check",
                                                  help="accept documents without metadata.license"),
            seed: int = typer.Option(None, "--seed", help="seed for the instruction and the length phrasing"),
            limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE,
            concurrency: int = _CONC, retries: int = _RETRIES, quiet: bool = _QUIET) -> None:
    """Long human texts → long-output SFT: backtranslated instruction + a length clause written by code."""
    from bimo.io import iter_jsonl
    from bimo.synth.longdoc import LongDocConfig, LongDocStep, check_licences, expand_docs

    cfg = LongDocConfig(**given(min_units=min_units, max_units=max_units, seed=seed),
                        require_license=not no_license_check)
    cfg.max_units = max(cfg.max_units, cfg.min_units)
    rows = list(iter_jsonl(docs))
    if limit:
        rows = rows[:limit]
    if cfg.require_license:
        check_licences(rows)
    _run(LongDocStep(_backend(model), cfg), expand_docs(rows, cfg), output, resume, overwrite, None, concurrency,
         quiet, retries)


@app.command()
def rag(sft: Path = typer.Argument(..., help="SFT JSONL"), output: Path = _OUT,
        refs: Path = typer.Option(..., "--refs", help="reference documents JSONL (id, text)"),
        share: float = typer.Option(None, "--share", min=0.0, max=1.0,
                                    help="share of records given a reference"),
        min_score: float = typer.Option(None, "--min-score", min=0.0, max=1.0,
                                        help="relevance floor (e5 cosine); records without such a reference pass "
                                             "through unchanged with meta.rag_skipped"),
        limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE, quiet: bool = _QUIET) -> None:
    """Add the most similar reference paragraph to a share of SFT records (RAG-aware SFT)."""
    require("synth", "bimo synth rag")
    from bimo.synth.augment import AugmentConfig, RagStep

    cfg = AugmentConfig(refs=refs, **given(share=share, min_score=min_score))
    _fail_if_nothing(_run(RagStep(cfg), sft, output, resume, overwrite, limit, 1, quiet), output)


@app.command()
def tools(sft: Path = typer.Argument(..., help="SFT JSONL"), output: Path = _OUT,
          refs: Path = typer.Option(..., "--refs", help="reference documents JSONL for search_references"),
          share: float = typer.Option(None, "--share", min=0.0, max=1.0,
                                      help="share of records turned into tool use"),
          limit: int = _LIMIT, resume: bool = _RESUME, overwrite: bool = _OVERWRITE, quiet: bool = _QUIET) -> None:
    """Tool-use conversations (search_references, count_length) with JSON tool schemas."""
    require("synth", "bimo synth tools")
    from bimo.synth.augment import AugmentConfig, ToolsStep

    _fail_if_nothing(_run(ToolsStep(AugmentConfig(refs=refs, **given(share=share))), sft, output, resume, overwrite, limit,
                          1, quiet), output)


@app.command()
def stats(data: Path = typer.Argument(..., help="SFT or preference JSONL"),
          out_dir: Path = typer.Option(None, "--out-dir", help="where to write (default: next to the data)")) -> None:
    """Counts per task/domain/language/principle, length histogram, rejection reasons (Markdown + PNG)."""
    from bimo.synth.stats import write_stats

    md, png = write_stats(data, out_dir)
    typer.echo(md.read_text(encoding="utf-8"))
    typer.echo(f"wrote {md}" + (f" and {png}" if png else ""), err=True)
    if png is None and not installed("matplotlib"):
        typer.echo("note: " + missing_extra_message("plots", "the length histogram"), err=True)
