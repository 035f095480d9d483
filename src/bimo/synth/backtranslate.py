"""Instruction backtranslation (Weaver, Humpback; Ziya's answer-to-instruction).

Curated human documents (`{"id", "text", "metadata"}`) become SFT pairs. For each
document we pick applicable task types (write, outline, expand, condense, polish, style,
review, brainstorm, title, writing chat) and ask the model — shown annotated examples of
the reasoning — for instruction, input and output. The anchored field (the output, or for
analysis tasks the input) must really be a span of the human text: it is checked with a
fuzzy match and snapped to the source's own characters, so the answer *is* human writing.
Each surviving pair is then scored 1-5 by the model (Humpback self-curation) and kept at
or above a threshold; near-identical instructions are dropped.

One runner record = one (document, task), keyed `DOC_ID#TASK`, so resume is per pair.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel, Field

from bimo.llm.base import Backend, GenParams, Message
from bimo.runner import Reject, Step
from bimo.synth.common import REASONING, SCORE_SCHEMA, STR, lang_of, object_schema, prompts
from bimo.synth.records import sft, user_prompt
from bimo.synth.verify import NearDuplicates, length_units, similarity, snap, span_score
from bimo.templates import load_package_yaml, render
from bimo.text import count_length

TASK_ORDER = ("write", "outline", "expand", "condense", "polish", "style", "review", "brainstorm", "title", "chat")


@cache
def task_table() -> dict[str, Any]:
    return load_package_yaml("bimo.synth.prompts", "tasks.yaml")


def domains() -> list[str]:
    return list(task_table()["domains"])


class BacktranslateConfig(BaseModel):
    """Settings for `bimo synth backtranslate`."""

    tasks: list[str] = Field(default_factory=lambda: list(TASK_ORDER), description="task types to consider")
    tasks_per_doc: int = Field(2, ge=1, description="task types drawn per document (stable per id)")
    threshold: int = Field(4, ge=1, le=5, description="keep pairs the model scores at least this")
    score: bool = Field(True, description="run the 1-5 self-curation call")
    min_span: float = Field(90.0, ge=50, le=100, description="fuzzy span match needed (0-100)")
    min_coverage: float = Field(0.2, ge=0, le=1, description="least share of the passage the span must cover")
    max_source_chars: int = Field(1200, ge=50, description="longest source passage shown to the model")
    examples: int = Field(2, ge=0, le=8, description="annotated examples shown per prompt (stable choice per pair)")
    dedup: float = Field(90.0, ge=50, le=100, description="instruction similarity counted as duplicate")
    max_tokens: int = Field(1024, ge=16)
    temperature: float = Field(0.7, ge=0, le=2)
    seed: int = 0


def passage(text: str, max_chars: int) -> str:
    """The start of the document, whole paragraphs (or sentences) up to `max_chars`."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    out = ""
    for para in re.split(r"\n\s*\n", text):
        if out and len(out) + len(para) + 2 > max_chars:
            return out
        out = f"{out}\n\n{para}" if out else para
        if len(out) > max_chars:
            break
    # one paragraph is too long: cut at the last sentence end inside the budget
    cut = max((out.rfind(p, 0, max_chars) for p in "。！？.!?"), default=-1)
    return out[: cut + 1] if cut > max_chars // 3 else out[:max_chars]


def pick_tasks(doc_id: str, length: int, config: BacktranslateConfig) -> list[str]:
    """Applicable tasks in a stable pseudo-random order per document (resume-safe)."""
    table = task_table()["tasks"]
    ok = [t for t in config.tasks if t in table
          and int(table[t].get("min_length", 0)) <= length <= int(table[t].get("max_length", 10**9))]
    ok.sort(key=lambda t: hashlib.sha1(f"{config.seed}:{doc_id}:{t}".encode()).hexdigest())
    return ok[: config.tasks_per_doc]


def pick_examples(examples: list[dict[str, Any]], key: str, n: int) -> list[dict[str, Any]]:
    """`n` of a task's annotated examples: all when there are no more, else a stable choice
    per work item (so a run shows every example somewhere while prompts stay short)."""
    if n >= len(examples):
        return list(examples)
    start = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % len(examples)
    return [examples[(start + i) % len(examples)] for i in range(n)]


