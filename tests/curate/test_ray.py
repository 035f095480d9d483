"""The Ray engine runs the same operators and produces byte-identical output."""

from curate_util import write_jsonl

from bimo.curate import pipeline
from needs import unavailable

try:
    import ray
except ImportError:
    ray = None


def test_local_and_ray_outputs_are_identical(tmp_path, tang300, brown, editions):
    """A local Ray cluster the engine starts itself (2 CPUs: two worker processes run the tasks)."""
    if ray is None:
        unavailable("ray is not installed: pip install 'bimo[ray]'")
    write_jsonl(tmp_path / "in" / "a.jsonl", tang300[:120] + editions[:40])
    write_jsonl(tmp_path / "in" / "b.jsonl", brown + editions[40:] + tang300[:10])
    steps = [{"normalize": {"t2s": True}}, {"langid": {}}, {"length": {}}, {"genre": {}}]
    outs = {}
    for engine in ("local", "ray"):
        r = pipeline.Recipe(inputs=[str(tmp_path / "in")], output=str(tmp_path / engine), steps=steps,
                            dedup={}, mix={"genre": {"fiction": 1}}, engine=engine, workers=2, split_mb=0.05)
        pipeline.run(r, progress=False)
        if engine == "ray":
            assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
        outs[engine] = {p.relative_to(tmp_path / engine): p.read_bytes()
                        for p in (tmp_path / engine).rglob("shard-*.jsonl")}
    ray.shutdown()
    assert outs["local"] == outs["ray"]
    assert len(outs["local"]) >= 5  # output shards (b.jsonl is read as two byte ranges) + rejects
