"""Writers: sharded JSONL output, written to a temporary name and renamed on close.

A shard file appears under its final name only when complete, so an
interrupted run never leaves a file that looks finished.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import IO

from bimo.curate.base import Doc

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # one encoder, not one per json.dumps call


class ShardWriter:
    """Write docs to `path` (optionally .gz); records each line's byte offset."""

    def __init__(self, path: str | Path, track_offsets: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.part")
        self._fh: IO[bytes] = (gzip.open(self.tmp, "wb", compresslevel=3) if self.path.suffix == ".gz"
                               else open(self.tmp, "wb"))
        self.offsets: list[int] | None = [] if track_offsets else None
        self.pos = 0
        self.count = 0

    def write(self, doc: Doc) -> None:
        self.write_raw(_ENCODE(doc).encode("utf-8") + b"\n")

    def write_raw(self, line: bytes) -> None:
        if self.offsets is not None:
            self.offsets.append(self.pos)
        self._fh.write(line)
        self.pos += len(line)
        self.count += 1

    def write_block(self, lines: bytes | memoryview, count: int) -> None:
        """Write `count` complete lines at once (offsets are not tracked)."""
        self._fh.write(lines)
        self.pos += len(lines)
        self.count += count

    def close(self) -> None:
        self._fh.flush()
        if hasattr(self._fh, "fileno") and not isinstance(self._fh, gzip.GzipFile):
            os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._fh.close()
        self.tmp.unlink(missing_ok=True)
