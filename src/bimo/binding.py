"""What a resumable piece of work was made with, checked before any of it is reused.

Every resume that reuses earlier output (a long-form run folder, a runner output file, a
benchmark checkpoint) records a *binding* when it starts: the model URI and the settings
that change the text. Before reusing anything, the recorded binding is compared with the
one asked for now; a difference is refused (or, for a checkpoint that is only a cache,
started afresh) with one line naming what differs. So a file never holds texts of two
models or two settings under one name.

One rule for all of them: `make_binding` builds it, `differences` compares, and
`check_sidecar` does both for output files, whose binding lives beside them in
`OUT.binding.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import atomic_write_text, twin_path
from bimo.llm.base import GenParams

#: Generation settings that change the text (timeout and the JSON schema, fixed by the step, do not).
PARAM_FIELDS = ("temperature", "top_p", "max_tokens", "seed", "presence_penalty", "repeat_penalty", "stop")


def make_binding(model: str | None, **settings: Any) -> dict[str, Any]:
    """The model URI and settings, as plain JSON (so a recorded one compares equal)."""
    return json.loads(json.dumps({"model": model, **settings}, ensure_ascii=False, sort_keys=True, default=str))


def params_settings(params: GenParams) -> dict[str, Any]:
    """The text-changing part of a request's generation settings."""
    return {k: getattr(params, k) for k in PARAM_FIELDS}


def differences(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """'model local:tiny → local:small' for every setting that differs (recorded → wanted)."""
    return [f"{key} {_show(recorded.get(key))} → {_show(wanted.get(key))}"
            for key in sorted(set(recorded) | set(wanted)) if recorded.get(key) != wanted.get(key)]


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def sidecar_path(out: str | Path) -> Path:
    """`OUT.binding.json` beside `OUT.jsonl` (the same naming as the errors file)."""
    return twin_path(out, ".binding.json")


def write_sidecar(out: str | Path, binding: dict[str, Any]) -> None:
    atomic_write_text(sidecar_path(out), json.dumps(binding, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


def read_sidecar(out: str | Path) -> dict[str, Any] | None:
    path = sidecar_path(out)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise BimoError(f"{path} is damaged (not JSON); remove it and {Path(out).name} to start over") from None
    if not isinstance(data, dict):
        raise BimoError(f"{path} is damaged (not a JSON object); remove it and {Path(out).name} to start over")
    return data


def check_sidecar(out: str | Path, wanted: dict[str, Any], *, reusing: bool) -> None:
    """Before a run adds to `out`: refuse when it was made with other settings, else record them.

    `reusing` says whether earlier output is there to be reused. An output from before
    bindings were recorded is adopted with a note on stderr, as nothing says what made it.
    """
    out = Path(out)
    recorded = read_sidecar(out) if reusing else None
    if recorded is not None:
        diff = differences(recorded, wanted)
        if diff:
            raise BimoError(f"{out} was made with other settings ({'; '.join(diff)}); resuming would mix them: "
                            f"write to another file, or remove {out.name} and its .errors/.binding files to start over")
        return
    if reusing:
        sys.stderr.write(f"{out}: no record of the model and settings it was made with (older bimo); "
                         f"continuing it with {wanted.get('model')}\n")
    write_sidecar(out, wanted)
