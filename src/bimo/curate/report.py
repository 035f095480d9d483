"""Report: per-step kept/removed counts with reasons, score histograms and
rejection examples, as `report.md` + PNG plots (matplotlib, Agg) + `stats.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bimo.curate.base import N_BINS, DocStepStats
from bimo.io import atomic_save_figure, atomic_write_text


def _plots(out: Path, stats: list[DocStepStats]) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    fig, ax = plt.subplots(figsize=(8, 3.5))
    names = [s.name for s in stats]
    ax.bar(names, [s.kept for s in stats], label="kept")
    ax.bar(names, [s.removed for s in stats], bottom=[s.kept for s in stats], label="removed")
    ax.set_ylabel("documents")
    ax.legend()
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    atomic_save_figure(fig, out / "steps.png", dpi=90)
    plt.close(fig)
    made.append("steps.png")
    for s in stats:
        for key, hist in s.hists.items():
            fig, ax = plt.subplots(figsize=(5, 3))
            ax.bar([(i + 0.5) / N_BINS for i in range(N_BINS)], hist, width=1 / N_BINS)
            ax.set_title(f"{s.name}: {key}")
            ax.set_xlabel(key)
            ax.set_ylabel("documents")
            fig.tight_layout()
            name = f"hist_{s.name}_{key}.png"
            atomic_save_figure(fig, out / name, dpi=90)
            plt.close(fig)
            made.append(name)
    return made


def write_report(out: Path, summary: dict[str, Any], stats: list[DocStepStats], recipe: Any = None) -> Path:
    out = Path(out)
    plots_dir = out / "report"
    plots_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "stats.json", json.dumps(summary, ensure_ascii=False, indent=1))
    pngs = _plots(plots_dir, stats)
    lines = ["# Curation report / 清洗报告", "",
             f"Input documents: **{summary['input_docs']}** · output documents: **{summary['output_docs']}** "
             f"· shards: {summary['shards']}", "",
             "| step | seen | kept | removed | removed % |", "| --- | ---: | ---: | ---: | ---: |"]
    for s in stats:
        pct = 100 * s.removed / s.seen if s.seen else 0.0
        lines.append(f"| {s.name} | {s.seen} | {s.kept} | {s.removed} | {pct:.1f} |")
    lines += ["", "Rejected documents are in `rejects/` with `metadata.rejected = {step, reason}`.", ""]
    for s in stats:
        if not (s.reasons or s.tags):
            continue
        lines += [f"## {s.name}", ""]
        if s.tags:
            lines.append("Tags: " + ", ".join(f"{k}: {v}" for k, v in sorted(s.tags.items())))
            lines.append("")
        for reason, n in s.reasons.most_common():
            lines.append(f"- **{reason}**: {n}")
            for ex in s.examples.get(reason, []):
                snippet = ex["text"][:120].replace("\n", " ⏎ ").replace("|", "\\|")
                lines.append(f"  - `{ex['id']}` ({ex['reason']}): {snippet}")
        lines.append("")
    if pngs:
        lines += ["## Plots", ""] + [f"![{p}](report/{p})" for p in pngs]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return out / "report.md"
