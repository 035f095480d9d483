"""End-to-end runs: recipe, input formats, bad input, report, resume."""

import gzip
import json
from pathlib import Path

import pytest
from curate_util import output_docs, read_jsonl, rejects, write_jsonl
from typer.testing import CliRunner

from bimo.curate import pipeline
from bimo.curate.cli import app
from bimo.curate.recipe import load_recipe
from bimo.errors import BimoError

RECIPE = """
inputs: [in/]
output: out/
workers: {workers}
steps:
  - normalize: {{t2s: true}}
  - langid: {{keep: [zh, en]}}
  - length: {{}}
  - symbols: {{}}
  - repetition: {{}}
  - boilerplate: {{}}
  - code: {{}}
  - badwords: {{}}
  - quality: {{threshold: 0.3}}
  - genre: {{}}
  - decontam: {{eval_sets: [eval.jsonl]}}
dedup: {{}}
mix: {{genre: {{fiction: 1}}, lang: {{zh: 4, en: 1}}}}  # the inputs hold no Chinese non-fiction
"""


def make_inputs(root: Path, tang300, brown, editions):
    """Real text in every supported format, plus broken records."""
    write_jsonl(root / "in" / "tang.jsonl", tang300[:150])
    with gzip.open(root / "in" / "editions.jsonl.gz", "wt", encoding="utf-8") as fh:
        for d in editions:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"id": [d["id"] for d in brown], "text": [d["text"] for d in brown]}),
                   root / "in" / "brown.parquet")
    folder = root / "in" / "texts"
    folder.mkdir()
    for d in tang300[150:170]:
        (folder / f"{d['id']}.txt").write_text(d["text"], encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    lines = [json.dumps(d, ensure_ascii=False) for d in tang300[170:200]]
    lines[3] = '{"id": "broken", "text": "unterminated'
    lines[5] = json.dumps({"id": "notext", "metadata": {}})
    lines[7] = json.dumps({"text": tang300[177]["text"]})  # no id, no metadata: gets defaults
    raw = ("\n".join(lines) + "\n").encode() + b'{"id": "latin1", "text": "caf\xe9"}\n'
    (root / "in" / "messy.jsonl").write_bytes(raw)
    (root / "in" / "empty.jsonl").write_bytes(b"")
    write_jsonl(root / "eval.jsonl", [{"question": tang300[10]["text"]}])
    return sum(1 for _ in range(150)) + len(editions) + len(brown) + 21 + 31


def test_recipe_end_to_end(tmp_path, tang300, brown, editions):
    n_in = make_inputs(tmp_path, tang300, brown, editions)
    (tmp_path / "r.yaml").write_text(RECIPE.format(workers=2), encoding="utf-8")
    summary = pipeline.run(load_recipe(tmp_path / "r.yaml"), progress=False)
    out = tmp_path / "out"
    kept, rej = output_docs(out), rejects(out)
    assert summary["input_docs"] == n_in
    assert len(kept) + len(rej) == n_in  # nothing lost silently
    assert all(d["metadata"]["rejected"]["reason"] for d in rej)
    reasons = {d["metadata"]["rejected"]["reason"].split(":")[0] for d in rej}
    assert {"malformed_json", "missing_text", "invalid_utf8", "contaminated", "near_duplicate"} <= reasons
    assert any(d["id"] == tang300[10]["id"] for d in rej)
    for d in kept:
        m = d["metadata"]
        assert {"lang", "quality", "genre"} <= set(m)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| dedup |" in report and "malformed_json" in report
    assert list((out / "report").glob("*.png"))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["output_docs"] == len(kept)


def test_resume_after_interruption_gives_identical_output(tmp_path, tang300, brown, editions, monkeypatch):
    make_inputs(tmp_path, tang300, brown, editions)
    (tmp_path / "r.yaml").write_text(RECIPE.format(workers=1), encoding="utf-8")
    recipe = load_recipe(tmp_path / "r.yaml")
    full = load_recipe(tmp_path / "r.yaml", output=str(tmp_path / "full"))
    pipeline.run(full, progress=False)

    real = pipeline.stage_c
    calls = []

    def dies_on_third(job):
        calls.append(job["index"])
        if len(calls) == 3:
            raise KeyboardInterrupt("power cut")
        return real(job)

    monkeypatch.setattr(pipeline, "stage_c", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(recipe, progress=False)
    monkeypatch.setattr(pipeline, "stage_c", real)
    with pytest.raises(BimoError, match="--resume"):
        pipeline.run(recipe, progress=False)
    pipeline.run(recipe, resume=True, progress=False)
    a = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("shard-*.jsonl"))
    b = sorted(p.relative_to(tmp_path / "full") for p in (tmp_path / "full").rglob("shard-*.jsonl"))
    assert a == b and a
    for rel in a:
        assert (tmp_path / "out" / rel).read_bytes() == (tmp_path / "full" / rel).read_bytes()


def test_huge_single_document_is_rejected_not_fatal(tmp_path, tang300):
    big = tang300[0]["text"] * 60_000  # ~5 M characters in one line
    write_jsonl(tmp_path / "in" / "big.jsonl", [{"id": "huge", "text": big}] + tang300[:20])
    r = pipeline.dedup_recipe([str(tmp_path / "in")], str(tmp_path / "out"), workers=1, max_doc_chars=1_000_000)
    pipeline.run(r, progress=False)
    rej = rejects(tmp_path / "out", "filter")
    assert [d["id"] for d in rej] == ["huge"] and len(rej[0]["text"]) == len(big)
    assert len(output_docs(tmp_path / "out")) == 20


def test_200mb_document(tmp_path, tang300):
    big = "a" * 200_000_000
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "big.jsonl", "w") as fh:
        fh.write(json.dumps({"id": "huge", "text": big}) + "\n")
        for d in tang300[:5]:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    del big
    pipeline.run(pipeline.dedup_recipe([str(tmp_path / "in")], str(tmp_path / "out"), workers=1), progress=False)
    assert len(output_docs(tmp_path / "out")) == 5
    assert rejects(tmp_path / "out", "filter")[0]["metadata"]["rejected"]["reason"].startswith("too_long")


