"""Model URIs: one parser for the backends, the recipe checks, the training base and the server."""

from __future__ import annotations

import pytest

from bimo.errors import BimoError
from bimo.llm.uri import ModelURI


def test_parse_splits_at_the_first_colon():
    uri = ModelURI.parse(" openai:http://127.0.0.1:8080/v1#qwen ")
    assert (uri.scheme, uri.path, str(uri)) == ("openai", "http://127.0.0.1:8080/v1#qwen", "openai:http://127.0.0.1:8080/v1#qwen")
    assert not uri.is_local
    assert ModelURI.parse("gguf:/m/x.gguf").is_local and ModelURI.parse("local:tiny").is_local
    assert ModelURI.parse("myplugin:thing").scheme == "myplugin"  # plugins bring their own schemes


@pytest.mark.parametrize("bad", ["tiny", "local:", ":x", ""])
def test_bad_uris_are_one_line_errors_naming_the_setting(bad):
    with pytest.raises(BimoError, match=r"^eval.judge: bad model URI .*; use local:NAME, gguf:PATH") as exc:
        ModelURI.parse(bad, "eval.judge")
    assert "\n" not in str(exc.value)


def test_bare_specs_become_uris():
    assert str(ModelURI.from_spec("small")) == "local:small"
    assert str(ModelURI.from_spec("/models/x.gguf")) == "gguf:/models/x.gguf"
    assert str(ModelURI.from_spec("runs/sft")) == "hf:runs/sft"
    assert str(ModelURI.from_spec("hf:/ckpt")) == "hf:/ckpt"
    assert ModelURI.known("C:/models/x") is None  # only bimo's own schemes count as URIs in a spec


def test_unknown_scheme_without_plugin():
    with pytest.raises(BimoError, match="unknown model scheme 'zzz' in 'zzz:x'; valid: local, gguf, openai, hf"):
        ModelURI.parse("zzz:x").plugin()
