"""Work shards: the documents stage A keeps, stored for the two later stages.

A work shard is `PREFIX.jsonl` (one JSON line per kept document, in input order) with
`PREFIX.off.npy` (each line's byte offset) beside it, and the dedup key files
(`PREFIX.exact.npy`, `PREFIX.lsh.npy`). Stage B reads documents back by global index to
verify duplicate candidates; stage C copies the kept lines byte for byte. Both memory-map
the shard and cut lines at the recorded offsets, so no file is read line by line.
"""

from __future__ import annotations

import json
import mmap
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bimo.curate.base import Doc


@dataclass
class ShardFiles:
    """One stage-A shard: its docs file, byte offsets and key files (via prefix)."""

    prefix: Path
    n: int

    @property
    def docs(self) -> Path:
        return Path(f"{self.prefix}.jsonl")

    def save_offsets(self, offsets: list[int]) -> None:
        """Record where each line of the docs file starts (written once the docs file is complete)."""
        np.save(f"{self.prefix}.off.npy", np.array(offsets, dtype=np.int64))


class WorkRow:
    """One line of a work shard as the final phase's steps see it: its place (line `k` of the
    shard, `index` in the corpus), its mixer row (id, genre, language, source, uniform value) when
    there is a mix, and the document itself, parsed only when a step rejects it (kept lines are
    copied as bytes)."""

    __slots__ = ("_data", "_span", "index", "k", "mix")

    def __init__(self, data: Any, span: np.ndarray, k: int, index: int, mix: list | None):
        self._data, self._span, self.k, self.index, self.mix = data, span, k, index, mix

    def doc(self) -> Doc:
        lo, hi = self._span[self.k]
        return json.loads(self._data[lo:hi])


class WorkDocs:
    """Random access to the documents of stage-A work shards by global index.

    Each work shard is memory-mapped (a bounded number at a time) and a document is
    the JSON line between two recorded byte offsets, so no file is read line by line.
    """

    def __init__(self, shards: list[ShardFiles], max_open: int = 16):
        self.shards = shards
        self.starts = np.cumsum([0] + [s.n for s in shards])
        self.max_open = max_open
        self._maps: OrderedDict[int, tuple[mmap.mmap | bytes, np.ndarray]] = OrderedDict()

    def shard(self, s: int) -> tuple[mmap.mmap | bytes, np.ndarray]:
        """(the shard's bytes, memory-mapped; (n, 2) array of each line's start and end offsets)."""
        got = self._maps.get(s)
        if got is not None:
            self._maps.move_to_end(s)
            return got
        with open(self.shards[s].docs, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data: mmap.mmap | bytes = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        off = np.asarray(np.load(f"{self.shards[s].prefix}.off.npy"), dtype=np.int64)
        got = self._maps[s] = (data, np.stack([off, np.append(off[1:], size)[:len(off)]], axis=1))
        while len(self._maps) > self.max_open:
            old, _ = self._maps.popitem(last=False)[1]
            if isinstance(old, mmap.mmap):
                old.close()
        return got

    def rows(self, s: int, first: int, mix: list[list] | None = None) -> Iterator[WorkRow]:
        """Every line of shard `s` as a `WorkRow`, numbered in the corpus from `first`."""
        data, span = self.shard(s)
        for k in range(len(span)):
            yield WorkRow(data, span, k, first + k, mix[k] if mix else None)

    def line_bytes(self, gs: np.ndarray) -> np.ndarray:
        """Byte length of each document's JSON line (a cheap size estimate, before reading it)."""
        out = np.zeros(len(gs), dtype=np.int64)
        shard = np.searchsorted(self.starts, gs, side="right") - 1
        for s in np.unique(shard).tolist():
            sel = shard == s
            off = np.load(f"{self.shards[s].prefix}.off.npy", mmap_mode="r")
            local = gs[sel] - self.starts[s]
            ends = np.append(np.asarray(off[1:], dtype=np.int64), self.shards[s].docs.stat().st_size)
            out[sel] = ends[local] - np.asarray(off, dtype=np.int64)[local]
        return out

    def get(self, g: int) -> Doc:
        s = int(np.searchsorted(self.starts, g, side="right") - 1)
        data, span = self.shard(s)
        lo, hi = span[g - self.starts[s]]
        return json.loads(data[lo:hi])

    def close(self) -> None:
        for data, _ in self._maps.values():
            if isinstance(data, mmap.mmap):
                data.close()
        self._maps.clear()
