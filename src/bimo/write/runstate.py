"""What a long-form run is bound to and what it keeps: its settings, its seeds, its state.

A run folder's `state.json` (`RunState`) holds the instruction, the settings and model it
was started with (its binding), the plan, every finished section and the counters; the
writer saves it after every section, so a killed run resumes where it stopped. Each kind
of model call gets its own seed (`SeedSchedule`), so a seeded run writes the same text
every time it is run or resumed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_serializer, field_validator

from bimo.errors import BimoError, validation_line
from bimo.runner import attempt_seed
from bimo.text import count_length
from bimo.write.lengthreq import check_length, required_length
from bimo.write.plan import Plan, continues


class LongformConfig(BaseModel):
    """The settings of a run; every one of them is in its binding, so a resume cannot change them."""

    length: int
    lang: str | None = None
    parallel: int = Field(1, ge=1, le=64)
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    section_size: int = Field(500, ge=100, le=2000, description="typical section length")
    max_continuations: int = Field(3, ge=0, le=10)
    context: Literal["points", "summary", "full"] = Field(
        "points", description="what a section sees of the text before it: the points already covered and the "
        "last paragraph verbatim (points), plus a running summary (summary), or the whole text (full)")
    max_repeat_retries: int = Field(2, ge=0, le=5, description="re-asks after a piece that repeats earlier text")
    copy_run: int = Field(16, ge=0, le=200, description="a piece is stopped as soon as a sentence opens by copying "
                          "this many units (characters, words) of the text so far, not when it ends (0: off; "
                          "measured in docs/write.md)")
    dry: bool = Field(False, description="the DRY sampler on every section piece where the backend has it, "
                      "not only on re-asks after a repeated piece: fewer verbatim repeats, more restatements")

    @field_validator("copy_run")
    @classmethod
    def _copy_run_is_off_or_an_8gram(cls, v: int) -> int:
        if 0 < v < 8:
            raise ValueError("copy_run must be 0 (off) or at least 8 (copies are found by their 8-grams)")
        return v

    @classmethod
    def for_prompt(cls, prompt: str, length: int | None = None, *, default: int | None = None,
                   **settings: Any) -> LongformConfig:
        """Settings for one prompt, at its `required_length` (checked: a one-line error when
        absurd or missing); `settings` are the other fields."""
        return cls(length=check_length(int(required_length(prompt, length, default) or 0)), **settings)


@dataclass(frozen=True)
class SeedSchedule:
    """Which seed each model call of a run gets: the run's seed plus a fixed offset per kind of
    call, so a seeded run is reproducible call for call and every retry samples anew.

    The offsets are part of what a seeded run writes: changing one changes the text (and the
    cached answers) of every seeded run. Without a seed every call gets None.
    """

    seed: int | None

    def _plus(self, offset: int) -> int | None:
        return attempt_seed(self.seed, 0, salt=offset)

    def plan(self, attempt: int) -> int | None:
        """The plan (asked at most twice)."""
        return self._plus(attempt)

    def piece(self, section: int, k: int, redo: bool = False) -> int | None:
        """The k-th piece of a section (draft, continuations, re-asks); `redo` when the whole
        section is written again because it restated an earlier one."""
        return self._plus(section + (50 if redo else 0) + 100 * k)

    def bridge(self, section: int) -> int | None:
        """Parallel mode: the transition opening a section."""
        return self._plus(500 + section)

    def leak_fix(self, sentence: int) -> int | None:
        """The rewrite of a sentence with a language leak (numbered within its section)."""
        return self._plus(700 + sentence)

    def summary(self, section: int) -> int | None:
        """The short summary of a finished section (contexts "summary" and "full")."""
        return self._plus(900 + section)


class TokenUse(BaseModel):
    """Where a run's generated (completion) tokens went, so the cost of regeneration is
    measured, not guessed.

    The first group adds up to `RunState.tokens`: section tokens whose text is in the
    output (`kept`), or thrown away — as a repeat of earlier text or a line cleaned away
    (`repeat`), an empty answer (`empty`), the losing copy of a section written twice
    because it restated an earlier one (`redo`), cut to length (`cut`), a dangling ending
    trimmed (`ending`), a section still being written when the run stopped (`interrupted`:
    in parallel mode a checkpoint can come while other sections are half written) — and the
    calls that write no section text (`plan`, `summary`, `bridge`, `leak_fix`). A piece's tokens are shared between kept and dropped text in
    proportion to their length units. The second group is the same section tokens by the
    kind of call: the first piece of a section, a plain continuation, a re-ask after a
    repeated piece (other seed, anti-repetition sampling), a new sub-point.
    """

    kept: int = 0
    repeat: int = 0
    empty: int = 0
    redo: int = 0
    cut: int = 0
    ending: int = 0
    plan: int = 0
    summary: int = 0
    bridge: int = 0
    leak_fix: int = 0
    interrupted: int = 0
    draft: int = 0
    continuation: int = 0
    retry: int = 0
    new_point: int = 0
    #: pieces stopped while streaming because their last sentences only repeated (a loop)
    stopped_loops: int = 0

    WASTE: ClassVar[tuple[str, ...]] = ("repeat", "empty", "redo", "cut", "ending", "interrupted")
    FATES: ClassVar[tuple[str, ...]] = ("kept", *WASTE, "plan", "summary", "bridge", "leak_fix")

    def total(self) -> int:
        """Every generated token (equals `RunState.tokens`)."""
        return sum(getattr(self, k) for k in self.FATES)

    def wasted(self) -> int:
        """Tokens generated as section text that is not in the output."""
        return sum(getattr(self, k) for k in self.WASTE)

    def add(self, other: TokenUse) -> None:
        for k in type(self).model_fields:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def move(self, to: str, tokens: int) -> None:
        """Count `tokens` of the kept ones as thrown away for reason `to` (never below zero)."""
        tokens = max(0, min(self.kept, tokens))
        self.kept -= tokens
        setattr(self, to, getattr(self, to) + tokens)

    def line(self) -> str:
        """One line for a report: each place tokens went, with its share of the total."""
        total = max(1, self.total())
        parts = [f"{k} {getattr(self, k)} ({getattr(self, k) / total:.0%})" for k in self.FATES if getattr(self, k)]
        return ", ".join(parts) + f"; {self.stopped_loops} loops stopped early"


class SectionText(BaseModel):
    """A finished section. `length` is measured when it is written or cut; parallel mode's
    transition is put in front of the text once (`bridged`) without changing it."""

    text: str
    length: int
    bridged: bool = False


class RunState(BaseModel):
    """A run folder's `state.json`: what resuming needs, and what the run was made with.

    `sections` has one slot per planned section, None until written. On disk it is an object
    keyed by the section's number ("0", "1", …), the format run folders have always had, so
    a folder reads the same in every version.
    """

    model_config = {"extra": "allow"}  # keys this version does not know are kept

    instruction: str
    config: LongformConfig
    model: str | None = None
    binding: dict[str, Any] | None = None  # None: a folder from before bindings were recorded
    lang: str | None = None
    plan: Plan | None = None
    sections: list[SectionText | None] = Field(default_factory=list)
    summaries: dict[int, str] = Field(default_factory=dict)  # section number → its summary
    bridges: dict[int, str] = Field(default_factory=dict)  # parallel mode: section number → transition
    tokens: int = 0
    use: TokenUse = Field(default_factory=TokenUse)
    calls: int = 0
    ratio: float | None = None
    repeats: int = 0
    stops: list[dict[str, Any]] = Field(default_factory=list)
    stopped: dict[str, Any] | None = None

    @field_validator("sections", mode="before")
    @classmethod
    def _slots_from_disk(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        plan = info.data.get("plan")
        slots: list[Any] = [None] * max(len(plan.sections) if plan else 0, max(map(int, value), default=-1) + 1)
        for key, sec in value.items():
            slots[int(key)] = sec
        return slots

    @field_serializer("sections")
    def _slots_to_disk(self, sections: list[SectionText | None]) -> dict[str, Any]:
        return {str(i): s.model_dump(exclude_defaults=True) for i, s in enumerate(sections) if s is not None}

    def texts(self, upto: int) -> list[str]:
        """The texts of sections 0 … upto-1 (all written)."""
        return [s.text for s in self.sections[:upto]]  # type: ignore[union-attr]

    def finished(self) -> int:
        return sum(s is not None for s in self.sections)

    def render(self, partial: bool = False) -> str:
        """The text so far (`partial`) or the whole text (every section must be written)."""
        plan = self.plan
        assert plan is not None
        parts = [f"# {plan.title}"] if plan.title else []
        single = len(plan.sections) == 1
        for i, (sec, done) in enumerate(zip(plan.sections, self.sections, strict=True)):
            if done is None:
                if partial:
                    continue
                raise BimoError(f"section {i + 1} is missing from the run")
            if not done.text.strip():
                continue  # a section that stopped empty: no heading with nothing after it
            # the later part of a split section goes on under the first part's heading
            bare = single or not sec.heading or continues(plan.sections[i - 1] if i else None, sec)
            parts.append(done.text if bare else f"## {sec.heading}\n\n{done.text}")
        return "\n\n".join(parts)

    def written(self) -> int:
        return count_length(self.render(partial=True))


def load_state(run_dir: Path) -> RunState:
    """The state of a run folder, for resuming it; one-line errors when missing or damaged."""
    path = Path(run_dir) / "state.json"
    if not path.exists():
        raise BimoError(f"no long-form run to resume in {run_dir} (state.json missing)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise BimoError(f"{path} is damaged (not JSON)") from None
    try:
        return RunState.model_validate(data)
    except ValidationError as exc:
        raise BimoError(validation_line(exc, f"{path} is damaged")) from None
