"""Helpers shared by the curate tests (real sample files live in data/)."""

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path, docs):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    return path


def output_docs(out):
    docs = []
    for f in sorted(Path(out).glob("shard-*.jsonl")):
        docs += read_jsonl(f)
    return docs


def rejects(out, kind="*"):
    docs = []
    for f in sorted((Path(out) / "rejects").glob(f"*.{kind}.jsonl")):
        docs += read_jsonl(f)
    return docs
