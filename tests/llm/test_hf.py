"""The hf: backend with a tiny random Llama and a tokenizer trained in the test."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="hf: backend needs the [train] extra")

from bimo.errors import ContextOverflow  # noqa: E402
from bimo.llm import get_backend  # noqa: E402


@pytest.fixture(scope="module")
def hf_backend(tmp_path_factory):
    from bimo.train.tiny import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("hf") / "tiny")
    be = get_backend(f"hf:{path}")
    yield be
    be.close()


def test_generate_seeded_and_cached(hf_backend):
    a = hf_backend.chat("Write one line about the river.", max_tokens=12, seed=1, temperature=0.9)
    b = hf_backend.chat("Write one line about the river.", max_tokens=12, seed=1, temperature=0.9, cache=False)
    assert a.completion_tokens > 0 and a.text == b.text and not b.cached


def test_stream_and_stop(hf_backend):
    stream = hf_backend.stream("Write one line about the city.", max_tokens=12, temperature=0, cache=False)
    pieces = list(stream)
    assert "".join(pieces) == stream.completion.text
    full = hf_backend.chat("Write one line about the city.", max_tokens=12, temperature=0, cache=False).text
    if " " in full.strip():
        word = full.strip().split(" ")[1]
        cut = hf_backend.chat("Write one line about the city.", max_tokens=12, temperature=0, stop=[word], cache=False)
        assert word not in cut.text


def test_context_overflow(hf_backend):
    with pytest.raises(ContextOverflow):
        hf_backend.chat("river " * 5000, max_tokens=4, cache=False)


def test_a_closed_stream_still_reports_all_it_decoded(hf_backend):
    """generate cannot be interrupted: after close, the text still covers every token the
    usage counts (the writer learns its units-per-token ratio from the pair)."""
    full = hf_backend.chat("Write one line about the sea.", max_tokens=12, temperature=0, cache=False)
    stream = hf_backend.stream("Write one line about the sea.", max_tokens=12, temperature=0, cache=False)
    with stream:
        for _ in stream:
            stream.close()
    assert stream.completion.completion_tokens == full.completion_tokens
    assert stream.completion.text == full.text


def test_first_token_logprobs(hf_backend):
    """`top_logprobs` gets the likeliest first tokens in OpenAI's shape (what logprob judges read)."""
    import math

    comp = hf_backend.chat("Pick A or B.", max_tokens=1, temperature=0, top_logprobs=5, cache=False)
    top = comp.first_token_logprobs()
    assert len(top) == 5 and all(v <= 0 for v in top.values())
    assert sum(math.exp(v) for v in top.values()) <= 1.0 + 1e-6
    assert max(top, key=top.get) == comp.raw["choices"][0]["logprobs"]["content"][0]["token"]
    assert not hf_backend.chat("Pick A or B.", max_tokens=1, temperature=0, cache=False).first_token_logprobs()
