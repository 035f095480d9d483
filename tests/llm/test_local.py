"""The in-process llama.cpp backend with the real tiny model."""

from __future__ import annotations

import json
import threading

import pytest

from bimo.errors import BackendError, ContextOverflow
from bimo.llm import get_backend
from bimo.llm.base import GenParams
from bimo.llm.cache import RequestCache

# maxLength bounds the name, so a sampled answer always closes within max_tokens.
SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


def test_generates_text(tiny_backend):
    comp = tiny_backend.chat("Write one sentence about the sea.", max_tokens=24, seed=1, cache=False)
    assert comp.text.strip() and comp.completion_tokens > 0 and comp.prompt_tokens > 0
    assert comp.finish_reason in ("stop", "length")


def test_seed_is_reproducible_and_cached(tiny_path):
    # A backend of its own, one slot: what other tests left in a shared backend's slots
    # (reused prompt prefixes, other batch shapes) can move a sampled token at temperature 0.9.
    with get_backend("local:tiny", n_ctx=2048, parallel=1) as be:
        a = be.chat("Name three colours.", max_tokens=20, seed=7, temperature=0.9)
        b = be.chat("Name three colours.", max_tokens=20, seed=7, temperature=0.9)
        assert a.text == b.text and b.cached and not a.cached
        c = be.chat("Name three colours.", max_tokens=20, seed=7, temperature=0.9, cache=False)
        assert c.text == a.text and not c.cached  # same seed → same text even without the cache


def test_cache_persists_across_backends(tiny_path, tmp_path, monkeypatch):
    monkeypatch.setenv("BIMO_CACHE", str(tmp_path / "c.sqlite"))
    with get_backend("local:tiny", n_ctx=4096) as be:
        first = be.chat("Say hi.", max_tokens=8, seed=3)
    assert len(RequestCache(tmp_path / "c.sqlite")) == 1
    with get_backend("local:tiny", n_ctx=4096) as be:
        again = be.chat("Say hi.", max_tokens=8, seed=3)
    assert again.cached and again.text == first.text


def test_streaming_matches_completion(tiny_backend):
    stream = tiny_backend.stream("Count from one to five.", max_tokens=24, seed=2, cache=False)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == stream.completion.text
    assert stream.completion.completion_tokens == 24 or stream.completion.finish_reason == "stop"


def test_stop_sequence(tiny_backend):
    comp = tiny_backend.chat("List the numbers 1, 2, 3, 4, 5 separated by commas.", max_tokens=40,
                             temperature=0, stop=["3"], cache=False)
    assert "3" not in comp.text and "4" not in comp.text


def test_json_schema_output(tiny_backend):
    data = tiny_backend.chat_json("Invent a person and give name and age.", SCHEMA, max_tokens=80, seed=1)
    assert set(data) == {"name", "age"} and isinstance(data["age"], int) and len(data["name"]) <= 40


def test_json_output_is_compact(tiny_backend):
    """No whitespace between JSON tokens: indentation is tokens decoded for nothing."""
    comp = tiny_backend.chat("Invent a person and give name and age.",
                             GenParams(max_tokens=80, seed=1, json_schema=SCHEMA), cache=False)
    data = json.loads(comp.text)
    assert comp.text == json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def test_concurrent_requests_all_finish(tiny_backend):
    results: list[str] = []

    def work(i: int) -> None:
        results.append(tiny_backend.chat(f"Story {i}: once upon a time", max_tokens=16, seed=i, cache=False).text)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 4 and all(results)


def test_closing_a_stream_cancels_generation(tiny_backend):
    stream = tiny_backend.stream("Write a very long story.", max_tokens=2000, seed=4, cache=False)
    got = []
    with stream:
        for piece in stream:
            got.append(piece)
            if len(got) == 3:
                stream.close()
    assert stream.completion is not None and stream.completion.completion_tokens < 100


def test_context_overflow_is_clear(tiny_backend):
    with pytest.raises(ContextOverflow, match="longer than the context of local:tiny .*limit is 4096"):
        tiny_backend.chat("word " * 6000, max_tokens=4, cache=False)


def test_timeout(tiny_backend):
    with pytest.raises(BackendError, match="timeout"):
        tiny_backend.chat("Write a long essay about rivers.", max_tokens=3000, timeout=0.3, cache=False,
                          seed=11, temperature=1.0)


def test_not_a_gguf(tmp_path):
    f = tmp_path / "x.gguf"
    f.write_bytes(b"not a model")
    with pytest.raises(Exception, match="not a GGUF"):
        get_backend(f"gguf:{f}")


def test_anti_repetition_settings_reach_llama_cpp(tiny_backend):
    """presence/frequency penalties and the DRY sampler change what a greedy decode writes."""
    assert tiny_backend.supports_dry
    ask = "Write the sentence 'the cat sat on the mat' ten times."
    base = GenParams(max_tokens=60, temperature=0.0, seed=1)
    plain = tiny_backend.chat(ask, base, cache=False).text
    dry = tiny_backend.chat(ask, base.model_copy(update={"dry_multiplier": 2.0}), cache=False).text
    freq = tiny_backend.chat(ask, base.model_copy(update={"frequency_penalty": 1.5}), cache=False).text
    assert dry != plain and freq != plain
