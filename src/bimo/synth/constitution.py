"""Constitutional DPO pairs (Weaver): a human response and its minimal, principled corruption.

For each high-quality (instruction, response) pair the model names the principle the
response best exemplifies, names the sentence that shows it (the response is shown as
numbered sentences), and rewrites that sentence so it violates exactly that principle.
The rewrite replaces the sentence, so the rest of the rejected response is the chosen one
word for word. A rewrite that hands the sentence back unchanged (a small-model habit) is
caught before the full check and asked for again as a smaller job: the one sentence and the
one principle with its example. Minimality is still verified, not trusted: character
similarity between chosen and rejected must lie in [0.6, 0.98] and the length within ±25%
(unless the principle is about length); failures go to the errors file with the reason.
The principle, the sentence's index, the sentence and its edit are recorded in `meta`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bimo.llm.base import Backend, GenParams, Message
from bimo.runner import GenerationStep, Reject
from bimo.synth.common import REASONING, STR, lang_of, object_schema, prompts
from bimo.synth.library import Principle, candidates, load_principles
from bimo.synth.records import last_assistant, preference
from bimo.synth.verify import is_minimal_edit, length_ratio, similarity
from bimo.templates import render
from bimo.text import sentence_spans


class ConstitutionConfig(BaseModel):
    """Settings for `bimo synth constitution`."""

    principles_dir: Path | None = None
    min_score: float = Field(0.0, ge=0, le=1, description="skip SFT pairs whose self-curation score (P(yes), "
                                                         "meta.score) is below this; 0 takes every pair")
    human_answers_only: bool = Field(True, description="start negatives only from human-written answers: a "
                                                       "backtranslated pair whose answer the model wrote (an outline, "
                                                       "titles: meta.anchor 'input') is skipped with that reason")
    sim_low: float = Field(0.6, ge=0, le=1)
    sim_high: float = Field(0.98, ge=0, le=1)
    max_len_change: float = Field(0.25, ge=0, le=1)
    max_principles: int = Field(16, ge=1, description="principles listed per prompt (fewer: shorter prompts)")
    max_sentences: int = Field(40, ge=1, description="sentences of a response offered for the edit")
    max_tokens: int = Field(1536, ge=16)
    temperature: float = Field(0.7, ge=0, le=2)
    seed: int = 0


class ConstitutionStep(GenerationStep):
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
        score = meta.get("score")
        if self.config.min_score and (score is None or float(score) < self.config.min_score):
            raise Reject(f"below quality bar: score {score} < {self.config.min_score}", retry=False)
        # Weaver's negatives are good human texts made minimally worse; a 1.5B model's outline or
        # titles often hold errors, and on held-out pairs the "negative" edit fixed them
        if self.config.human_answers_only and meta.get("anchor") == "input":
            raise Reject("the answer is model-written (the passage was the material), not human text", retry=False)
        lang = meta.get("lang") if meta.get("lang") in ("zh", "en") else lang_of(response)
        cands = candidates(self.principles, lang, meta.get("task"), meta.get("domain"), self.config.max_principles,
                           key=self.key(record))
        by_id = {p.id: p for p in cands}
        units = sentence_spans(response)[: self.config.max_sentences]
        if not units:
            raise Reject("response has no sentence to edit", retry=False)
        schema = object_schema(principle_id={"type": "string", "enum": list(by_id)}, reasoning=REASONING,
                               sentence={"type": "integer", "enum": list(range(1, len(units) + 1))},
                               rewritten=STR)
        instruction = "\n\n".join(str(m.get("content") or "") for m in prompt_msgs if m.get("role") == "user")
        numbered = numbered_sentences(response, units)
        out = self.generate(self.messages(lang, instruction, numbered, cands), attempt, schema=schema)
        if not isinstance(out, dict):
            raise Reject("output is not a JSON object")
        principle = by_id.get(str(out.get("principle_id", "")))
        if principle is None:
            raise Reject(f"unknown principle id {str(out.get('principle_id'))[:40]!r}")
        try:
            start, end = units[int(out.get("sentence")) - 1]
        except (TypeError, ValueError, IndexError):
            raise Reject(f"no sentence {str(out.get('sentence'))[:20]!r} in the response") from None
        span = response[start:end]
        rewritten = str(out.get("rewritten") or "").strip()
        retried = False
        if unchanged(span, rewritten):
            # small models often hand the sentence back as it was: ask again with the one
            # sentence and the one principle, a smaller job than the whole response
            retried = True
            rewritten = self.rewrite_sentence(span, principle, lang, attempt)
            if unchanged(span, rewritten):
                raise Reject("rewrite unchanged, also when asked with the sentence and principle alone",
                             detail={"principle": principle.id, "sentence": int(out["sentence"]),
                                     "original": span[:300]})
        rejected = (response[:start] + rewritten + response[end:]).strip()
        why = is_minimal_edit(response, rejected, lo=self.config.sim_low, hi=self.config.sim_high,
                              max_len_change=1.0 if principle.length else self.config.max_len_change)
        if why:
            raise Reject(f"not minimal: {why}", detail={"principle": principle.id, "sentence": int(out["sentence"]),
                                                        "original": span[:300], "rewritten": rewritten[:300]})
        pmeta = {**{k: meta[k] for k in ("task", "domain", "doc_id") if k in meta}, "lang": lang,
                 "principle": principle.id, "principle_statement": principle.statement,
                 "reasoning": str(out.get("reasoning") or "")[:300], "edited": span, "edit": rewritten,
                 "sentence": int(out["sentence"]), "sentence_retry": retried,
                 "similarity": round(similarity(response, rejected), 3),
                 "length_ratio": round(length_ratio(response, rejected), 3)}
        return [preference(prompt_msgs, response, rejected, pmeta)]


    def rewrite_sentence(self, sentence: str, principle: Principle, lang: str, attempt: int) -> str:
        """The smaller job: one sentence, one principle and its follows/violates example."""
        p = prompts("constitution", lang)
        user = render(p["sentence_user"], statement=principle.statement, follows=principle.follows,
                      violates=principle.violates, sentence=sentence)
        out = self.generate([{"role": "system", "content": p["sentence_system"].strip()},
                             {"role": "user", "content": user}], attempt + 1, schema=SENTENCE_SCHEMA)
        return str(out.get("rewritten") or "").strip() if isinstance(out, dict) else ""

    def describe(self, record: dict[str, Any]) -> dict[str, Any]:
        meta = record.get("meta") or {}
        return {k: meta[k] for k in ("task", "domain", "lang", "doc_id") if meta.get(k)}

    @staticmethod
    def messages(lang: str, instruction: str, numbered: str, cands: list[Principle]) -> list[Message]:
        """System: the method and the answer format; a worked example as an earlier turn;
        then the real pair (its response as numbered sentences) with its candidate principles."""
        p = prompts("constitution", lang)
        ex = p["example"]
        ex_response = numbered_sentences(ex["response"], sentence_spans(ex["response"]))
        return [{"role": "system", "content": p["system"].strip()},
                {"role": "user", "content": render(p["user"], instruction=ex["instruction"], response=ex_response,
                                                   principles="\n".join(f"- {x}" for x in ex["principles"]))},
                {"role": "assistant", "content": json.dumps(ex["answer"], ensure_ascii=False)},
                {"role": "user", "content": render(p["user"], instruction=instruction, response=numbered,
                                                   principles=_listing(cands))}]


SENTENCE_SCHEMA = object_schema(rewritten={"type": "string", "minLength": 2})


def unchanged(original: str, rewritten: str) -> bool:
    """True when a rewrite is empty or the sentence again, spacing and punctuation aside."""
    def strip(t: str) -> str:
        return re.sub(r"[\W_]+", "", t).lower()
    return not strip(rewritten) or strip(rewritten) == strip(original)


def numbered_sentences(text: str, spans: list[tuple[int, int]]) -> str:
    return "\n".join(f"[{i}] {text[a:b]}" for i, (a, b) in enumerate(spans, 1))


def _listing(cands: list[Principle]) -> str:
    return "\n".join(f"- {p.id}: {p.statement} — {p.violates}" for p in cands)
