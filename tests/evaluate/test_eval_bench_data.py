import json
from collections import Counter
from pathlib import Path

from bimo.evaluate.benchgen import DOMAINS, NEEDS_INPUT, TASKS, generate

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "prompts" / "bimo_bench.jsonl"


def test_bimo_bench_file():
    items = [json.loads(line) for line in BENCH.read_text(encoding="utf-8").splitlines()]
    assert items == generate()                       # the file is what the generator makes
    assert len(items) >= 200
    assert len({i["id"] for i in items}) == len(items)
    assert {(i["domain"], i["task"]) for i in items} == {(d, t) for d in DOMAINS for t in TASKS}
    langs = Counter(i["lang"] for i in items)
    assert 0.55 <= langs["zh"] / len(items) <= 0.65
    for i in items:
        assert set(i) <= {"id", "prompt", "task", "domain", "lang", "input", "length"}
        assert (i["task"] in NEEDS_INPUT) == bool(i.get("input"))
        assert "{" not in i["prompt"]                # every placeholder filled
