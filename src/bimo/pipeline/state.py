"""`RUN/pipeline.json`: what each stage did, rewritten atomically after every change.

One record per stage: status (running, done, failed), its folder, the fingerprint of the
settings it ran with, seconds (summed over attempts), outputs (paths relative to the run
folder) and key figures. A crash leaves the last good version of the file, so `--resume`
always knows which stages finished.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import atomic_write_text

STATE_FILE = "pipeline.json"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class RunState:
    """The state file of one run folder."""

    def __init__(self, run_dir: Path, data: dict[str, Any]):
        self.run_dir = run_dir
        self.data = data

    @classmethod
    def open(cls, run_dir: Path, recipe_file: Path, name: str, resume: bool) -> RunState:
        """Start a run in an empty folder, or (with resume) continue the one recorded there."""
        path = run_dir / STATE_FILE
        if path.exists():
            if not resume:
                raise BimoError(f"{run_dir} already holds a pipeline run; pass --resume to continue it, "
                                "or choose another output folder")
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise BimoError(f"{path} is unreadable; start a new run folder") from None
            data.setdefault("stages", {})
            data["recipe"] = str(recipe_file)
            return cls(run_dir, data)
        if run_dir.exists() and any(run_dir.iterdir()):
            if resume:
                raise BimoError(f"{run_dir} is not a pipeline run folder (no {STATE_FILE}); nothing to resume")
            raise BimoError(f"output folder {run_dir} is not empty; choose an empty or new folder")
        run_dir.mkdir(parents=True, exist_ok=True)
        state = cls(run_dir, {"name": name, "recipe": str(recipe_file), "created": _now(), "stages": {}})
        state.save()
        return state

    @property
    def path(self) -> Path:
        return self.run_dir / STATE_FILE

    def save(self) -> None:
        self.data["updated"] = _now()
        atomic_write_text(self.path, json.dumps(self.data, ensure_ascii=False, indent=2) + "\n")

    def stage(self, name: str) -> dict[str, Any] | None:
        return self.data["stages"].get(name)

    def start(self, name: str, folder: str, fingerprint: str) -> dict[str, Any]:
        rec = self.data["stages"].setdefault(name, {"seconds": 0.0, "attempts": 0})
        rec.update(status="running", dir=folder, fingerprint=fingerprint, started=_now(),
                   attempts=int(rec.get("attempts", 0)) + 1)
        rec.pop("error", None)
        self.save()
        return rec

    def finish(self, name: str, seconds: float, outputs: dict[str, Any], figures: dict[str, Any],
               summary: str) -> None:
        rec = self.data["stages"][name]
        rec.update(status="done", finished=_now(), seconds=round(float(rec.get("seconds", 0)) + seconds, 2),
                   outputs=outputs, figures=figures, summary=summary)
        self.save()

    def fail(self, name: str, seconds: float, error: str) -> None:
        rec = self.data["stages"][name]
        rec.update(status="failed", seconds=round(float(rec.get("seconds", 0)) + seconds, 2), error=error[:500])
        self.save()

    def outputs(self, name: str) -> dict[str, Any]:
        """Outputs of a finished earlier stage."""
        rec = self.stage(name)
        if not rec or rec.get("status") != "done":
            raise BimoError(f"stage {name} has not finished in {self.run_dir}")
        return rec.get("outputs") or {}
