"""Rule filters on real text: classical Chinese survives, junk is caught with a reason."""

import inspect
import json.encoder

from bimo.curate.base import run_doc_steps
from bimo.curate.filters import (
    BadWordsFilter,
    BoilerplateFilter,
    CodeFilter,
    LengthFilter,
    RepetitionFilter,
    SymbolFilter,
)
from bimo.curate.langid import LanguageTagger
from bimo.curate.normalize import Normalizer


def rules():
    return [Normalizer(), LanguageTagger(), LengthFilter(), SymbolFilter(), RepetitionFilter(),
            BoilerplateFilter(), CodeFilter(), BadWordsFilter()]


def test_classical_chinese_survives_default_rules(tang300):
    steps = rules()
    kept = list(run_doc_steps(steps, tang300))
    assert len(tang300) >= 300
    assert len(kept) / len(tang300) >= 0.97, [(s.name, dict(s.stats.reasons)) for s in steps]


def test_english_prose_survives(brown):
    kept = list(run_doc_steps(rules(), brown))
    assert len(kept) / len(brown) >= 0.95


def test_each_filter_records_its_reason(tang300, brown):
    poem = tang300[0]["text"]
    prose = brown[0]["text"]
    code = "\n".join(inspect.getsource(json.encoder).splitlines()[200:260])  # real code: the stdlib
    rejected = []
    steps = rules()
    for s in steps:
        s.sink = rejected.append
    junk = [
        {"id": "short", "text": "你好", "metadata": {}},
        {"id": "ads", "text": poem + "\n点击查看更多精彩内容\n扫码关注公众号，免费领取资料", "metadata": {}},
        {"id": "code", "text": code, "metadata": {}},
        {"id": "spam", "text": prose + " Buy cheap viagra online today.", "metadata": {}},
        {"id": "dups", "text": "\n".join([poem.splitlines()[2]] * 8), "metadata": {}},
        {"id": "symbols", "text": "■■■ ★★★ ### ||| " * 10 + poem, "metadata": {}},
    ]
    kept = list(run_doc_steps(steps, junk))
    assert kept == []
    why = {d["id"]: d["metadata"]["rejected"]["step"] for d in rejected}
    assert why == {"short": "length", "ads": "boilerplate", "code": "code", "spam": "badwords",
                   "dups": "repetition", "symbols": "symbols"}
    assert all(d["metadata"]["rejected"]["reason"] for d in rejected)


def test_thresholds_are_per_language(brown):
    doc = {"id": "b", "text": brown[0]["text"], "metadata": {"lang": "en"}}
    strict_en = LengthFilter(min_len={"zh": 1, "en": 100000})
    assert strict_en.process(dict(doc, metadata={"lang": "en"})).startswith("too_short")
    strict_zh = LengthFilter(min_len={"zh": 100000, "en": 1})
    assert strict_zh.process(dict(doc, metadata={"lang": "en"})) is None
