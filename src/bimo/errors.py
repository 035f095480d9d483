"""One exception type for every mistake a user can make.

The CLI catches `BimoError` and prints its message as one line with a non-zero exit
(`bimo.cliutil.run_app`), so anything raised as `BimoError` must read well on its own,
without a traceback. A config that fails validation is told in one line by `validation_line`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class BimoError(Exception):
    """A user-facing error: bad input, missing model, unreachable server..."""

    exit_code = 2


class ModelNotFound(BimoError):
    """A model URI names a model that is not known or not pulled."""


class BackendError(BimoError):
    """A backend failed to answer (unreachable, garbage, timeout) after retries."""


class ContextOverflow(BimoError):
    """The prompt does not fit the model's context window."""

    def __init__(self, message: str, n_prompt: int | None = None, n_ctx: int | None = None):
        super().__init__(message)
        self.n_prompt = n_prompt
        self.n_ctx = n_ctx


def validation_line(exc: ValidationError, where: str, prefix: tuple[str, ...] = ()) -> str:
    """The first validation error as one line, `WHERE: key.path: what is wrong (got VALUE)`: an unknown
    key reads "unknown setting", a bad mapping key (e.g. a language code) is named itself."""
    e = exc.errors()[0]
    loc = [*prefix, *(str(x) for x in e["loc"])]
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        bad = loc.pop() if loc else "?"
        return f"{where}: {'.'.join(loc)}: key {bad!r}: {e['msg']}"
    if e["type"] == "extra_forbidden":
        msg = "unknown setting"
    else:
        got = e.get("input")
        quiet = isinstance(got, dict) or e["type"] in ("missing", "unexpected_keyword_argument")
        msg = e["msg"] + ("" if quiet else f" (got {got!r})")
    return ": ".join([where, *([".".join(loc)] if loc else []), msg])