def example_json(example: dict[str, Any]) -> str:
    """An example as the complete answer the schema asks for, reasoning first."""
    ans = example["json"]
    full = {"reasoning": example["reasoning"], "instruction": ans["instruction"], "input": ans.get("input", ""),
            "output": ans["output"], "domain": ans["domain"]}
    return json.dumps(full, ensure_ascii=False)


def copies_example(text: str, task: str, lang: str) -> bool:
    """True when `text` is taken from one of the task's annotated examples (a small-model habit)."""
    return any(span_score(text, ex["source"]) >= 90 or span_score(ex["source"], text) >= 90
               for ex in task_table()["tasks"][task]["examples"][lang])


def expand_docs(docs: Iterable[dict[str, Any]], config: BacktranslateConfig,
                limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Documents → one work record per (document, task)."""
    for n, doc in enumerate(docs):
        if limit is not None and n >= limit:
            return
        text = str(doc.get("text") or "")
        doc_id = str(doc.get("id") or hashlib.sha1(text.encode()).hexdigest()[:12])
        src = passage(text, config.max_source_chars)
        for task in pick_tasks(doc_id, count_length(src), config):
            yield {"id": f"{doc_id}#{task}", "doc_id": doc_id, "task": task, "source": src,
                   "metadata": doc.get("metadata") or {}}


def generation_schema() -> dict[str, Any]:
    return object_schema(reasoning=REASONING, instruction=STR, input=STR, output=STR,
                         domain={"type": "string", "enum": domains()})


class BacktranslateStep(Step):
    name = "backtranslate"

    def __init__(self, backend: Backend, config: BacktranslateConfig | None = None):
        self.config = config or BacktranslateConfig()
        super().__init__(backend, GenParams(temperature=self.config.temperature,
                                            max_tokens=self.config.max_tokens, seed=self.config.seed))
        self.schema = generation_schema()
        self.dups = NearDuplicates(self.config.dedup)

    def prompt(self, record: dict[str, Any]) -> list[Message]:
        """System: the task and the answer format; then each annotated example as a user
        turn (its source) and an assistant turn (its JSON); last, the real source."""
        lang = lang_of(record["source"])
        p = prompts("backtranslate", lang)
        task = task_table()["tasks"][record["task"]]
        if task["anchor"] == "input":
            anchor_rule, input_rule = p["anchor_input"], p["input_anchor"]
        else:
            anchor_rule = p["anchor_output"]
            input_rule = p["input_required"] if task.get("input") == "required" else p["input_optional"]
        system = render(p["system"], task_name=task["name"][lang], guidance=task["guidance"][lang],
                        domains=", ".join(domains()), anchor_rule=anchor_rule, input_rule=input_rule)
        msgs: list[Message] = [{"role": "system", "content": system}]
        for ex in pick_examples(task["examples"][lang], record["id"], self.config.examples):
            msgs += [{"role": "user", "content": render(p["user"], source=ex["source"])},
                     {"role": "assistant", "content": example_json(ex)}]
        msgs.append({"role": "user", "content": render(p["user"], source=record["source"])})
        return msgs

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        out = self.generate(self.prompt(record), attempt, schema=self.schema)
        pair = self.verify(record, out)
        meta = {"task": record["task"], "domain": pair["domain"], "lang": lang_of(record["source"]),
                "doc_id": record["doc_id"], "anchor": pair["anchor"], "span_match": pair["span_match"],
                "instruction": pair["instruction"], "input": pair["input"], "reasoning": pair["reasoning"],
                "score": 0, "score_reason": ""}
        if self.config.score:
            verdict = self.generate(self.score_prompt(pair, meta["lang"]), attempt, schema=SCORE_SCHEMA)
            score = int(verdict.get("score", 0)) if isinstance(verdict, dict) else 0
            meta.update(score=score, score_reason=str(verdict.get("reason", ""))[:300])
            if score < self.config.threshold:
                raise Reject(f"low quality: score {score} < {self.config.threshold}", retry=False,
                             detail={"instruction": pair["instruction"], "reason": meta["score_reason"]})
        return [sft(user_prompt(pair["instruction"], pair["input"]), pair["output"], meta)]

    def verify(self, record: dict[str, Any], out: Any) -> dict[str, Any]:
        """Check the model's pair against the source; raise Reject with the reason."""
        if not isinstance(out, dict):
            raise Reject("output is not a JSON object")
        pair = {k: str(out.get(k) or "").strip() for k in ("reasoning", "instruction", "input", "output", "domain")}
        if count_length(pair["instruction"]) < 3:
            raise Reject("instruction missing or too short", detail=pair)
        if not pair["output"]:
            raise Reject("empty output", detail=pair)
        anchor = task_table()["tasks"][record["task"]]["anchor"]
        field = "output" if anchor == "output" else "input"
        claimed = pair[field]
        if count_length(claimed) < 3:
            raise Reject(f"{field} should quote the source but is empty", detail=pair)
        match = span_score(claimed, record["source"])
        if match < self.config.min_span:
            if copies_example(claimed, record["task"], lang_of(record["source"])):
                raise Reject(f"{field} copies an annotated example, not the source", detail={field: claimed[:300]})
            raise Reject(f"{field} is not a span of the source (match {match:.0f} < {self.config.min_span:.0f})",
                         detail={field: claimed[:300]})
        pair[field] = snap(claimed, record["source"])
        cover = length_units(pair[field]) / max(1, length_units(record["source"]))
        if cover < self.config.min_coverage:
            raise Reject(f"{field} covers only {100 * cover:.0f}% of the source "
                         f"(< {100 * self.config.min_coverage:.0f}%)", detail={field: pair[field][:300]})
        needs_input = task_table()["tasks"][record["task"]].get("input") == "required"
        if needs_input and count_length(pair["input"]) < 2:
            raise Reject("input is empty (the task needs the draft, notes or plain version)", detail=pair)
        # the imagined draft/notes must differ from the answer; an optional input may quote it
        if anchor == "output" and pair["input"] and similarity(pair["input"], pair["output"]) > (
                0.9 if needs_input else 0.98):
            raise Reject("input is a copy of the output", detail=pair)
        declared = (record.get("metadata") or {}).get("domain")
        pair["domain"] = declared if declared in domains() else (pair["domain"] or "creative_nonfiction")
        pair.update(anchor=anchor, span_match=round(match, 1))
        return pair

    def score_prompt(self, pair: dict[str, Any], lang: str) -> list[Message]:
        p = prompts("score", lang)
        user = render(p["user"], instruction=user_prompt(pair["instruction"], pair["input"]), output=pair["output"])
        return [{"role": "system", "content": p["system"].strip()}, {"role": "user", "content": user}]

    def admit(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for res in results:
            instr = user_prompt(res["meta"]["instruction"], res["meta"]["input"])
            if self.dups.find(instr) is not None:
                continue
            self.dups.add(instr)
            kept.append(res)
        if not kept:
            raise Reject("near-duplicate instruction", retry=False)
        return kept

    def prime(self, result: dict[str, Any]) -> None:
        meta = result.get("meta") or {}
        self.dups.add(user_prompt(meta.get("instruction", ""), meta.get("input", "")))


class BackwardStep(Step):
    """Ziya's backward model data: response → instruction, as SFT (no model call)."""

    name = "backward"

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        from bimo.synth.records import instruction_pair

        prompt_text, response = instruction_pair(record)
        if not prompt_text.strip() or not response.strip():
            raise Reject("record has no instruction/response pair", retry=False)
        lang = lang_of(response)
        user = render(prompts("backward", lang)["user"], response=response)
        meta = {**{k: v for k, v in (record.get("meta") or {}).items()
                   if k in ("task", "domain", "lang", "doc_id")}, "direction": "backward"}
        meta.setdefault("lang", lang)
        return [sft(user, prompt_text, meta)]
