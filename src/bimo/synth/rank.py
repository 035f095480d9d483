"""Ranked preferences (Ziya): several models answer, a judge ranks, pairs come from the ranking.

Every pair of answers is judged twice, in both orders, to cancel position bias: a win
in one order scores 1, a tie 0.5. Answers are ranked by total score, and each pair whose
scores differ by at least `margin` becomes a (chosen, rejected) preference record.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from pydantic import BaseModel, Field

from bimo.llm.base import Backend, GenParams, Message
from bimo.runner import GenerationStep, Reject
from bimo.synth.common import STR, lang_of, object_schema, prompts
from bimo.synth.records import instruction_pair, preference
from bimo.templates import render

JUDGE_SCHEMA = object_schema(reason=STR, winner={"type": "string", "enum": ["A", "B", "tie"]})


class RankConfig(BaseModel):
    """Settings for `bimo synth rank`."""

    margin: float = Field(1.0, ge=0, description="least score difference that makes a pair")
    max_tokens: int = Field(1024, ge=16, description="answer length limit")
    judge_tokens: int = Field(256, ge=16)
    temperature: float = Field(0.7, ge=0, le=2)
    seed: int = 0


class RankStep(GenerationStep):
    name = "rank"

    def __init__(self, models: list[Backend], judge: Backend, config: RankConfig | None = None):
        if len(models) < 2:
            from bimo.errors import BimoError

            raise BimoError("rank needs at least two models (--models URI,URI)")
        self.config = config or RankConfig()
        super().__init__(judge, GenParams(temperature=self.config.temperature,
                                          max_tokens=self.config.max_tokens, seed=self.config.seed))
        self.models = models
        self.judge_params = GenParams(temperature=0.0, max_tokens=self.config.judge_tokens, seed=self.config.seed)

    def binding(self) -> dict[str, Any]:
        """The judge's binding plus every model whose answers are ranked."""
        return {**super().binding(), "models": [m.uri for m in self.models]}

    @property
    def parallel(self) -> int:
        return max(1, min(getattr(b, "parallel", 1) or 1 for b in [*self.models, self.backend]))

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        prompt_msgs = _prompt_messages(record)
        instruction = prompt_msgs[-1]["content"]
        answers = [str(self.generate(prompt_msgs, attempt, backend=m)).strip() for m in self.models]
        lang = lang_of(instruction)
        scores = [0.0] * len(answers)
        verdicts = []
        for i, j in combinations(range(len(answers)), 2):
            for first, second in ((i, j), (j, i)):
                w = self.judge(instruction, answers[first], answers[second], lang, attempt)
                verdicts.append([first, second, w])
                if w == "A":
                    scores[first] += 1
                elif w == "B":
                    scores[second] += 1
                else:
                    scores[first] += 0.5
                    scores[second] += 0.5
        order = sorted(range(len(answers)), key=lambda k: -scores[k])
        uris = [m.uri for m in self.models]
        out = []
        for a, b in combinations(order, 2):
            if scores[a] - scores[b] >= self.config.margin and answers[a] != answers[b]:
                meta = {"lang": lang, "chosen_model": uris[a], "rejected_model": uris[b],
                        "chosen_score": scores[a], "rejected_score": scores[b],
                        "ranking": [uris[k] for k in order], "judge": self.backend.uri}
                out.append(preference(prompt_msgs, answers[a], answers[b], meta))
        if not out:
            raise Reject(f"no clear preference (scores {scores})", retry=False, detail={"verdicts": verdicts})
        return out

    def judge(self, instruction: str, a: str, b: str, lang: str, attempt: int) -> str:
        p = prompts("judge", lang)
        msgs: list[Message] = [{"role": "system", "content": p["system"].strip()},
                               {"role": "user", "content": render(p["user"], instruction=instruction, a=a, b=b)}]
        out = self.generate(msgs, attempt, schema=JUDGE_SCHEMA, params=self.judge_params)
        winner = out.get("winner") if isinstance(out, dict) else None
        if winner not in ("A", "B", "tie"):
            raise Reject(f"judge gave no verdict: {str(out)[:80]}")
        return winner


def _prompt_messages(record: dict[str, Any]) -> list[Message]:
    msgs = record.get("messages")
    if isinstance(msgs, list) and msgs:
        if msgs[-1].get("role") == "assistant":
            msgs = msgs[:-1]
        if msgs and msgs[-1].get("role") == "user":
            return list(msgs)
    text, _ = instruction_pair(record)
    if not text.strip():
        raise Reject("record has no instruction (instruction / prompt / messages)", retry=False)
    return [{"role": "user", "content": text}]
