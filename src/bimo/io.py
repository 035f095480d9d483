"""Files: atomic writes, JSON Lines and YAML, shared by every stage.

Writes go to a temporary file in the same folder and are renamed into place,
so a crash never leaves a half-written file that looks complete.
"""

import functools
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bimo.errors import BimoError


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@functools.cache
def _umask() -> int:
    """The process umask, read once (reading it means setting it, which is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temporary file and a rename; the file gets the mode a plain open() would give
    (0666 less the umask), not mkstemp's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save_figure(fig: Any, path: str | Path, **savefig_kwargs: Any) -> Path:
    """Render a matplotlib figure in memory, then write it atomically (a chart is never
    left half-written by a crash). The format follows the file's suffix."""
    import io

    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", **savefig_kwargs)
    atomic_write_bytes(path, buf.getvalue())
    return path


def atomic_write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def sha256_file(path: str | Path) -> str:
    """The file's sha256, read in blocks (model weights and data files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def twin_path(out: str | Path, suffix: str) -> Path:
    """A file that goes with `OUT.jsonl` (errors, binding, plan, kept figures): `OUT` + suffix
    beside it. The one naming rule; a name without `.jsonl` keeps its full name
    (`out.txt`, `.errors.jsonl` -> `out.txt.errors.jsonl`)."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + suffix)


def errors_path(out: str | Path) -> Path:
    """Where a job writing `OUT.jsonl` records its failures: `OUT.errors.jsonl` beside it,
    the one rule for every stage (synthesis, judging, benchmark runs)."""
    return twin_path(out, ".errors.jsonl")


def read_text(path: str | Path, kind: str = "file") -> str:
    """Read a UTF-8 text file, with one-line errors for missing or non-UTF-8 files
    (`kind` names what the file is, in those errors: "recipe not found: ...")."""
    path = Path(path)
    if not path.exists():
        raise BimoError(f"{kind} not found: {path}")
    if path.is_dir():
        raise BimoError(f"expected a {kind}, got a folder: {path}")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BimoError(f"{path} is not valid UTF-8 (byte {exc.start}); convert it first, e.g. iconv -f GBK -t UTF-8") from None


def parse_yaml(text: str, where: str | Path) -> Any:
    """YAML text (safe loader), or a one-line BimoError naming `where` and the first problem."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BimoError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None


def read_yaml(path: str | Path, kind: str = "file") -> Any:
    """A YAML file, with one-line errors: "{kind} not found", a folder, non-UTF-8, invalid YAML.
    The one loader for YAML a user gives; files shipped in the package: `bimo.templates`."""
    return parse_yaml(read_text(path, kind), path)


def read_yaml_mapping(path: str | Path, *, kind: str, shape: str) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (a recipe, a config); an empty file is `{}`, anything
    else but a mapping a one-line error (`shape` says what it should be)."""
    data = read_yaml(path, kind) or {}
    if not isinstance(data, dict):
        raise BimoError(f"{path}: {shape}")
    return data


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_jsonl(path: str | Path, errors: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Yield JSON objects from a .jsonl(.gz) file.

    Malformed lines raise a one-line `BimoError`, unless an `errors` list is given,
    in which case a description of each bad line is appended there and reading goes on.
    """
    for _, obj in iter_jsonl_numbered(path, errors):
        yield obj


def iter_jsonl_numbered(path: str | Path, errors: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like `iter_jsonl`, but yields (line number, object), for messages that name the line."""
    path = Path(path)
    if not path.exists():
        raise BimoError(f"file not found: {path}")
    if path.is_dir():
        raise BimoError(f"expected a file, got a folder: {path}")

    def bad(msg: str) -> None:
        """A bad line: an error, or noted in `errors` and skipped."""
        if errors is None:
            raise BimoError(msg) from None
        errors.append(msg)

    with _open_text(path) as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError:
                bad(f"{path}:{lineno + 1}: not valid UTF-8")
                return
            if not line:
                return
            lineno += 1
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                bad(f"{path}:{lineno}: invalid JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                bad(f"{path}:{lineno}: expected a JSON object")
                continue
            yield lineno, obj


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return list(iter_jsonl(path))


class JsonlAppender:
    """Append records to a JSONL file, flushed and fsynced per record.

    Used by resumable jobs: a record is either fully on disk or not at all
    (a torn last line from a crash is dropped by `repair`).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_jsonl(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self.write_many([record])

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Append records with one write and one fsync: a crash leaves all of them, none,
        or a torn tail, which `repair` and the reader's own checks (the runner's part
        counts) detect."""
        self._fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_jsonl(path: Path) -> None:
    """Drop a torn (unterminated or unparseable) last line left by a crash."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            try:
                json.loads(last)
                return
            except ValueError:
                cut = len(data.rstrip(b"\n")) - len(last)
        else:
            cut = data.rfind(b"\n") + 1
        fh.truncate(cut)
