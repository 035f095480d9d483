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


def test_one_yaml_loader_for_user_files(tmp_path):
    from bimo.io import read_yaml, read_yaml_mapping
    from bimo.synth.library import load_principles

    (tmp_path / "p").mkdir()
    bad = tmp_path / "p" / "broken.yaml"
    bad.write_text("key: [unclosed\n", encoding="utf-8")
    for load in (lambda: read_yaml(bad), lambda: load_principles(tmp_path / "p"),
                 lambda: read_yaml_mapping(bad, kind="recipe", shape="a mapping")):
        with pytest.raises(BimoError, match=r"broken.yaml: not valid YAML \(") as exc:
            load()
        assert "\n" not in str(exc.value)
    (tmp_path / "list.yaml").write_text("- a\n", encoding="utf-8")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert read_yaml(tmp_path / "list.yaml") == ["a"]
    assert read_yaml_mapping(tmp_path / "empty.yaml", kind="recipe", shape="a mapping") == {}
    with pytest.raises(BimoError, match="list.yaml: a recipe is a mapping"):
        read_yaml_mapping(tmp_path / "list.yaml", kind="recipe", shape="a recipe is a mapping")
    with pytest.raises(BimoError, match="recipe not found"):
        read_yaml_mapping(tmp_path / "none.yaml", kind="recipe", shape="a mapping")
