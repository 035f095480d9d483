"""The Ray engine runs the same operators and produces byte-identical output."""

import pytest
from curate_util import write_jsonl

from bimo.curate import pipeline

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ray[data]==2.60.0')")


def test_local_and_ray_outputs_are_identical(tmp_path, tang300, brown, editions):
    write_jsonl(tmp_path / "in" / "a.jsonl", tang300[:120] + editions[:40])
    write_jsonl(tmp_path / "in" / "b.jsonl", brown + editions[40:] + tang300[:10])
    steps = [{"normalize": {"t2s": True}}, {"langid": {}}, {"length": {}}, {"genre": {}}]
    outs = {}
    for engine in ("local", "ray"):
        r = pipeline.Recipe(inputs=[str(tmp_path / "in")], output=str(tmp_path / engine), steps=steps,
                            dedup={}, mix={"genre": {"fiction": 1}}, engine=engine, workers=2, split_mb=0.05)
        pipeline.run(r, progress=False)
        outs[engine] = {p.relative_to(tmp_path / engine): p.read_bytes()
                        for p in (tmp_path / engine).rglob("shard-*.jsonl")}
    ray.shutdown()
    assert outs["local"] == outs["ray"]
    assert len(outs["local"]) >= 5  # output shards (b.jsonl is read as two byte ranges) + rejects
