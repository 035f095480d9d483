"""Ranked preferences (Ziya): several models answer, a judge ranks, pairs come from the ranking.

Every pair of answers is judged by the same pairwise judge as `bimo eval compare` and
`bimo eval calibrate` (`bimo.evaluate.pairjudge`, rubric `pairwise`), in both orders to
cancel position bias: each order's win scores 1, a tie 0.5. So a calibration of that judge
made with the same settings (`bimo eval calibrate -j URI --max-tokens JUDGE_TOKENS
--judge-seed SEED`) describes the verdicts made here. Answers are ranked by total score,
and each pair whose scores differ by at least `margin` becomes a (chosen, rejected)
preference record.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from pydantic import BaseModel, Field

from bimo.llm.base import Backend, GenParams, Message
from bimo.runner import GenerationStep, Reject
from bimo.synth.common import lang_of
from bimo.synth.records import instruction_pair, preference


class RankConfig(BaseModel):
    """Settings for `bimo synth rank`."""

    margin: float = Field(1.0, ge=0, description="least score difference that makes a pair")
    max_tokens: int = Field(1024, ge=16, description="answer length limit")
    judge_tokens: int = Field(256, ge=16)
    temperature: float = Field(0.7, ge=0, le=2)
    seed: int = 0


def rank_judge(uri: str, config: RankConfig) -> Any:
    """The ranking judge's settings (a `JudgeSettings`): greedy, `judge_tokens` long, the run's seed."""
    from bimo.evaluate.judge_step import JudgeSettings

    return JudgeSettings(judge=uri, temperature=0.0, seed=config.seed, max_tokens=config.judge_tokens)


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
        from bimo.evaluate.pairjudge import PairJudge

        self.pair_judge = PairJudge(rank_judge(judge.uri, self.config))

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
        pair = {"prompt": instruction, "lang": lang}
        for i, j in combinations(range(len(answers)), 2):
            got = self.pair_judge.judge(self, pair, answers[i], answers[j], attempt, f"{i}:{j}")
            verdicts.append([i, j, got["sides"]])
            for side in got["sides"]:
                if side == "a":
                    scores[i] += 1
                elif side == "b":
                    scores[j] += 1
                else:
                    scores[i] += 0.5
                    scores[j] += 0.5
        order = sorted(range(len(answers)), key=lambda k: -scores[k])
        uris = [m.uri for m in self.models]
        out = []
        for a, b in combinations(order, 2):
            if scores[a] - scores[b] >= self.config.margin and answers[a] != answers[b]:
                meta = {"lang": lang, "chosen_model": uris[a], "rejected_model": uris[b],
                        "chosen_score": scores[a], "rejected_score": scores[b],
                        "ranking": [uris[k] for k in order], "judge": self.backend.uri,
                        "judge_settings": self.pair_judge.recorded}
                out.append(preference(prompt_msgs, answers[a], answers[b], meta))
        if not out:
            raise Reject(f"no clear preference (scores {scores})", retry=False, detail={"verdicts": verdicts})
        return out


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
