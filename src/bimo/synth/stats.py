"""Dataset statistics: counts per task/domain/language/principle, length histograms,
rejection reasons (from the errors file next to the data), and the calibration of the
judge that scored or ranked the data when the run kept one (`OUT.judge.json`), as
Markdown plus a PNG."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bimo.extras import installed
from bimo.io import atomic_save_figure, atomic_write_text, iter_jsonl
from bimo.runner import errors_path, reason_class
from bimo.synth.records import kind, last_assistant
from bimo.text import count_length

FIELDS = ("task", "domain", "lang", "principle", "tool", "chosen_model")
#: fields the errors file carries too, so a kept rate can be given per value
RATE_FIELDS = ("task", "domain", "lang", "principle")


def score_bin(score: float) -> int:
    """The tenth of [0, 1] a self-curation score falls in (0-9)."""
    return min(9, max(0, int(float(score) * 10)))


def collect(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    bad: list[str] = []
    counts: dict[str, Counter] = {f: Counter() for f in FIELDS}
    kinds: Counter = Counter()
    lengths: list[int] = []
    rejected_lengths: list[int] = []
    n = 0
    for rec in iter_jsonl(path, bad):
        n += 1
        k = kind(rec)
        kinds[k] += 1
        meta = rec.get("meta") or {}
        for f in FIELDS:
            if meta.get(f) not in (None, ""):
                counts[f][str(meta[f])] += 1
        if k == "sft":
            lengths.append(count_length(last_assistant(rec["messages"])))
        else:
            lengths.append(count_length(last_assistant(rec["chosen"])))
            rejected_lengths.append(count_length(last_assistant(rec["rejected"])))
    reasons: Counter = Counter()
    rejected: dict[str, Counter] = {f: Counter() for f in RATE_FIELDS}
    scores = {"kept": Counter(), "rejected": Counter()}
    for rec in iter_jsonl(path, []):
        if (rec.get("meta") or {}).get("score") is not None:
            scores["kept"][score_bin(rec["meta"]["score"])] += 1
    err = errors_path(path)
    if err.exists():
        for row in iter_jsonl(err, []):
            reasons[reason_class(str(row.get("reason", "")))] += 1
            detail = row.get("detail")
            for f in RATE_FIELDS:
                value = row.get(f) or (detail.get(f) if isinstance(detail, dict) else None)
                if value:
                    rejected[f][str(value)] += 1
            if isinstance(detail, dict) and detail.get("score") is not None:
                scores["rejected"][score_bin(detail["score"])] += 1
    from bimo.synth.calibration import recorded_calibration

    return {"path": str(path), "records": n, "calibration": recorded_calibration(path), "kinds": kinds, "counts": counts, "lengths": lengths,
            "rejected_lengths": rejected_lengths, "reasons": reasons, "bad_lines": len(bad),
            "rejected": rejected, "scores": scores}


def markdown(s: dict[str, Any], png_name: str | None) -> str:
    lines = [f"# Statistics for `{Path(s['path']).name}`", "",
             f"- records: {s['records']} ({', '.join(f'{k} {v}' for k, v in s['kinds'].items()) or 'none'})",
             f"- unreadable lines: {s['bad_lines']}",
             f"- rejected (errors file): {sum(s['reasons'].values())}"]
    if s["lengths"]:
        ls = sorted(s["lengths"])
        name = "chosen length" if s["rejected_lengths"] else "answer length"
        lines.append(f"- {name}: min {ls[0]}, median {ls[len(ls) // 2]}, max {ls[-1]}")
    if s["rejected_lengths"]:
        # Preference data: a judge that prefers the longer answer teaches length, not quality.
        rs = sorted(s["rejected_lengths"])
        pairs = list(zip(s["lengths"], s["rejected_lengths"], strict=True))
        longer = sum(c > r for c, r in pairs)
        shorter = sum(c < r for c, r in pairs)
        lines.append(f"- rejected length: min {rs[0]}, median {rs[len(rs) // 2]}, max {rs[-1]}")
        lines.append(f"- chosen vs rejected: chosen longer in {longer} of {len(pairs)} pairs "
                     f"({longer / len(pairs):.0%}), shorter in {shorter}, equal in {len(pairs) - longer - shorter}; "
                     f"mean length {sum(s['lengths']) / len(pairs):.0f} vs {sum(rs) / len(pairs):.0f}")
    for f in FIELDS:
        if s["counts"][f]:
            lines += ["", f"## By {f}", "", f"| {f} | records |", "|---|---:|"]
            lines += [f"| {k} | {v} |" for k, v in s["counts"][f].most_common()]
    for f in RATE_FIELDS:
        if s["rejected"][f]:
            keys = sorted(set(s["counts"][f]) | set(s["rejected"][f]))
            lines += ["", f"## Kept rate by {f}", "", f"| {f} | kept | rejected | kept rate |", "|---|---:|---:|---:|"]
            for k in keys:
                kept, rej = s["counts"][f][k], s["rejected"][f][k]
                lines.append(f"| {k} | {kept} | {rej} | {100 * kept / max(1, kept + rej):.0f}% |")
    if s["scores"]["kept"] or s["scores"]["rejected"]:
        lines += ["", "## Self-curation scores (P(yes))", "", "| score | kept | rejected |", "|---:|---:|---:|"]
        lines += [f"| {n / 10:.1f}–{(n + 1) / 10:.1f} | {s['scores']['kept'][n]} | {s['scores']['rejected'][n]} |"
                  for n in range(10)]
    cal = s.get("calibration")
    if cal:  # the judge that scored or ranked this data, as `bimo eval calibrate` measured it
        lines += ["", "## Judge calibration", "", f"- {cal['line'].removeprefix('judge calibration: ')}"]
        if cal.get("source"):
            lines.append(f"- calibration file: `{cal['source']}`")
        if cal.get("warning"):
            lines.append(f"- warning: {cal['warning']}")
    if s["reasons"]:
        lines += ["", "## Rejection reasons", "", "| reason | count |", "|---|---:|"]
        lines += [f"| {k.replace('|', '/')} | {v} |" for k, v in s["reasons"].most_common()]
    if png_name:
        lines += ["", f"![length histogram]({png_name})"]
    return "\n".join(lines) + "\n"


def plot(s: dict[str, Any], png: Path) -> bool:
    """Write the length histogram; False when there is nothing to plot or no matplotlib
    (the Markdown is still written; the CLI says which extra brings the plot)."""
    if not s["lengths"] or not installed("matplotlib"):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(s["lengths"], bins=30, alpha=0.7, label="chosen" if s["rejected_lengths"] else "answer")
    if s["rejected_lengths"]:
        ax.hist(s["rejected_lengths"], bins=30, alpha=0.5, label="rejected")
    ax.set(xlabel="length (CJK characters + English words)", ylabel="records")
    ax.legend()
    fig.tight_layout()
    atomic_save_figure(fig, png, dpi=100)
    plt.close(fig)
    return True


def write_stats(path: str | Path, out_dir: str | Path | None = None) -> tuple[Path, Path | None]:
    """Write NAME.stats.md (and NAME.stats.png) next to the data or in `out_dir`."""
    path = Path(path)
    s = collect(path)
    base = Path(out_dir) if out_dir else path.parent
    base.mkdir(parents=True, exist_ok=True)
    stem = path.name.removesuffix(".gz").removesuffix(".jsonl")
    png = base / f"{stem}.stats.png"
    has_png = plot(s, png)
    md = base / f"{stem}.stats.md"
    atomic_write_text(md, markdown(s, png.name if has_png else None))
    return md, png if has_png else None
