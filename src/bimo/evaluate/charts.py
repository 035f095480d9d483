"""Matplotlib (Agg) charts for the report; each function writes one PNG and returns its path."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bimo.io import atomic_save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Missing CJK glyphs only affect labels; do not flood the console.
    warnings.filterwarnings("ignore", message=".*Glyph.*missing from font.*")
    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)
    _plt().close(fig)
    return path


def ratings_chart(res: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    rows = list(reversed(res["ratings"]))
    y = np.arange(len(rows))
    r = np.array([x["rating"] for x in rows])
    lo = np.array([x["lower"] for x in rows])
    hi = np.array([x["upper"] for x in rows])
    err = np.vstack([np.nan_to_num(r - lo), np.nan_to_num(hi - r)])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.5))
    ax.errorbar(r, y, xerr=err, fmt="o", capsize=4)
    ax.axvline(1000, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, [x["model"] for x in rows])
    ax.set_xlabel(f"rating (Elo scale, {res['baseline']} = 1000), 95% CI")
    return _save(fig, path)


def winrate_heatmap(models: list[str], mat: np.ndarray, path: Path) -> Path:
    plt = _plt()
    n = len(models)
    fig, ax = plt.subplots(figsize=(0.7 * n + 3, 0.6 * n + 2))
    im = ax.imshow(np.ma.masked_invalid(mat), cmap="RdYlGn", vmin=0, vmax=1)
    ax.set_xticks(range(n), models, rotation=45, ha="right")
    ax.set_yticks(range(n), models)
    for i in range(n):
        for j in range(n):
            if not np.isnan(mat[i, j]):
                ax.text(j, i, f"{mat[i, j]:.0%}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="win rate (row vs column)")
    return _save(fig, path)


def dimension_chart(rows: list[dict[str, Any]], rubric: str, path: Path) -> Path:
    plt = _plt()
    dims = list(rows[0]["dimensions"])
    x = np.arange(len(dims))
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(dims)), 4))
    for k, row in enumerate(rows):
        ax.bar(x + k * width, [row["dimensions"].get(d, np.nan) for d in dims], width, label=row["model"])
    ax.set_xticks(x + 0.4 - width / 2, dims, rotation=20)
    ax.set(ylabel="mean score", title=f"{rubric}: mean score per dimension")
    ax.legend(fontsize=8)
    return _save(fig, path)


def group_heatmap(judgments: list[dict[str, Any]], field: str, title: str, path: Path) -> Path:
    plt = _plt()
    models = sorted({j["model"] for j in judgments})
    groups = sorted({str(j.get(field, "?")) for j in judgments})
    total = np.zeros((len(models), len(groups)))
    count = np.zeros_like(total)
    for j in judgments:
        mi, gi = models.index(j["model"]), groups.index(str(j.get(field, "?")))
        total[mi, gi] += j["overall"]
        count[mi, gi] += 1
    with np.errstate(invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    fig, ax = plt.subplots(figsize=(0.8 * len(groups) + 3, 0.5 * len(models) + 2))
    im = ax.imshow(np.ma.masked_invalid(mean), cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(groups)), groups, rotation=45, ha="right")
    ax.set_yticks(range(len(models)), models)
    for i in range(len(models)):
        for k in range(len(groups)):
            if count[i, k]:
                ax.text(k, i, f"{mean[i, k]:.1f}", ha="center", va="center", fontsize=8, color="w")
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    return _save(fig, path)


def length_chart(by_model: dict[str, dict[str, Any]], path: Path) -> Path:
    plt = _plt()
    from bimo.evaluate.length import BUCKETS, bucket_label

    buckets = [bucket_label(lo, hi, i == len(BUCKETS) - 1) for i, (lo, hi) in enumerate(BUCKETS)]
    x = np.arange(len(buckets))
    width = 0.8 / max(1, len(by_model))
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, (name, res) in enumerate(by_model.items()):
        vals = [res["buckets"].get(b, {}).get("s_l", np.nan) for b in buckets]
        ax.bar(x + k * width, vals, width, label=f"{name} (S_l {res['s_l']:.1f})")
    ax.set_xticks(x + 0.4 - width / 2, buckets)
    ax.set(ylim=(0, 100), xlabel="required length", ylabel="S_l")
    ax.legend(fontsize=8)
    return _save(fig, path)


def calibration_chart(summary: dict[str, Any], path: Path) -> Path:
    """Agreement with the human (or known) label and its 95% interval, judges next to the baselines."""
    plt = _plt()
    rows = [(r["judge"], r.get("agreement")) for r in summary["judges"] if r.get("pairs")]
    rows += [(name.replace("_", " "), b.get("agreement")) for name, b in summary.get("baselines", {}).items()]
    rows = [(n, a) for n, a in rows if a and a.get("rate") is not None]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.5))
    y = np.arange(len(rows))
    rate = np.array([a["rate"] for _, a in rows])
    lo = np.array([a["ci"][0] for _, a in rows])
    hi = np.array([a["ci"][1] for _, a in rows])
    ax.barh(y, rate, xerr=np.vstack([rate - lo, hi - rate]), capsize=4,
            color=["#4c72b0"] * (len(rows) - len(summary.get("baselines", {}))) + ["#bbbbbb"] * len(summary.get("baselines", {})))
    ax.set_yticks(y, [n for n, _ in rows])
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="agreement with the label (both orders; 95% CI)")
    return _save(fig, path)


def repetition_chart(by_model: dict[str, dict[str, Any]], path: Path) -> Path:
    """Repeated 8-gram share per tenth of the text, averaged over each model's records:
    looping shows as a curve that rises towards the end."""
    plt = _plt()
    from bimo.evaluate.length import mean_curve

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, res in by_model.items():
        curve = mean_curve(res["records"])
        if curve:
            ax.plot(np.arange(5, 100, 10), [100 * v for v in curve], marker="o",
                    label=f"{name} (mean {100 * res['repeated_share']:.1f}%)")
    ax.set(xlim=(0, 100), ylim=(0, 100), xlabel="position in the text (%)", ylabel="repeated 8-grams (%)")
    ax.legend(fontsize=8)
    return _save(fig, path)
