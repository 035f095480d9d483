"""The two record shapes TRL loads directly.

SFT (conversational): `{"messages": [{"role", "content"}...], "meta": {...}}`
Preference (conversational, explicit prompt): `{"prompt": [...], "chosen": [...],
"rejected": [...], "meta": {...}}` where `chosen`/`rejected` are the assistant turns.
"""

from __future__ import annotations

from typing import Any

from bimo.errors import BimoError


def user_prompt(instruction: str, input_text: str = "") -> str:
    """Instruction, then the material it works on (if any), separated by a blank line."""
    return instruction.strip() + (f"\n\n{input_text.strip()}" if input_text and input_text.strip() else "")


def split_request(text: str) -> tuple[str, str]:
    """A user prompt back into (instruction, material): the inverse of `user_prompt`."""
    instruction, _, material = text.strip().partition("\n\n")
    return instruction.strip(), material.strip()


def sft(prompt: str | list[dict], answer: str, meta: dict[str, Any], system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    messages.append({"role": "assistant", "content": answer})
    return {"messages": messages, "meta": meta}


def preference(prompt: str | list[dict], chosen: str, rejected: str, meta: dict[str, Any]) -> dict[str, Any]:
    msgs = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    return {"prompt": msgs, "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}], "meta": meta}


def kind(record: dict[str, Any]) -> str:
    """'sft' or 'preference' (one-line error for anything else)."""
    if "chosen" in record and "rejected" in record:
        return "preference"
    if isinstance(record.get("messages"), list):
        return "sft"
    raise BimoError(f"record {str(record)[:80]} is neither SFT (messages) nor preference (chosen/rejected)")


def last_user(messages: list[dict]) -> str:
    return next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")


def last_assistant(messages: list[dict]) -> str:
    return next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "assistant"), "")


def instruction_pair(record: dict[str, Any]) -> tuple[str, str]:
    """(prompt text, response text) of an SFT record, or of a plain {instruction, output} row."""
    if isinstance(record.get("messages"), list):
        return last_user(record["messages"]), last_assistant(record["messages"])
    meta = record.get("meta") or {}
    instr = record.get("instruction") or record.get("prompt") or meta.get("instruction") or ""
    return user_prompt(str(instr), str(record.get("input") or "")), str(record.get("output") or record.get("response") or "")
