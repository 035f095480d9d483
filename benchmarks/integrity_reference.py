"""Integrity measures on human long texts, the reference for the thresholds.

    python benchmarks/integrity_reference.py [FILE ...] [--long-docs DOCS.jsonl]

Without arguments it measures long human texts found on a Debian system with Python:
the vim tutor in Chinese and English (a translated pair of instructional prose), the GNU
GPL-3 and Python's own LICENSE. Prints one Markdown row per text. `--long-docs` takes the
output of `bimo curate long-docs` (thousands of human long texts, zh and en) and prints, per
source, the mean, 95th percentile and maximum of each share and how many texts a default
threshold would flag.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from bimo.integrity import measure
from bimo.io import read_jsonl

DEFAULTS = [
    "/usr/share/vim/vim90/tutor/tutor.zh_cn.utf-8",
    "/usr/share/vim/vim90/tutor/tutor",
    "/usr/share/common-licenses/GPL-3",
    "/usr/lib/python3.11/LICENSE.txt",
]


def long_docs(path: Path) -> dict:
    """Per source: mean / p95 / max of the repetition shares and the texts a default threshold flags."""
    by: dict[str, list] = {}
    for doc in read_jsonl(path):
        by.setdefault(doc.get("metadata", {}).get("source", "?"), []).append(measure(doc["text"]))
    out = {}
    print("\n| source | texts | repeated 8-grams mean / p95 / max | near repeats mean / p95 / max | "
          "lines about the writing | flagged by the defaults |\n|---|---|---|---|---|---|")
    for src, ms in sorted(by.items()):
        row = {"n": len(ms)}
        cells = []
        for key in ("repeated_share", "near_repeats"):
            v = sorted(getattr(m, key) for m in ms)
            row[key] = [round(statistics.mean(v), 4), round(v[max(0, int(0.95 * len(v)) - 1)], 4), round(v[-1], 4)]
            cells.append(" / ".join(f"{x:.1%}" for x in row[key]))
        row["scaffolding"] = sum(len(m.scaffolding) for m in ms)
        row["flagged"] = sum(bool(m.flags()) for m in ms)
        print(f"| {src} | {len(ms)} | {cells[0]} | {cells[1]} | {row['scaffolding']} | {row['flagged']} |")
        out[src] = row
    return out


def main() -> None:
    args = sys.argv[1:]
    docs = None
    if "--long-docs" in args:
        i = args.index("--long-docs")
        docs = Path(args[i + 1])
        args = args[:i] + args[i + 2:]
    files = args or [f for f in DEFAULTS if Path(f).exists()]
    print("| text | units | repeated 8-grams | longest repeat | repeated sentences | near repeats | scaffolding | "
          "last new 8-gram | effective length | leaks | ending |\n|---|---|---|---|---|---|---|---|---|---|---|")
    summary: dict = {"benchmark": "integrity_reference", "texts": {}}
    for f in files:
        m = measure(Path(f).read_text(encoding="utf-8", errors="replace"))
        print(f"| {f} | {m.units} | {m.repeated_share:.1%} | {m.longest_repeat} | {m.repeated_sentences:.1%} | "
              f"{m.near_repeats:.1%} | {len(m.scaffolding)} | {m.last_new:.2f} | {m.effective_length} | "
              f"{len(m.leaks)} | {m.ending or 'finished'} |")
        summary["texts"][f] = {"units": m.units, **m.summary()}
    if docs is not None:
        summary["long_docs"] = long_docs(docs)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