def test_user_mistakes_are_one_line_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["run", str(tmp_path / "missing.yaml")])
    assert isinstance(res.exception, BimoError) and "recipe not found" in str(res.exception)
    (tmp_path / "bad.yaml").write_text("inputs: [x]\noutput: o\nsteps:\n  - nosuchstep: {}\n")
    (tmp_path / "x").write_text("")
    with pytest.raises(BimoError, match="unknown step"):
        load_recipe(tmp_path / "bad.yaml").build_steps()
    (tmp_path / "bad2.yaml").write_text("inputs: [x]\noutput: o\ndedup: {bands: lots}\n")
    with pytest.raises(BimoError, match="dedup.bands"):
        load_recipe(tmp_path / "bad2.yaml")
    res = runner.invoke(app, ["dedup", str(tmp_path / "nope*.jsonl"), "-o", str(tmp_path / "o")])
    assert isinstance(res.exception, BimoError) and "no input matches" in str(res.exception)


def test_flags_instead_of_recipe(tmp_path, tang300, brown):
    write_jsonl(tmp_path / "in.jsonl", tang300[:40] + brown[:10] + tang300[:5])
    res = CliRunner().invoke(app, ["run", "-i", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                                   "--langs", "zh", "--rules", "--dedup", "--workers", "1"])
    assert res.exit_code == 0, res.output
    kept = output_docs(tmp_path / "out")
    assert len(kept) == 40 and all(d["metadata"]["lang"] == "zh" for d in kept)
    assert len(read_jsonl(next((tmp_path / "out" / "rejects").glob("*.dedup.jsonl")))) == 5


def test_big_jsonl_file_is_read_as_byte_range_shards(tmp_path, tang300, brown, editions):
    docs = tang300 + editions + brown + tang300[:30]  # the last 30 are exact copies
    path = write_jsonl(tmp_path / "in" / "one.jsonl", docs)
    size = path.stat().st_size
    outs = {}
    for name, split_mb in (("whole", 0), ("split", 0.04)):
        r = pipeline.dedup_recipe([str(path)], str(tmp_path / name), workers=2, split_mb=split_mb)
        summary = pipeline.run(r, progress=False)
        assert summary["input_docs"] == len(docs)
        outs[name] = b"".join(p.read_bytes() for p in sorted((tmp_path / name).glob("shard-*.jsonl")))
        assert summary["shards"] == (1 if split_mb == 0 else -(-size // 40_000))
    assert outs["split"] == outs["whole"]  # same documents kept, in the same order, byte for byte
    assert len(rejects(tmp_path / "split", "dedup")) == len(rejects(tmp_path / "whole", "dedup")) >= 30
    exact = [d for d in rejects(tmp_path / "split", "dedup") if d["metadata"]["rejected"]["reason"].startswith("exact")]
    assert len(exact) == 30 and all(d["metadata"]["duplicate_similarity"] == 1.0 for d in exact)


def test_byte_ranges_read_every_line_once(tmp_path):
    from bimo.curate.readers import Reader, expand_inputs

    lines = [{"id": f"d{i}", "text": "x" * (i % 7 + 1)} for i in range(200)]
    path = write_jsonl(tmp_path / "f.jsonl", lines)
    first_len = len(path.read_bytes().split(b"\n")[0]) + 1
    for split in (1, 5, first_len, first_len + 1, 997, 10**9):  # ranges ending exactly at line starts too
        shards = expand_inputs([str(path)], split_bytes=split)
        got = [d["id"] for s in shards for d in Reader().read(s)]
        assert got == [d["id"] for d in lines], split
    no_ids = write_jsonl(tmp_path / "n.jsonl", [{"text": f"t{i}"} for i in range(50)])
    ids = [d["id"] for s in expand_inputs([str(no_ids)], split_bytes=100) for d in Reader().read(s)]
    assert len(set(ids)) == 50 and ids[0] == "n.jsonl@0:1"
