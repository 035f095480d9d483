"""The must-keep / must-drop corpus (`data/messy_corpus.jsonl`) through the documented steps.

Shared by the test and `benchmarks/curate.py --messy`, so the counts in docs/curate.md are the ones
the test checks.
"""

from __future__ import annotations

from bimo.curate.base import run_doc_steps
from bimo.curate.recipe import Recipe

STEPS = [{"normalize": {"t2s": True}}, {"langid": {"keep": ["zh", "en"]}}, {"length": {}}, {"symbols": {}},
         {"repetition": {}}, {"boilerplate": {}}, {"code": {}}, {"badwords": {}}, {"quality": {"threshold": 0.5}},
         {"genre": {}}]


def decide(docs: list[dict]) -> tuple[dict[str, dict], dict[str, str]]:
    """(kept documents by id, rejection reason by id) under the shipped recipe's per-document steps."""
    steps = Recipe(inputs=["-"], output="-", steps=STEPS).build_steps()
    rejected: dict[str, str] = {}
    for s in steps:
        s.sink = lambda d: rejected.__setitem__(d["id"], d["metadata"]["rejected"]["reason"])
    docs = [{**d, "metadata": {"source": d["metadata"]["source"]}} for d in docs]
    kept = {d["id"]: d for d in run_doc_steps(steps, docs)}
    return kept, rejected


def counts(docs: list[dict]) -> dict[str, list[str]]:
    """False rejects and false keeps per language, and kept documents whose coarse genre is wrong."""
    kept, rejected = decide(docs)
    out: dict[str, list[str]] = {"false_reject": [], "false_keep": [], "wrong_genre": []}
    for d in docs:
        m = d["metadata"]
        if m["expect"] == "keep" and d["id"] not in kept:
            out["false_reject"].append(f"{d['id']} ({rejected.get(d['id'])})")
        elif m["expect"] == "drop" and d["id"] in kept:
            out["false_keep"].append(f"{d['id']} (quality {kept[d['id']]['metadata'].get('quality')})")
        elif d["id"] in kept and kept[d["id"]]["metadata"]["genre"] != m["genre"]:
            got = kept[d["id"]]["metadata"]
            out["wrong_genre"].append(f"{d['id']} ({got['genre_fine']})")
    return out
