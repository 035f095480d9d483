"""Long-output SFT from long human texts (LongWriter × Weaver).

LongWriter: a model's output length is capped by the outputs in its SFT data, and SFT on
long outputs lifts the cap. Weaver: the best outputs to learn from are human writing.
So each long human document (≥ 500 units; longer ones split at paragraph boundaries into
500–5,000-unit pieces) becomes one SFT record whose response *is* the human text and
whose instruction is backtranslated by a model from the piece's opening and closing.
The model never states the length: `lengthclause` adds it from the measured length, in
one of a dozen phrasings per language, at the start, middle or end of the instruction.

One runner record = one piece, keyed `DOC_ID#K`; documents too short, empty or without a
licence are recorded in the errors file with their reason, never dropped silently.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, Field

from bimo.errors import BimoError
from bimo.llm.base import Backend, GenParams, Message
from bimo.runner import GenerationStep, Reject
from bimo.synth.common import lang_of, object_schema, prompts
from bimo.synth.lengthclause import with_length
from bimo.synth.records import sft
from bimo.templates import render
from bimo.text import count_length, detect_lang, sentence_spans
from bimo.write.lengthreq import detect_length

SCHEMA = object_schema(form={"type": "string", "maxLength": 40}, instruction={"type": "string", "maxLength": 600})


class LongDocConfig(BaseModel):
    """Settings for `bimo synth longdoc`."""

    min_units: int = Field(500, ge=50, description="shortest piece kept (CJK characters + English words)")
    max_units: int = Field(5000, ge=100, description="longest piece; longer documents are split")
    head_units: int = Field(600, ge=50, description="opening shown to the model")
    tail_units: int = Field(250, ge=0, description="closing shown to the model")
    require_license: bool = Field(True, description="refuse documents whose metadata has no licence")
    max_tokens: int = Field(400, ge=32)
    temperature: float = Field(0.7, ge=0, le=2)
    seed: int = 0


def _paragraphs(text: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(paras) == 1 and "\n" in paras[0]:  # one paragraph per line (common in Chinese text)
        paras = [p.strip() for p in paras[0].splitlines() if p.strip()]
    return paras


def _sentence_chunks(para: str, max_units: int) -> list[str]:
    """A paragraph longer than `max_units`, cut at sentence ends."""
    out, cur = [], ""
    for a, b in sentence_spans(para):
        s = para[a:b]
        if cur and count_length(cur) + count_length(s) > max_units:
            out.append(cur)
            cur = ""
        cur += s if not cur or detect_lang(s) == "zh" else " " + s
    if cur:
        out.append(cur)
    return out


def split_pieces(text: str, min_units: int = 500, max_units: int = 5000) -> list[str]:
    """Whole paragraphs grouped into pieces of at most `max_units`, as even as the paragraphs
    allow; a short last piece joins the one before when it fits, else it is left out."""
    paras: list[str] = []
    for p in _paragraphs(text):
        paras.extend(_sentence_chunks(p, max_units) if count_length(p) > max_units else [p])
    total = sum(count_length(p) for p in paras)
    if total <= max_units:
        return ["\n\n".join(paras)] if total >= min_units else []
    n_pieces = -(-total // max_units)
    target = total / n_pieces
    pieces, cur, n = [], [], 0
    for p in paras:
        u = count_length(p)
        if cur and (n + u > max_units or (n >= target and n >= min_units)):
            pieces.append(cur)
            cur, n = [], 0
        cur.append(p)
        n += u
    if cur:
        if n < min_units and pieces and sum(count_length(x) for x in pieces[-1]) + n <= max_units:
            pieces[-1].extend(cur)
        else:
            pieces.append(cur)
    return ["\n\n".join(c) for c in pieces if sum(count_length(x) for x in c) >= min_units]


def expand_docs(docs: Iterable[dict[str, Any]], config: LongDocConfig) -> Iterator[dict[str, Any]]:
    """One runner record per piece. A document that yields no piece becomes one record with
    a `skip` reason, so the runner writes that reason to the errors file."""
    for i, doc in enumerate(docs):
        doc_id = str(doc.get("id") or f"doc{i + 1}")
        text = doc.get("text")
        meta = doc.get("metadata") or {}
        if not isinstance(text, str) or not text.strip():
            yield {"id": f"{doc_id}#0", "skip": "document has no text"}
            continue
        lang = detect_lang(text)
        if lang not in ("zh", "en"):
            yield {"id": f"{doc_id}#0", "skip": f"language not handled ({lang})"}
            continue
        pieces = split_pieces(text, config.min_units, config.max_units)
        if not pieces:
            yield {"id": f"{doc_id}#0",
                   "skip": f"too short: {count_length(text)} units < {config.min_units}"}
            continue
        for k, piece in enumerate(pieces):
            yield {"id": f"{doc_id}#{k}", "doc_id": doc_id, "text": piece, "metadata": meta}


def excerpt(text: str, head_units: int, tail_units: int) -> str:
    """The opening (whole sentences up to `head_units`) and the closing (`tail_units`)."""
    spans = sentence_spans(text)
    head_end, n = 0, 0
    for a, b in spans:
        if n >= head_units:
            break
        n += count_length(text[a:b])
        head_end = b
    if head_end >= len(text.rstrip()) or tail_units == 0:
        return text[:head_end].strip()
    tail_start, m = len(text), 0
    for a, b in reversed(spans):
        if m >= tail_units or a < head_end:
            break
        m += count_length(text[a:b])
        tail_start = a
    return f"{text[:head_end].strip()}\n\n[……]\n\n{text[tail_start:].strip()}"


def _copies(instruction: str, text: str, lang: str, han_run: int = 12, word_run: int = 8) -> bool:
    """Whether the instruction quotes a run of the text (`han_run` CJK characters or `word_run` words)."""
    if lang == "zh":
        han = "".join(re.findall(r"[\u4e00-\u9fff]", instruction))
        body = "".join(re.findall(r"[\u4e00-\u9fff]", text))
        return any(han[i:i + han_run] in body for i in range(0, max(0, len(han) - han_run + 1)))
    words = re.findall(r"[a-z']+", instruction.lower())
    body = " ".join(re.findall(r"[a-z']+", text.lower()))
    return any(" ".join(words[i:i + word_run]) in body for i in range(0, max(0, len(words) - word_run + 1)))


def echoes_prompt(instruction: str, lang: str) -> bool:
    """Whether the instruction repeats the prompt's own wording (6+ CJK characters or 5+ words in
    a row), as a small model does when it lists the prompt's "characters, events, arguments, tone,
    audience" instead of this piece's."""
    return _copies(instruction, prompts("longdoc", lang)["user"], lang, han_run=6, word_run=5)


