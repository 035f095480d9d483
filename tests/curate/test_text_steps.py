"""Normalisation (NFKC, full/half width, 繁→简) and language/script ID."""

from bimo.curate.langid import LanguageTagger
from bimo.curate.normalize import Normalizer


def test_t2s_and_width(editions):
    doc = {"id": "x", "text": editions[0]["text"] + "　ＡＢＣ１２３", "metadata": {}}
    assert Normalizer(t2s=True).process(doc) is None
    assert "ABC123" in doc["text"]
    assert "牀" not in doc["text"] and "斷" not in doc["text"]  # 切斷牙牀 → 切断牙床
    assert "，" in doc["text"]  # Chinese punctuation kept full-width


def test_language_and_mixed_script(tang300, brown):
    tagger = LanguageTagger(keep=["zh"])
    zh = {"id": "z", "text": tang300[5]["text"], "metadata": {}}
    en = {"id": "e", "text": brown[0]["text"], "metadata": {}}
    assert tagger.process(zh) is None and zh["metadata"]["lang"] == "zh"
    assert tagger.process(en) == "language: en" and en["metadata"]["lang"] == "en"
    mixed = {"id": "m", "text": tang300[5]["text"] + " " + brown[0]["text"][:200], "metadata": {}}
    LanguageTagger().process(mixed)
    assert 0.2 < mixed["metadata"]["mixed_script"] < 0.8
