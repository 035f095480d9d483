"""The curation run: per-shard steps, then global dedup and mix, then per-shard output.

Stage A (parallel, per input shard): read → per-document steps → work shard
  + sketches; rejects go to `OUT/rejects/<shard>.filter.jsonl`.
Stage B (global): duplicate index over all sketches, then the mixer's rates
  from the bucket counts that survive dedup.
Stage C (parallel, per shard): drop duplicates and mixed-out documents (to
  `OUT/rejects/<shard>.dedup.jsonl` / `.mix.jsonl`), copy the rest byte for byte
  to `OUT/<shard>.jsonl`.
Every stage writes its files under temporary names, renames them, then records
a `.done.json` marker, so `--resume` redoes exactly the unfinished shards and
the final output is identical to an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bimo.curate.base import DocStepStats, run_doc_steps
from bimo.curate.dedup import DedupFilter, DuplicateIndex, Sketcher
from bimo.curate.engine import keep_freed_memory, map_shards
from bimo.curate.mixer import Mixer, bucket_of, quota_thresholds, uniform
from bimo.curate.readers import Reader, Shard, expand_inputs
from bimo.curate.recipe import Recipe
from bimo.curate.workshards import ShardFiles, WorkDocs
from bimo.curate.writers import ShardWriter
from bimo.errors import BimoError
from bimo.io import atomic_write_text


def shard_name(i: int) -> str:
    return f"shard-{i:05d}"


def _done(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stage_a(job: dict[str, Any]) -> dict[str, Any]:
    """Read one shard and run the per-document steps; returns (and records) its stats."""
    recipe = Recipe.model_validate(job["recipe"])
    shard = Shard(**job["shard"])
    work, out = Path(job["work"]), Path(job["out"])
    name = shard_name(shard.index)
    marker = work / f"{name}.a.done.json"
    if job.get("resume") and (d := _done(marker)) is not None:
        return d
    keep_freed_memory()
    reader = Reader(recipe.text_key, recipe.id_key, recipe.max_doc_chars)
    steps = recipe.build_steps()
    rejects = ShardWriter(out / "rejects" / f"{name}.filter.jsonl")
    for s in [reader, *steps]:
        s.sink = rejects.write
    docs = ShardWriter(work / f"{name}.jsonl", track_offsets=True)
    sketch = Sketcher(recipe.dedup) if recipe.dedup else None
    meta: list[list[str]] = []
    try:
        for doc in run_doc_steps(steps, reader.read(shard)):
            docs.write(doc)
            if sketch is not None:
                sketch.add(doc)
            if recipe.mix is not None:
                meta.append([str(doc["id"]), *bucket_of(doc["metadata"], recipe.mix),
                             uniform(recipe.mix.seed, str(doc["id"]))])
    except BaseException:
        docs.abort()
        rejects.abort()
        raise
    docs.close()
    rejects.close()
    ShardFiles(work / name, docs.count).save_offsets(docs.offsets)
    if sketch is not None:
        sketch.save(work / name)
    atomic_write_text(work / f"{name}.meta.json", json.dumps(meta, ensure_ascii=False))
    result = {"shard": shard.index, "label": shard.label, "n": docs.count,
              "stats": [s.stats.to_json() for s in [reader, *steps]]}
    atomic_write_text(marker, json.dumps(result, ensure_ascii=False))
    return result


def stage_b(recipe: Recipe, work: Path, counts: list[int], resume: bool) -> dict[str, Any]:
    """Global: duplicate decisions and mixer rates."""
    marker = work / "index.done.json"
    if resume and (d := _done(marker)) is not None:
        return d
    decisions: dict[int, tuple[str, float, str]] = {}
    if recipe.dedup is not None:
        files = [ShardFiles(work / shard_name(i), n) for i, n in enumerate(counts)]
        decisions = DuplicateIndex(recipe.dedup, files, workers=recipe.workers).decide()
    rates: list[list[Any]] = []
    if recipe.mix is not None:
        def columns():
            """(buckets, uniform values) of the documents left after dedup, a shard at a time."""
            g = 0
            for i, n in enumerate(counts):
                rows = json.loads((work / f"{shard_name(i)}.meta.json").read_text(encoding="utf-8"))
                rows = [r for k, r in enumerate(rows) if g + k not in decisions]
                g += n
                yield [tuple(r[1:4]) for r in rows], np.array([r[4] for r in rows], dtype=np.float64)

        rate, quota = quota_thresholds(columns, recipe.mix)
        rates = [[*k, v, quota[k]] for k, v in sorted(rate.items())]
    result = {"decisions": {str(k): v for k, v in decisions.items()}, "rates": rates}
    atomic_write_text(marker, json.dumps(result, ensure_ascii=False))
    return result


def stage_c(job: dict[str, Any]) -> dict[str, Any]:
    """Apply dedup and mix decisions to one work shard; kept lines are copied unchanged."""
    recipe = Recipe.model_validate(job["recipe"])
    work, out, i = Path(job["work"]), Path(job["out"]), job["index"]
    name = shard_name(i)
    marker = work / f"{name}.c.done.json"
    if job.get("resume") and (d := _done(marker)) is not None:
        return d
    decisions = {int(k): tuple(v) for k, v in job["decisions"].items()}
    dedup = DedupFilter(decisions)
    mixer = (Mixer(recipe.mix, {tuple(r[:3]): r[3] for r in job["rates"]}, {tuple(r[:3]): r[4] for r in job["rates"]})
             if recipe.mix else None)
    mix_rows = json.loads((work / f"{name}.meta.json").read_text(encoding="utf-8")) if mixer else None
    suffix = ".jsonl.gz" if recipe.compression == "gzip" else ".jsonl"
    kept = ShardWriter(out / f"{name}{suffix}")
    rej_d = ShardWriter(out / "rejects" / f"{name}.dedup.jsonl")
    rej_m = ShardWriter(out / "rejects" / f"{name}.mix.jsonl")
    dedup.sink, steps = rej_d.write, [dedup]
    if mixer:
        mixer.sink = rej_m.write
        steps.append(mixer)
    # The steps see the rows of the memory-mapped work shard; kept lines are copied in runs
    # straight from it, and only the removed ones are parsed (to stamp their reason).
    work_docs = WorkDocs([ShardFiles(work / name, int(job["n"]))])
    data, span = work_docs.shard(0)

    def copy(lo: int, hi: int) -> None:
        if hi > lo:
            kept.write_block(memoryview(data)[span[lo, 0]:span[hi - 1, 1]], hi - lo)

    try:
        lo = hi = 0  # the current run of kept lines, [lo, hi)
        for row in run_doc_steps(steps, work_docs.rows(0, job["start"], mix_rows)):
            if row.k != hi:
                copy(lo, hi)
                lo = row.k
            hi = row.k + 1
        copy(lo, hi)
    finally:
        work_docs.close()
    for w in (kept, rej_d, rej_m):
        w.close()
    for empty in (rej_d, rej_m):
        if empty.count == 0:
            empty.path.unlink()
    result = {"shard": i, "kept": kept.count, "stats": [s.stats.to_json() for s in steps]}
    atomic_write_text(marker, json.dumps(result))
    return result


def recipe_hash(recipe: Recipe) -> str:
    data = recipe.model_dump(exclude={"engine", "workers", "ray_address"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def run(recipe: Recipe, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run a recipe end to end; returns the merged stats (also written with the report)."""
    out = Path(recipe.output)
    work = out / ".work"
    state = work / "state.json"
    h = recipe_hash(recipe)
    shards = expand_inputs(recipe.inputs, recipe.text_split, split_bytes=int(recipe.split_mb * 1e6))
    if state.exists():
        old = _done(state) or {}
        if not resume:
            raise BimoError(f"{out} already holds a run; pass --resume to finish it, or choose an empty output folder")
        if old.get("recipe_hash") != h:
            raise BimoError(f"{out} was started with a different recipe; --resume needs the same one")
        if old.get("shards") != [s.label for s in shards]:
            raise BimoError(f"the input files changed since {out} was started; --resume needs the same inputs")
    elif out.exists() and any(p.name not in ("rejects",) for p in out.iterdir()):
        raise BimoError(f"output folder {out} is not empty; choose an empty folder")
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    atomic_write_text(state, json.dumps({"recipe_hash": h, "shards": [s.label for s in shards]}))
    rjson = recipe.model_dump()
    common = {"recipe": rjson, "work": str(work), "out": str(out), "resume": resume}
    eng = {"engine": recipe.engine, "workers": recipe.workers, "ray_address": recipe.ray_address}
    res_a = map_shards(stage_a, [{**common, "shard": s.__dict__} for s in shards], **eng,
                       progress="curate: filter" if progress else "")
    counts = [r["n"] for r in res_a]
    t1 = time.perf_counter()
    b = stage_b(recipe, work, counts, resume)
    t2 = time.perf_counter()
    starts = np.cumsum([0, *counts])
    jobs = []
    for i in range(len(shards)):
        lo, hi = int(starts[i]), int(starts[i + 1])
        dec = {k: v for k, v in b["decisions"].items() if lo <= int(k) < hi}
        jobs.append({**common, "index": i, "start": lo, "n": hi - lo, "decisions": dec, "rates": b["rates"]})
    res_c = map_shards(stage_c, jobs, **eng, progress="curate: dedup+mix" if progress else "")
    t3 = time.perf_counter()
    stats = merge_stats([r["stats"] for r in res_a] + [r["stats"] for r in res_c])
    summary = {"shards": len(shards), "input_docs": stats[0].seen if stats else 0,
               "output_docs": sum(r["kept"] for r in res_c), "steps": [s.to_json() for s in stats],
               "seconds": {"filter": round(t1 - t0, 2), "index": round(t2 - t1, 2), "write": round(t3 - t2, 2)}}
    from bimo.curate.report import write_report
    write_report(out, summary, stats, recipe)
    return summary


def merge_stats(per_shard: list[list[dict[str, Any]]]) -> list[DocStepStats]:
    merged: dict[str, DocStepStats] = {}
    for shard in per_shard:
        for d in shard:
            s = DocStepStats.from_json(d)
            if s.name in merged:
                merged[s.name].merge(s)
            else:
                merged[s.name] = s
    return list(merged.values())


def dedup_recipe(inputs: list[str], output: str, **kw: Any) -> Recipe:
    """The recipe behind `bimo curate dedup`: no filters, exact + near dedup with defaults."""
    from bimo.curate.dedup import DedupConfig
    from bimo.curate.recipe import validate_recipe
    dd = {k: v for k, v in kw.items() if k in DedupConfig.model_fields and v is not None}
    other = {k: v for k, v in kw.items() if k not in DedupConfig.model_fields and v is not None}
    return validate_recipe({"inputs": inputs, "output": output, "steps": [], "dedup": dd, **other}, "flags")

