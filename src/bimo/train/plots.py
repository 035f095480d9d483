"""Loss and reward curves from a trainer's log history, saved as PNG (matplotlib Agg, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bimo.io import atomic_save_figure

CURVES = {
    "loss.png": ["loss"],
    "rewards.png": ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"],
}


def save_curves(history: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One PNG per curve group that has data; returns the files written (none if matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for fname, keys in CURVES.items():
        series = {k: [(h["step"], h[k]) for h in history if k in h and "step" in h] for k in keys}
        series = {k: v for k, v in series.items() if v}
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, pts in series.items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, marker="." if len(pts) < 50 else None)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / fname
        atomic_save_figure(fig, path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
