"""Read and check training records before any model is loaded.

Formats (TRL's conversational ones, plus bimo's curated text):
  sft:      {"messages": [{"role", "content"}, ...], "meta": {...}}
  dpo:      {"prompt": [messages] | str, "chosen": [assistant msg] | str, "rejected": ..., "meta": {...}}
  pretrain: {"id", "text", "metadata"}
Every record is checked up front so a bad line 9,000 fails in a second, not an hour in.
Only the columns TRL needs are kept: free-form `meta` dicts differ between records and
would break Arrow's schema inference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import iter_jsonl

ROLES = {"system", "user", "assistant", "tool"}


def _messages(value: Any, where: str, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BimoError(f"{where}: `{field}` must be a non-empty list of messages")
    out = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict) or msg.get("role") not in ROLES or not isinstance(msg.get("content"), str):
            raise BimoError(f"{where}: `{field}[{i}]` must be {{\"role\": one of {sorted(ROLES)}, \"content\": str}}")
        out.append({"role": msg["role"], "content": msg["content"]})
    return out


def _sft(rec: dict[str, Any], where: str) -> dict[str, Any]:
    if "messages" not in rec:
        raise BimoError(f"{where}: SFT records need `messages` (got keys {sorted(rec)})")
    msgs = _messages(rec["messages"], where, "messages")
    if not any(m["role"] == "assistant" and m["content"].strip() for m in msgs):
        raise BimoError(f"{where}: no non-empty assistant message to learn from")
    return {"messages": msgs}


def _turns(value: Any, where: str, field: str, role: str) -> list[dict[str, str]]:
    # Plain strings are accepted for convenience and turned into one message.
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return _messages(value, where, field)


def _dpo(rec: dict[str, Any], where: str) -> dict[str, Any]:
    missing = [k for k in ("prompt", "chosen", "rejected") if k not in rec]
    if missing:
        raise BimoError(f"{where}: preference records need prompt/chosen/rejected (missing {', '.join(missing)})")
    out = {
        "prompt": _turns(rec["prompt"], where, "prompt", "user"),
        "chosen": _turns(rec["chosen"], where, "chosen", "assistant"),
        "rejected": _turns(rec["rejected"], where, "rejected", "assistant"),
    }
    for k in ("chosen", "rejected"):
        if out[k][-1]["role"] != "assistant":
            raise BimoError(f"{where}: `{k}` must end with an assistant message")
    return out


def _pretrain(rec: dict[str, Any], where: str) -> dict[str, Any]:
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BimoError(f"{where}: pretraining records need a non-empty `text` string (got keys {sorted(rec)})")
    return {"text": text}


_CHECKS = {"sft": _sft, "dpo": _dpo, "pretrain": _pretrain}


def load_records(path: Path | str, stage: str) -> list[dict[str, Any]]:
    """All records of `path`, reduced to the columns TRL reads; BimoError on the first bad one."""
    path = Path(path)
    if not path.exists():
        raise BimoError(f"training data not found: {path}")
    check = _CHECKS[stage]
    out = [check(rec, f"{path}:{i}") for i, rec in enumerate(iter_jsonl(path), 1)]
    if not out:
        raise BimoError(f"{path}: no records")
    return out


def check_lengths(records: list[dict[str, Any]], tokenizer: Any, max_length: int, where: str) -> None:
    """One line naming the SFT records that `max_length` tokens cannot hold, and by how much
    each would be cut, before any training step."""
    over = []
    for i, rec in enumerate(records, 1):
        ids = tokenizer.apply_chat_template(rec["messages"], tokenize=True)
        n = len(ids["input_ids"] if hasattr(ids, "keys") else ids)
        if n > max_length:
            over.append((n, i))
    if over:
        over.sort(reverse=True)
        worst = ", ".join(f"record {i} ({n:,} tokens, {1 - max_length / n:.0%} cut)" for n, i in over[:3])
        raise BimoError(f"{where}: {len(over)} of {len(records)} SFT records exceed max_length {max_length:,} tokens "
                        f"and would be cut: {worst}; raise max_length to {over[0][0]:,} or set allow_truncation: true")


def to_dataset(records: list[dict[str, Any]]):
    """A `datasets.Dataset` (imported here: datasets is heavy and only needed to train)."""
    from datasets import Dataset

    return Dataset.from_list(records)


def split_last_turn(record: dict[str, Any]) -> dict[str, Any]:
    """messages -> prompt/completion at the last assistant turn.

    Used when the base model's chat template has no `{% generation %}` markers and TRL has
    no patched training template for it: completion-only loss then still keeps the loss on
    the answer (earlier assistant turns become context).
    """
    msgs = record["messages"]
    last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
    return {"prompt": msgs[:last], "completion": [msgs[last]]}
