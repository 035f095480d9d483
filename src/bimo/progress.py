"""Progress on stderr: a live tqdm bar on a terminal, a few plain lines anywhere else.

A tqdm bar redraws itself with carriage returns several times a second; written into a
CI log or a file (`make demo 2>log`) that is thousands of frames on one "line". When
stderr is not a terminal, `progress_bar` returns a `LineProgress` instead: the same calls,
but it prints one short line at each `mark()` (a model chunk pulled, say), at most one
line per `every` seconds otherwise, and a last line on close.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

EVERY_S = 30.0


def _is_tty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable: Iterable[Any] | None = None, *, desc: str = "", total: float | None = None,
                 unit: str = "it", unit_scale: bool = False, disable: bool = False, file: IO[str] | None = None,
                 every: float = EVERY_S, **tqdm_kwargs: Any):
    """A tqdm bar when `file` (default stderr) is a terminal, else a `LineProgress`."""
    stream = file if file is not None else sys.stderr
    if disable or _is_tty(stream):
        from tqdm import tqdm

        class _Bar(tqdm):
            def mark(self, text: str) -> None:
                self.set_postfix_str(text)

        return _Bar(iterable, desc=desc, total=total, unit=unit, unit_scale=unit_scale, disable=disable,
                    file=stream, **tqdm_kwargs)
    return LineProgress(iterable, desc=desc, total=total, unit=unit, unit_scale=unit_scale, file=stream,
                        every=every)


class LineProgress:
    """The part of tqdm's interface bimo uses, printing whole lines instead of redrawing."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, desc: str = "", total: float | None = None,
                 unit: str = "it", unit_scale: bool = False, file: IO[str] | None = None, every: float = EVERY_S):
        self.iterable = iterable
        self.desc = desc
        self.total = total
        self.unit = unit
        self.unit_scale = unit_scale
        self.file = file if file is not None else sys.stderr
        self.every = every
        self.n: float = 0
        self.postfix = ""
        self.t0 = time.monotonic()
        self._last_line_at = self.t0
        self._last_line = ""
        self._closed = False

    # -- tqdm-compatible calls -------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self.iterable or ():
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        self.refresh()

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.set_postfix_str(", ".join(f"{k}={v}" for k, v in items.items()), refresh=refresh)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)
        if refresh:
            self.refresh()

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""
        if refresh:
            self.refresh()

    def refresh(self) -> None:
        """Print a line if `every` seconds passed since the last one."""
        if time.monotonic() - self._last_line_at >= self.every:
            self._print()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._print()

    # -- bimo's own ------------------------------------------------------------------
    def mark(self, text: str) -> None:
        """A step worth one line of its own (a model chunk done): print it now."""
        self.postfix = text
        self._print()

    def line(self) -> str:
        if self.unit_scale:
            amount = f"{self._fmt(self.n)}{self.unit}" + (f"/{self._fmt(self.total)}{self.unit}" if self.total else "")
        else:
            amount = f"{self.n:g}" + (f"/{self.total:g}" if self.total else "") + f" {self.unit}"
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        post = f", {self.postfix}" if self.postfix else ""
        head = f"{self.desc}: " if self.desc else ""
        return f"{head}{amount}{pct}{post} [{time.monotonic() - self.t0:.1f} s]"

    @staticmethod
    def _fmt(value: float) -> str:
        from tqdm import tqdm

        return tqdm.format_sizeof(value)

    def _print(self) -> None:
        text = self.line()
        # the elapsed time alone changing is no news
        if text.rsplit(" [", 1)[0] == self._last_line.rsplit(" [", 1)[0]:
            return
        self._last_line = text
        self._last_line_at = time.monotonic()
        try:
            self.file.write(text + "\n")
            self.file.flush()
        except (OSError, ValueError):
            pass
