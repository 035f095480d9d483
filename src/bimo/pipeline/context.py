"""What a stage gets (its folder, the recipe, earlier stages' outputs) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bimo.pipeline.recipe import PipelineRecipe
from bimo.pipeline.state import RunState


@dataclass
class StageResult:
    """Outputs (paths relative to the run folder where inside it), figures for pipeline.json,
    and one short line for the summary table."""

    outputs: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


@dataclass
class StageContext:
    recipe: PipelineRecipe
    state: RunState
    name: str
    dir: Path
    #: the stage was started before and did not finish: continue it with its own resume
    resume: bool = False

    @property
    def run_dir(self) -> Path:
        return self.state.run_dir

    def rel(self, path: Path) -> str:
        """A path as stored in pipeline.json: relative to the run folder when inside it."""
        path = Path(path)
        try:
            return str(path.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            return str(path)

    def path(self, stored: str) -> Path:
        """The inverse of `rel`."""
        p = Path(stored)
        return p if p.is_absolute() else self.run_dir / p

    def output(self, stage: str, key: str) -> Any:
        return self.state.outputs(stage)[key]

    def earlier(self, *stages: str) -> str | None:
        """The last of `stages` that runs before this one in the recipe, if any."""
        before = self.recipe.stages[: self.recipe.stages.index(self.name)]
        found = [s for s in before if s in stages]
        return found[-1] if found else None
