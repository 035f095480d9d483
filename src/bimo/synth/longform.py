"""Long-output SFT (LongWriter-6k): the long-form writer over instructions, kept by length score.

Each instruction's required length comes from the record (`length`) or from the prompt
itself (`detect_length`); the long-form writer plans and writes to it, and the output is
kept only if its length score S_l (LongBench-Write) is at least `min_score` (80), scored on
the *effective* length (repeats taken out), and if it passes the integrity thresholds of
`bimo.integrity` (repetition, stalling, language leaks, dangling endings): a length reached
by looping must never become training data. Rejected records keep their reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bimo.evaluate.length import length_score
from bimo.integrity import IntegrityThresholds, measure
from bimo.llm.base import Backend
from bimo.runner import GenerationStep, Reject
from bimo.synth.common import lang_of
from bimo.synth.records import instruction_pair, sft
from bimo.write.lengthreq import required_length
from bimo.write.longform import LongformWriter


class LongformSynthConfig(BaseModel):
    min_score: float = Field(80.0, ge=0, le=100)
    default_length: int | None = Field(None, ge=1, description="length for prompts that state none")
    run_dir: Path | None = Field(None, description="where the writer keeps per-record work (plans, parts)")
    integrity: IntegrityThresholds = Field(default_factory=IntegrityThresholds)


class LongformStep(GenerationStep):
    name = "longform"

    def __init__(self, backend: Backend, config: LongformSynthConfig | None = None):
        super().__init__(backend)
        self.config = config or LongformSynthConfig()

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        prompt, _ = instruction_pair(record)
        if not prompt.strip():
            raise Reject("record has no instruction", retry=False)
        required = required_length(prompt, record.get("length"), self.config.default_length)
        if not required:
            raise Reject("no required length in the prompt (add a 'length' field or --length)", retry=False)
        run_dir = None
        if self.config.run_dir is not None:
            # a retry starts a fresh run: resuming the rejected one would return the same text
            run_dir = self.config.run_dir / (_safe(self.key(record)) + (f".{attempt}" if attempt else ""))
        result = LongformWriter.for_prompt(self.backend, prompt, required).run(prompt, run_dir=run_dir)
        integ = measure(result.text, prompt=prompt)
        score = float(length_score(float(required), float(integ.effective_length)))
        flags = integ.flags(self.config.integrity)
        if flags:
            raise Reject(f"integrity: {'; '.join(flags)}", detail=integ.summary())
        if score < self.config.min_score:
            raise Reject(f"length score {score:.0f} < {self.config.min_score:.0f} "
                         f"(asked {required}, wrote {result.length}, effective {integ.effective_length})")
        meta = {"task": "longform", "lang": lang_of(prompt), "required_length": int(required),
                "length": int(result.length), "length_score": round(score, 1), "integrity": integ.summary()}
        return [sft(prompt, result.text, meta)]


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:80]
