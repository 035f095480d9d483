"""Rules and models on modern Chinese and on literature: the must-keep / must-drop corpus, refrains,
numbers and code characters in context, boilerplate counts, 繁→简 particles, held-out genre figures."""

from collections import Counter
from pathlib import Path

import pytest
from curate_util import DATA, read_jsonl
from messy import counts

from bimo.curate.classifier import TextClassifier, default_model_path
from bimo.curate.filters import BoilerplateFilter, CodeFilter, RepetitionFilter, SymbolFilter
from bimo.curate.normalize import Normalizer


def doc(text, lang="zh"):
    return {"id": "x", "text": text, "metadata": {"lang": lang}}


@pytest.fixture(scope="module")
def messy():
    return read_jsonl(DATA / "messy_corpus.jsonl")


def test_must_keep_and_must_drop_corpus(messy):
    """The counts reported in docs/curate.md: no false rejects, no false keeps."""
    c = counts(messy)
    assert len(messy) == 57 and Counter(d["metadata"]["expect"] for d in messy) == {"keep": 41, "drop": 16}
    assert c["false_reject"] == [] and c["false_keep"] == []


def test_modern_chinese_prose_is_not_labelled_poetry(messy):
    """Modern news, pop-science, a manual and reviews: non-fiction; verse and stories: fiction side."""
    from bimo.curate.quality import GenreTagger
    g = GenreTagger()
    got = {}
    for d in messy:
        if d["metadata"]["expect"] == "keep":
            x = {"id": d["id"], "text": d["text"], "metadata": {}}
            g.process(x)
            got[d["id"]] = x["metadata"]
    for k in ("news-0", "news-1", "news-2", "news-3", "popsci-0", "popsci-1", "manual-0", "review-0",
              "review-1", "technical-0", "history-0", "analects-0", "analects-1", "analects-2"):
        assert got[k]["genre"] == "nonfiction", (k, got[k])
    assert got["technical-0"]["genre_fine"] == "technical"
    assert {got[k]["genre_fine"] for k in ("analects-0", "analects-1", "analects-2")} == {"classical"}
    assert all(got[f"shijing-{i}"]["genre_fine"] == "poetry" for i in range(6))
    assert all(got[f"fiction-{i}"]["genre"] == "fiction" for i in range(4))
    assert sum(got[f"essay-{i}"]["genre"] == "fiction" for i in range(4)) >= 1


def test_junk_scores_low_and_good_prose_high(messy):
    q = TextClassifier.load(default_model_path("quality"))
    by_kind = {d["metadata"]["kind"]: d["text"] for d in messy}
    for kind in ("japanese", "russian", "mojibake", "kunkao", "oneword", "html", "code"):
        assert q.score(by_kind[kind], "pos") < 0.2, kind
    assert q.score("好的", "pos") < 0.2 and q.score("锟斤拷烫烫烫", "pos") < 0.2
    prose = "我用 Python 写了一个小工具，把 Markdown 笔记批量转换成网页。写代码的过程让我重新理解了“简单”二字：好的工具应当让人忘记它的存在。"
    assert q.score(prose, "pos") > 0.5


def test_heldout_genre_figures_match_the_docs():
    """Frozen held-out human texts (never trained on), in-source and out-of-source: the accuracy lines,
    per-class precision/recall tables and confusion matrices in docs/curate.md are these, verbatim."""
    from bimo.curate.data.build_default_models import read_oos, report
    g = TextClassifier.load(default_model_path("genre"))
    frozen = {lang: read_jsonl(DATA / f"heldout_{lang}.jsonl") for lang in ("zh", "en")}
    docs = (Path(__file__).parents[2] / "docs/curate.md").read_text(encoding="utf-8")
    for text in (report(g, frozen), report(g, read_oos(DATA), "out-of-source texts")):
        for block in text.split("\n\n"):
            assert block.strip() in docs, block
    acc = {lang: sum(g.predict(r["text"])[0] == r["genre"] for r in rows) / len(rows) for lang, rows in frozen.items()}
    assert acc["zh"] >= 0.95 and acc["en"] >= 0.85
    oos = read_oos(DATA)
    assert all(len(rows) >= 20 and {r["genre"] for r in rows} >= {"marketing", "poetry", "classical", "fiction"}
               for rows in oos.values())


def test_refrains_in_the_book_of_songs_are_kept(messy):
    rep = RepetitionFilter()
    for d in messy:
        if d["metadata"]["kind"] == "shijing":
            assert rep.process(doc(d["text"])) is None, d["text"]
    # whole phrases repeated are still spam, verse or not
    assert rep.process(doc("好好学习天天向上，" * 12)) is not None
    assert rep.process(doc("北京装修公司 北京装修公司哪家好 北京装修公司排名 " * 6)) is not None


def test_numbers_and_maths_are_judged_in_context(messy):
    sym, code = SymbolFilter(), CodeFilter()
    by_kind = {d["metadata"]["kind"]: d["text"] for d in messy}
    for kind in ("history", "maths"):
        assert sym.process(doc(by_kind[kind])) is None and code.process(doc(by_kind[kind])) is None, kind
    assert sym.process(doc(by_kind["numbers"])).startswith("number_ratio")
    assert code.process(doc(by_kind["code"], "en")) is not None


def test_boilerplate_needs_max_hits(messy):
    bp = BoilerplateFilter(max_hits=2)
    by_kind = {(d["metadata"]["kind"], d["metadata"]["lang"]): d["text"] for d in messy}
    assert bp.process(doc(by_kind[("quote_story", "zh")])) is None
    assert bp.process(doc(by_kind[("quote_story", "en")], "en")) is None
    assert bp.process(doc(by_kind[("boilerplate", "zh")])) is not None
    assert bp.process(doc("点击查看原文")) is not None  # a lone boilerplate line is most of its text


def test_t2s_converts_the_aspect_particle():
    n = Normalizer(t2s=True)
    d = doc("他騎著馬，想著她，看著書。著作等身，顯著，土著，著名。")
    n.process(d)
    assert d["text"] == "他骑着马，想着她，看着书。著作等身，显著，土著，著名。"

