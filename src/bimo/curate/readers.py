"""Readers: JSONL (plain or .gz), plain-text folders and Parquet, as shards.

A *shard* is the unit of parallel work and of resume: one JSONL/Parquet file, or
a batch of text files. Readers never raise on bad records: malformed JSON,
invalid UTF-8, missing fields and oversized documents are turned into rejects
with a reason (the raw line kept), so a run goes on and nothing is lost.
"""

from __future__ import annotations

import functools
import glob
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bimo.curate.base import Doc, DocStep
from bimo.errors import BimoError
from bimo.extras import require

TEXT_SUFFIXES = {".txt", ".md"}
JSONL_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson")


@dataclass(frozen=True)
class Shard:
    """One unit of input: a kind ('jsonl', 'parquet', 'text') and its files.

    A large plain JSONL file is cut into several shards by byte range: a shard reads the
    lines that *start* in [start, end), so every line is read exactly once.
    """

    index: int
    kind: str
    paths: tuple[str, ...]
    split: str = "file"  # text shards: 'file' (one doc per file) or 'blank_line'
    start: int = 0
    end: int | None = None  # None: to the end of the file

    @property
    def source(self) -> str:
        """The input file's name (the default `metadata.source_file`)."""
        return _label(self.paths, 0, None)

    @property
    def label(self) -> str:
        """Unique name of the shard: the file name, `+N` more files, or `@start` for a byte range."""
        return _label(self.paths, self.start, self.end)


@functools.lru_cache(maxsize=4096)
def _label(paths: tuple[str, ...], start: int, end: int | None) -> str:
    name = Path(paths[0]).name
    if len(paths) > 1:
        return f"{name}+{len(paths) - 1}"
    return name if end is None else f"{name}@{start}"


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if path.suffix.lower() in TEXT_SUFFIXES:
        return "text"
    return None


def expand_inputs(inputs: list[str], text_split: str = "file", text_files_per_shard: int = 1000,
                  split_bytes: int = 0) -> list[Shard]:
    """Globs, files and folders → sorted shards. A folder contributes every known file in it.

    With `split_bytes` > 0, plain (not gzipped) JSONL files larger than that become several
    shards of about `split_bytes` each, so one big file still keeps every worker busy.
    """
    files: list[Path] = []
    for spec in inputs:
        matches = sorted(glob.glob(spec, recursive=True)) if any(c in spec for c in "*?[") else [spec]
        if not matches:
            raise BimoError(f"no input matches {spec!r}")
        for m in matches:
            p = Path(m)
            if p.is_dir():
                files.extend(sorted(q for q in p.rglob("*") if q.is_file() and _kind(q)))
            elif p.exists():
                if _kind(p) is None:
                    raise BimoError(f"unknown input type: {p} (expected .jsonl[.gz], .parquet, .txt or a folder)")
                files.append(p)
            else:
                raise BimoError(f"input not found: {p}")
    if not files:
        raise BimoError("no input files found in " + ", ".join(inputs))
    shards: list[Shard] = []
    texts = [f for f in files if _kind(f) == "text"]
    for f in files:
        kind = _kind(f) or "jsonl"
        if kind == "text":
            continue
        size = f.stat().st_size if kind == "jsonl" and split_bytes > 0 and not f.name.endswith(".gz") else 0
        if size > split_bytes > 0:
            for lo in range(0, size, split_bytes):
                shards.append(Shard(len(shards), kind, (str(f),), start=lo, end=min(lo + split_bytes, size)))
        else:
            shards.append(Shard(len(shards), kind, (str(f),)))
    for i in range(0, len(texts), text_files_per_shard):
        chunk = tuple(str(f) for f in texts[i:i + text_files_per_shard])
        shards.append(Shard(len(shards), "text", chunk, text_split))
    return shards


