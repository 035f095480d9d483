"""A stage's document sample: drawn once, kept on resume, drawn again when its settings change."""

import json

from bimo.pipeline.data import sampled_once


def test_sample_is_kept_on_resume_and_redrawn_when_settings_change(tmp_path):
    docs = [{"id": f"d{i}", "text": f"text {i}"} for i in range(20)]
    calls = []

    def source():
        calls.append(1)
        return iter(docs)

    first = sampled_once(tmp_path, source, 5, seed=1)
    ids = [json.loads(x)["id"] for x in first.read_text().splitlines()]
    assert len(ids) == 5 and len(calls) == 1
    assert sampled_once(tmp_path, source, 5, seed=1) == first and len(calls) == 1  # resumed: not redrawn
    again = [json.loads(x)["id"] for x in sampled_once(tmp_path, source, 5, seed=2).read_text().splitlines()]
    assert len(calls) == 2 and again != ids  # another seed: another sample
    more = [json.loads(x)["id"] for x in sampled_once(tmp_path, source, 8, seed=2).read_text().splitlines()]
    assert set(again) < set(more)  # a larger sample keeps what was drawn