class LongDocStep(GenerationStep):
    """Piece → SFT record: backtranslated instruction + code-written length clause → human text."""

    name = "longdoc"
    schema = SCHEMA

    def __init__(self, backend: Backend | None, config: LongDocConfig | None = None):
        self.config = config or LongDocConfig()
        super().__init__(backend, GenParams(temperature=self.config.temperature, max_tokens=self.config.max_tokens,
                                            seed=self.config.seed))

    def prompt(self, record: dict[str, Any]) -> list[Message]:
        lang = lang_of(record["text"])
        p = prompts("longdoc", lang)
        user = render(p["user"], excerpt=excerpt(record["text"], self.config.head_units, self.config.tail_units),
                      units=count_length(record["text"]))
        return [{"role": "system", "content": p["system"]}, {"role": "user", "content": user}]

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        if record.get("skip"):
            raise Reject(record["skip"], retry=False)
        out = self.generate(self.prompt(record), attempt, schema=self.schema)
        return self.parse(record, out, attempt)

    def parse(self, record: dict[str, Any], output: Any, attempt: int = 0) -> list[dict[str, Any]]:
        text = record["text"]
        lang = lang_of(text)
        instruction = str(output.get("instruction", "")).strip()
        if count_length(instruction) < (8 if lang == "zh" else 5):
            raise Reject("instruction too short")
        if count_length(instruction) > 200:
            raise Reject("instruction too long (over 200 units)")
        from bimo.integrity import measure

        if measure(instruction).repeated_share > 0.1:
            raise Reject("instruction repeats itself")
        if lang_of(instruction) != lang:
            raise Reject(f"instruction not in the text's language ({lang})")
        if detect_length(instruction) is not None:
            raise Reject("instruction states a length itself (code adds the length)")
        if _copies(instruction, text, lang):
            raise Reject("instruction copies the text")
        if echoes_prompt(instruction, lang):
            raise Reject("instruction repeats the prompt's wording")
        units = count_length(text)
        rng = random.Random(f"{self.key(record)}:{self.config.seed}:{attempt}")
        prompt, clause, position = with_length(instruction, units, lang, rng)
        meta = {"task": "longdoc", "lang": lang, "source_doc": record.get("doc_id"),
                "form": str(output.get("form", "")).strip(), "length": units,
                "required_length": clause.stated, "length_clause": clause.text, "clause_kind": clause.kind,
                "clause_position": position, "source": (record.get("metadata") or {}).get("source"),
                "license": (record.get("metadata") or {}).get("license")}
        return [sft(prompt, text, meta)]


def check_licences(docs: list[dict[str, Any]]) -> None:
    """One line naming the documents without a licence, before any model work."""
    missing = [str(d.get("id", i + 1)) for i, d in enumerate(docs) if not (d.get("metadata") or {}).get("license")]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise BimoError(f"{len(missing)} document(s) have no metadata.license ({', '.join(missing[:3])}{more}); "
                        "add the source's licence or pass --no-license-check")