class Reader(DocStep):
    """Turns a shard into documents; bad records become rejects of this step."""

    name = "read"

    def __init__(self, text_key: str = "text", id_key: str = "id", max_doc_chars: int = 5_000_000):
        super().__init__()
        self.text_key, self.id_key, self.max_doc_chars = text_key, id_key, max_doc_chars

    def bad(self, shard: Shard, where: str, raw: str, reason: str) -> None:
        self.stats.seen += 1
        self.reject({"id": f"{shard.label}:{where}", "text": raw, "metadata": {"source_file": shard.source}}, reason)

    def coerce(self, obj: object, shard: Shard, where: str) -> Doc | None:
        """Datatrove shape with defaults; returns None (after rejecting) when unusable."""
        self.stats.seen += 1
        if not isinstance(obj, dict):
            self.reject({"id": f"{shard.label}:{where}", "text": json.dumps(obj, ensure_ascii=False), "metadata": {}},
                        "not_an_object")
            return None
        text = obj.get(self.text_key)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {} if meta is None else {"original_metadata": meta}
        meta = {**{k: v for k, v in obj.items() if k not in (self.text_key, self.id_key, "metadata")}, **meta}
        meta.setdefault("source_file", shard.source)
        doc_id = obj.get(self.id_key)
        doc = {"id": str(doc_id) if doc_id is not None else f"{shard.label}:{where}", "text": text, "metadata": meta}
        if not isinstance(text, str):
            doc["text"] = "" if text is None else json.dumps(text, ensure_ascii=False)
            self.reject(doc, "missing_text")
            return None
        if len(text) > self.max_doc_chars:
            self.reject(doc, f"too_long: {len(text)} chars > max_doc_chars {self.max_doc_chars}")
            return None
        if not text.strip():
            self.reject(doc, "empty_text")
            return None
        self.stats.kept += 1
        return doc

    def read(self, shard: Shard) -> Iterator[Doc]:
        if shard.kind == "jsonl":
            yield from self._jsonl(shard)
        elif shard.kind == "parquet":
            yield from self._parquet(shard)
        else:
            yield from self._text(shard)

    def _jsonl(self, shard: Shard) -> Iterator[Doc]:
        path = shard.paths[0]
        opener = gzip.open if path.endswith(".gz") else open
        try:
            fh = opener(path, "rb")
            lines: Iterator[bytes] = fh
            if shard.end is not None:
                lines = _byte_range(fh, shard.start, shard.end)
            lineno = 0
            for raw in lines:
                lineno += 1
                if raw.isspace():
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.bad(shard, str(lineno), raw.decode("utf-8", "backslashreplace"),
                             f"invalid_utf8: byte {exc.start}")
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    self.bad(shard, str(lineno), line, f"malformed_json: {exc.msg}")
                    continue
                doc = self.coerce(obj, shard, str(lineno))
                if doc is not None:
                    yield doc
            fh.close()
        except (OSError, EOFError) as exc:  # truncated gzip and the like: keep what was read
            self.bad(shard, "eof", "", f"read_error: {exc}")

    def _parquet(self, shard: Shard) -> Iterator[Doc]:
        require("curate", "reading Parquet", ("pyarrow",))
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(shard.paths[0])
        except Exception as exc:  # noqa: BLE001 - any pyarrow failure is a bad file
            self.bad(shard, "file", "", f"read_error: {exc}")
            return
        row = 0
        for batch in pf.iter_batches(batch_size=1024):
            for obj in batch.to_pylist():
                row += 1
                doc = self.coerce(obj, shard, str(row))
                if doc is not None:
                    yield doc

    def _text(self, shard: Shard) -> Iterator[Doc]:
        for path in shard.paths:
            p = Path(path)
            data = p.read_bytes()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad(shard, p.name, data.decode("utf-8", "backslashreplace"), f"invalid_utf8: byte {exc.start}")
                continue
            blocks = [text] if shard.split == "file" else [b for b in text.split("\n\n")]
            for i, block in enumerate(blocks):
                if shard.split != "file" and not block.strip():
                    continue
                where = p.stem if shard.split == "file" else f"{p.stem}:{i}"
                doc = self.coerce({"id": where, "text": block, "metadata": {"source_file": p.name}}, shard, where)
                if doc is not None:
                    yield doc


def _byte_range(fh, start: int, end: int) -> Iterator[bytes]:
    """The lines of an open binary file that start at a byte offset in [start, end)."""
    pos = start
    if start > 0:
        # The line running into this range belongs to the previous one: skip to the next
        # newline at or after start - 1, a block at a time (the line may be huge).
        pos = start - 1
        fh.seek(pos)
        while True:
            block = fh.read(1 << 20)
            if not block:
                return
            nl = block.find(b"\n")
            if nl >= 0:
                pos += nl + 1
                fh.seek(pos)
                break
            pos += len(block)
    while pos < end:
        raw = fh.readline()
        if not raw:
            return
        pos += len(raw)
        yield raw
