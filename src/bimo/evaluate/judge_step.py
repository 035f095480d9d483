"""The judge as a runner step: its settings, and the step every judging command builds on.

Judge runs use `bimo.runner` like every synthesis stage: bounded concurrency,
resumable output, failures in the `.errors.jsonl` twin with their reasons, and a
progress bar. What is particular to judging lives here:

* `JudgeSettings`: judge URI, temperature, seed and retries, and the pairwise judge's
  options (samples per order, both orders, a rubric per writing type), recorded with every verdict;
* `JudgeStep`: calls the judge through `GenerationStep.generate` with a strict verdict parser as
  its `parse`. A malformed answer is a `Reject`, so the runner retries the record with
  the next seed (the same seed would replay the cached answer), and after the last try
  records it as failed with the reason and the raw answer in `detail`. A verdict is
  never filled in by default;
* `judge_run_config`: judge runs always resume (an output file accumulates), and
  items that failed before are tried again on the next run.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

from bimo.llm.base import GenParams
from bimo.runner import GenerationStep, RunConfig


def default_judge() -> str:
    """$BIMO_JUDGE, read when a judge is chosen (not at import, so a change is seen), else
    the embedded default model: judging needs no server."""
    return os.environ.get("BIMO_JUDGE") or "local:default"


class JudgeSettings(BaseModel):
    """How the judge is called; recorded with every verdict."""

    judge: str = Field(default_factory=default_judge)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    seed: int = 1
    retries: int = Field(2, ge=0, description="extra tries after a malformed answer")
    # 1 is a verdict read from one token's probabilities (the synth self-curation scorer); the CLI asks ≥ 16
    max_tokens: int = Field(768, ge=1)
    # Ways to make a weak pairwise judge steadier, each switched on by itself (see pairjudge.py).
    samples: int = Field(1, ge=1, description="verdicts per order, by majority vote (a split vote is a tie)")
    both_orders: bool = Field(True, description="judge each pair in both orders; an order-dependent verdict is a tie")
    rubric_type: str | None = Field(None, description="None: the general criteria; 'auto': the pair's writing type "
                                                     "picks its rubric when one exists; a type: its rubric for every pair")


def judge_run_config(settings: JudgeSettings, progress: bool = False) -> RunConfig:
    """Runner settings for a judge run: resume, retry earlier failures, `settings.retries` extra tries."""
    return RunConfig(resume=True, retry_failed=True, retries=settings.retries, progress=progress)


class JudgeStep(GenerationStep):
    """A runner step that calls the judge. Subclasses write `process(record, attempt)`
    with one or more `generate(..., parse=...)` calls; attempt n uses seed `settings.seed + n`."""

    name = "judge"

    def __init__(self, backend: Any, settings: JudgeSettings):
        super().__init__(backend, GenParams(temperature=settings.temperature, max_tokens=settings.max_tokens,
                                            seed=settings.seed))
        self.settings = settings

    def binding(self) -> dict[str, Any]:
        """The judge (its backend's URI, else the configured one) and the judge settings."""
        return {**super().binding(), "model": getattr(self.backend, "uri", "") or self.settings.judge}

    def context(self) -> dict[str, Any]:
        """Who judged, recorded with every verdict and every failure."""
        return {"judge": self.settings.judge, "judge_temperature": self.settings.temperature}
