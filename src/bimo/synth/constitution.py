"""Constitutional DPO pairs (Weaver): a human response and its minimal, principled corruption.

For each high-quality (instruction, response) pair the model names the principle the
response best exemplifies, copies the passage that shows it, and rewrites that passage
so it violates exactly that principle. The copied passage must be a span of the response
(fuzzy, then snapped to the response's own characters); the rewrite replaces it, so the
rest of the rejected response is the chosen one word for word. Minimality is still
verified, not trusted: character similarity between chosen and rejected must lie in
[0.6, 0.98] and the length within ±25%; failures go to the errors file with the reason.
The principle and the edited passage are recorded in `meta`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bimo.llm.base import Backend, GenParams, Message
from bimo.runner import Reject, Step
from bimo.synth.common import REASONING, STR, lang_of, object_schema, prompts
from bimo.synth.library import Principle, candidates, load_principles
from bimo.synth.records import last_assistant, preference
from bimo.synth.verify import is_minimal_edit, length_ratio, similarity, snap, span_score
from bimo.templates import render


class ConstitutionConfig(BaseModel):
    """Settings for `bimo synth constitution`."""

    principles_dir: Path | None = None
    min_score: int = Field(4, ge=0, le=5, description="skip SFT pairs scored below this (0 = unscored ok)")
    sim_low: float = Field(0.6, ge=0, le=1)
    sim_high: float = Field(0.98, ge=0, le=1)
    max_len_change: float = Field(0.25, ge=0, le=1)
    max_candidates: int = Field(16, ge=1)
    min_span: float = Field(90.0, ge=50, le=100, description="fuzzy match of the copied passage (0-100)")
    max_tokens: int = Field(1536, ge=16)
    temperature: float = Field(0.7, ge=0, le=2)
    seed: int = 0


class ConstitutionStep(Step):
    name = "constitution"

    def __init__(self, backend: Backend, config: ConstitutionConfig | None = None):
        self.config = config or ConstitutionConfig()
        super().__init__(backend, GenParams(temperature=self.config.temperature,
                                            max_tokens=self.config.max_tokens, seed=self.config.seed))
        self.principles = load_principles(self.config.principles_dir)

    def split(self, record: dict[str, Any]) -> tuple[list[Message], str]:
        msgs = record.get("messages")
        if not isinstance(msgs, list) or not msgs or msgs[-1].get("role") != "assistant":
            raise Reject("not an SFT record ending with an assistant turn", retry=False)
        return msgs[:-1], last_assistant(msgs)

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        prompt_msgs, response = self.split(record)
        meta = record.get("meta") or {}
        score = int(meta.get("score") or 0)
        if score and score < self.config.min_score:
            raise Reject(f"below quality bar: score {score} < {self.config.min_score}", retry=False)
        lang = meta.get("lang") if meta.get("lang") in ("zh", "en") else lang_of(response)
        cands = candidates(self.principles, lang, meta.get("task"), meta.get("domain"), self.config.max_candidates)
        by_id = {p.id: p for p in cands}
        schema = object_schema(principle_id={"type": "string", "enum": list(by_id)}, reasoning=REASONING,
                               original=STR, rewritten=STR)
        instruction = "\n\n".join(str(m.get("content") or "") for m in prompt_msgs if m.get("role") == "user")
        out = self.generate(self.messages(lang, instruction, response, cands), attempt, schema=schema)
        if not isinstance(out, dict):
            raise Reject("output is not a JSON object")
        principle = by_id.get(str(out.get("principle_id", "")))
        if principle is None:
            raise Reject(f"unknown principle id {str(out.get('principle_id'))[:40]!r}")
        original = str(out.get("original") or "").strip()
        rewritten = str(out.get("rewritten") or "").strip()
        if not original or not rewritten:
            raise Reject("empty original or rewritten passage", detail={"principle": principle.id})
        match = span_score(original, response)
        if match < self.config.min_span:
            raise Reject(f"original passage is not in the response (match {match:.0f} < {self.config.min_span:.0f})",
                         detail={"principle": principle.id, "original": original[:300]})
        span = snap(original, response)
        rejected = response.replace(span, rewritten, 1).strip()
        why = is_minimal_edit(response, rejected, lo=self.config.sim_low, hi=self.config.sim_high,
                              max_len_change=self.config.max_len_change)
        if why:
            raise Reject(f"not minimal: {why}", detail={"principle": principle.id, "original": span[:300],
                                                        "rewritten": rewritten[:300]})
        pmeta = {**{k: meta[k] for k in ("task", "domain", "doc_id") if k in meta}, "lang": lang,
                 "principle": principle.id, "principle_statement": principle.statement,
                 "reasoning": str(out.get("reasoning") or "")[:300], "edited": span, "edit": rewritten,
                 "similarity": round(similarity(response, rejected), 3),
                 "length_ratio": round(length_ratio(response, rejected), 3)}
        return [preference(prompt_msgs, response, rejected, pmeta)]


    @staticmethod
    def messages(lang: str, instruction: str, response: str, cands: list[Principle]) -> list[Message]:
        """System: the method and the answer format; a worked example as an earlier turn;
        then the real pair with its candidate principles."""
        p = prompts("constitution", lang)
        ex = p["example"]
        return [{"role": "system", "content": p["system"].strip()},
                {"role": "user", "content": render(p["user"], instruction=ex["instruction"], response=ex["response"],
                                                   principles="\n".join(f"- {x}" for x in ex["principles"]))},
                {"role": "assistant", "content": json.dumps(ex["answer"], ensure_ascii=False)},
                {"role": "user", "content": render(p["user"], instruction=instruction, response=response,
                                                   principles=_listing(cands))}]


def _listing(cands: list[Principle]) -> str:
    return "\n".join(f"- {p.id}: {p.statement} — {p.violates}" for p in cands)
