"""Backward model vs prompted generator on the same held-out documents (prints figures; not a test).

Both runs use `--model` to describe the passages and score the pairs, and the same checks;
only the writer of the instruction differs: the prompted three-step generator (`--model`,
`--tasks-per-doc` tasks per document) or the trained backward model (`--backward`, one
request per document). Reported per generator: pairs tried and kept (kept rate), kept pairs
per document, rejects per reason, and the mean grounding share of the kept pairs (the share
of the instruction's content words found in the passage, a faithfulness proxy; the
self-curation score is the model's own judgement), and seconds apart for describing (the
second run gets the same descriptions from the request cache) and for writing, checking and
scoring. The documents are the frozen held-out set
(benchmarks/data/synth_heldout.jsonl), taken in turn from each (language, form) group.

    .venv/bin/python benchmarks/backward_vs_prompted.py --backward gguf:runs/back.gguf [--model local:default]
        [--docs 20] [--tasks-per-doc 2] [--max-tokens 1024] [--max-chars 1200] [--retries 0] [--keep DIR]

The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bimo.io import iter_jsonl
from bimo.runner import RunConfig, errors_path, reason_class
from synth import heldout_docs


def figures(out: Path, docs: int, describe_seconds: float, write_seconds: float) -> dict[str, Any]:
    """Kept rate, kept pairs per document, rejects per reason and mean grounding of one run."""
    from bimo.synth.backtranslate import plan_path

    def rows(path: Path) -> list[dict[str, Any]]:
        return list(iter_jsonl(path)) if path.exists() else []

    kept, rejects, plan_rejects = rows(out), rows(errors_path(out)), rows(errors_path(plan_path(out)))
    tried = len(kept) + len(rejects)
    grounding = [float(r["meta"].get("grounding", 0)) for r in kept]
    return {"documents": docs, "documents_not_described": len(plan_rejects), "pairs_tried": tried,
            "pairs_kept": len(kept), "kept_rate": round(len(kept) / tried, 3) if tried else None,
            "kept_per_document": round(len(kept) / docs, 3) if docs else None,
            "grounding_mean": round(sum(grounding) / len(grounding), 3) if grounding else None,
            "rejects": dict(Counter(reason_class(str(r.get("reason", ""))) for r in rejects).most_common()),
            "describe_seconds": round(describe_seconds, 1), "write_seconds": round(write_seconds, 1)}


def run(generator: str, model, rows: list[dict], folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    from bimo.synth.backtranslate import BacktranslateConfig, run_backtranslate

    settings: dict[str, Any] = {"max_tokens": args.max_tokens, "max_source_chars": args.max_chars}
    if generator == "prompted":
        settings.update(tasks_per_doc=args.tasks_per_doc, examples=args.examples)
    else:
        settings["generator"] = generator
    out = folder / f"{'prompted' if generator == 'prompted' else 'backward'}.jsonl"
    described, pairs = run_backtranslate(model, rows, out, BacktranslateConfig(**settings),
                                         RunConfig(progress=True, overwrite=True, retries=args.retries))
    return figures(out, len(rows), described.seconds, pairs.seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backward", required=True, help="URI of the trained backward model (gguf:PATH, local:NAME)")
    ap.add_argument("--model", default="local:default", help="describes, scores, and is the prompted generator")
    ap.add_argument("--docs", type=int, default=20, help="held-out documents")
    ap.add_argument("--tasks-per-doc", type=int, default=2, help="the prompted generator's tasks per document")
    ap.add_argument("--examples", type=int, default=2, help="annotated examples per prompted prompt")
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--max-chars", type=int, default=1200, help="longest source passage shown")
    ap.add_argument("--retries", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="keep outputs and errors files in this folder")
    args = ap.parse_args()

    from bimo.llm import get_backend
    from bimo.synth.backtranslate import check_generator

    check_generator(args.backward, "--backward")
    rows = heldout_docs(args.docs)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bimo-backward-"))
    folder.mkdir(parents=True, exist_ok=True)
    model = get_backend(args.model)
    try:
        result = {name: run(gen, model, rows, folder, args)
                  for name, gen in (("prompted", "prompted"), ("backward", args.backward))}
    finally:
        model.close()
    print(f"{len(rows)} held-out documents; {args.model} describes and scores; outputs in {folder}")
    for name, f in result.items():
        print(f"{name:>9}: {f['pairs_kept']}/{f['pairs_tried']} pairs kept ({f['kept_rate']}), "
              f"{f['kept_per_document']} per document, mean grounding {f['grounding_mean']}, "
              f"{f['write_seconds']} s to write, check and score; "
              f"rejects: {f['rejects']}")
    print("(the backward run reuses the prompted run's descriptions from the request cache: compare write seconds)")
    print(json.dumps({"model": args.model, "backward_model": args.backward, "documents": len(rows), **result},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
