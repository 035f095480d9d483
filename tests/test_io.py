import json

import pytest

from bimo.errors import BimoError
from bimo.io import JsonlAppender, atomic_write_text, iter_jsonl, read_text


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a" / "out.txt"
    atomic_write_text(target, "内容")
    assert target.read_text(encoding="utf-8") == "内容"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_read_text_errors(tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("中文".encode("gbk"))
    with pytest.raises(BimoError, match="not valid UTF-8"):
        read_text(bad)
    with pytest.raises(BimoError, match="not found"):
        read_text(tmp_path / "missing.txt")


def test_iter_jsonl_collects_bad_lines(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"a": 1}\nnot json\n[1]\n\n{"a": 2}\n', encoding="utf-8")
    errors: list[str] = []
    assert [r["a"] for r in iter_jsonl(f, errors)] == [1, 2]
    assert len(errors) == 2 and "x.jsonl:2" in errors[0]
    with pytest.raises(BimoError, match="invalid JSON"):
        list(iter_jsonl(f))


def test_appender_repairs_torn_last_line(tmp_path):
    f = tmp_path / "out.jsonl"
    f.write_text('{"i": 0}\n{"i": 1', encoding="utf-8")  # crash mid-write
    with JsonlAppender(f) as app:
        app.write({"i": 1})
        app.write_many([{"i": 2}, {"i": 3}])  # one write, one fsync
    assert [json.loads(line)["i"] for line in f.read_text().splitlines()] == [0, 1, 2, 3]
