"""Genre classes beyond fiction/non-fiction: marketing copy (a genre, not junk; spam ads stay junk),
literary essays on the fiction side, English poetry and classical prose; the out-of-source held-out set
and the provenance of the model-written ad copy."""

import json
import random

import pytest
from curate_util import DATA, read_jsonl

from bimo.curate import corpora
from bimo.curate.classifier import TextClassifier, default_model_path
from bimo.curate.data import build_default_models as B
from bimo.curate.data.generate_marketing import clean, dedup, prompts
from bimo.curate.quality import COARSE, GenreTagger, QualityFilter
from bimo.errors import BimoError


@pytest.fixture(scope="module")
def oos():
    return read_jsonl(DATA / "heldout_oos.jsonl")


@pytest.fixture(scope="module")
def genre():
    return TextClassifier.load(default_model_path("genre"))


def tag(tagger, text):
    d = {"id": "x", "text": text, "metadata": {}}
    return tagger.process(d), d["metadata"]


def test_marketing_is_a_genre_in_both_languages(oos, genre):
    """A `marketing` class, folded into non-fiction, that the tagger can drop; human stories, news and
    poems of the out-of-source set are not taken for ads. Trained on human software-centre copy, it
    finds most of the hand-written English ads (0 of 6 when its only text was model-written; Chinese
    consumer ads are still missed: docs/curate.md)."""
    assert "marketing" in genre.classes and COARSE["marketing"] == "nonfiction"
    assert sum(r["genre"] == "marketing" for r in oos) == 12
    en_ads = [r["text"] for r in oos if r["genre"] == "marketing" and r["lang"] == "en"]
    assert sum(genre.predict(t)[0] == "marketing" for t in en_ads) >= 3
    others = [r["text"] for r in oos if r["genre"] in ("fiction", "news", "poetry")]
    assert sum(genre.predict(t)[0] == "marketing" for t in others) <= 1
    ads = [t for texts in B.generated_marketing().values() for t in texts]
    ad = next(t for t in ads if genre.predict(t)[0] == "marketing")
    reason, meta = tag(GenreTagger(drop=["marketing"]), ad)
    assert reason == "genre: marketing" and meta["genre"] == "nonfiction" and meta["genre_fine"] == "marketing"
    with pytest.raises(BimoError, match="unknown genre 'adverts'"):
        GenreTagger(drop=["adverts"])


def test_ad_copy_is_writing_and_spam_ads_are_junk(oos):
    """Product copy passes the quality model; contact bait and keyword stuffing do not."""
    q = QualityFilter(threshold=0.5)
    ads = [{"id": r["id"], "text": r["text"], "metadata": {}} for r in oos if r["genre"] == "marketing"]
    assert sum(q.process(d) is None for d in ads) >= 10, [d["metadata"]["quality"] for d in ads]
    spam = ["加微信领取优惠 加微信领取优惠 全网最低价！！！扫码领取 VX同号 代理加盟 免费领取 点击链接立即抢购",
            "BEST PRICE!!! Call now!!! 100% FREE trial DM for price Limited offer!!! Order now Click the link below",
            "北京装修公司 北京装修公司哪家好 北京装修公司排名 北京装修公司电话 北京装修公司报价"]
    for t in spam:
        assert q.process({"id": "s", "text": t, "metadata": {}}) is not None, t


def test_literary_essays_are_fiction_side():
    """Modern Chinese personal essays (散文) sit with creative writing, as in Weaver's mix."""
    messy = {d["id"]: d["text"] for d in read_jsonl(DATA / "messy_corpus.jsonl")}
    g = GenreTagger()
    essays = [tag(g, messy[f"essay-{i}"])[1]["genre"] for i in range(4)]
    assert essays.count("fiction") >= 3, essays
    for k in ("news-0", "news-1", "popsci-0", "popsci-1", "review-0", "review-1"):
        assert tag(g, messy[k])[1]["genre"] == "nonfiction", k


def test_english_poetry_and_classical_prose(oos, genre):
    poems = [r["text"] for r in oos if r["lang"] == "en" and r["genre"] == "poetry"]
    assert sum(genre.predict(t)[0] == "poetry" for t in poems) >= 3
    old = [r["text"] for r in oos if r["lang"] == "en" and r["genre"] == "classical"]
    assert sum(genre.predict(t)[0] == "classical" for t in old) >= 1
    assert genre.predict("And God said unto Moses, Go thou down, and speak unto the people, that they "
                         "sanctify themselves to day and to morrow, and let them wash their clothes.")[0] == "classical"


def test_kjv_listing_is_cut_into_chapters():
    listing = ("Ge1:1 In the beginning God created the heaven and the earth.\nGe1:2 And the earth was without form.\n"
               "1Cor13:1 Though I speak with the tongues of men.\nnot a verse line\n")
    assert corpora.kjv_chapters(listing) == {"Ge1": ["In the beginning God created the heaven and the earth.",
                                                     "And the earth was without form."],
                                             "1Cor13": ["Though I speak with the tongues of men."]}


def test_generated_copy_is_marked_and_never_held_out():
    rows = read_jsonl(B.GENERATED)
    assert rows and all(r["generated"] is True and r["model"].startswith("local:") and r["prompt"] for r in rows)
    used = [t for texts in B.generated_marketing().values() for t in texts]
    assert 0 < len(used) <= len(rows)
    held = {r["text"] for f in ("heldout_zh.jsonl", "heldout_en.jsonl", "heldout_oos.jsonl")
            for r in read_jsonl(DATA / f)}
    assert not any(t in held or t[:B.HELDOUT_CHARS] in held for t in used)


def test_generated_copy_is_cleaned_and_deduplicated():
    base = "这款保温杯采用双层真空设计，十二小时保温，杯盖一键开合，单手就能喝水，通勤路上再也不怕咖啡变凉。" * 2
    rows = [{"lang": "zh", "text": f"**{base}**"}, {"lang": "zh", "text": base + "快来买！"},
            {"lang": "en", "text": "Here is an ad for [Brand Name]: the best mug you will ever own, keeps coffee "
                                   "hot for twelve hours, opens with one hand."},
            {"lang": "zh", "text": "好的"}]
    kept = dedup(rows)
    assert [r["text"] for r in kept] == [base]
    assert clean('### 标题\n"正文"') == "标题\n正文"
    ps = prompts()
    assert len(ps) == len({p["prompt"] for p in ps}) and {p["lang"] for p in ps[:2]} == {"zh", "en"}


def test_spam_ads_are_made_from_copy_and_bait():
    rng = random.Random(3)
    ads = ["这款保温杯采用双层真空设计，十二小时保温。", "Our mug keeps coffee hot for twelve hours."]
    spam = [B.spam_ad(ads, rng) for _ in range(20)]
    assert all(sum(b in s for b in B._CONTACT_SPAM) >= 1 for s in spam)
    assert len(set(spam)) == 20


def test_frozen_heldout_gets_rows_for_new_classes_only(tmp_path):
    old = [{"id": "zh-news-0", "genre": "news", "text": "旧的"}]
    (tmp_path / "heldout_zh.jsonl").write_text(json.dumps(old, ensure_ascii=False)[1:-1] + "\n", encoding="utf-8")
    (tmp_path / "heldout_en.jsonl").write_text("", encoding="utf-8")
    human = {("zh", "news"): [f"新闻{i}" for i in range(200)], ("zh", "poetry"): [f"诗{i}" for i in range(200)],
             ("en", "poetry"): [f"poem {i}" for i in range(200)]}
    out = B.freeze_heldout(human, tmp_path)
    assert out["zh"][0] == old[0] and {r["genre"] for r in out["zh"][1:]} == {"poetry"}
    assert all(r["genre"] == "poetry" for r in out["en"]) and out["en"]
    assert read_jsonl(tmp_path / "heldout_zh.jsonl") == out["zh"]
    again = B.freeze_heldout(human, tmp_path)
    assert again == out


def _dep11(tmp_path, components):
    import gzip

    import yaml
    path = tmp_path / "deb.debian.org_debian_dists_bookworm_main_dep11_Components-amd64.yml.gz"
    head = {"File": "DEP-11", "Version": "0.16", "Origin": "debian-bookworm-main"}
    with gzip.open(path, "wt", encoding="utf-8") as f:
        yaml.safe_dump_all([head, *components], f, allow_unicode=True)
    return path


def test_appstream_descriptions_are_read_per_language(tmp_path):
    """Summary + description of each component, markup made plain; zh_TW only where zh_CN is missing (and
    converted); half-translated Chinese, short texts and repeats left out."""
    blurb = ("<p>Draw freely with pressure-sensitive brushes, layers and a canvas that never runs out.</p>"
             "<p>Features:</p><ul><li>Hundreds of brushes &amp; textures</li><li>Export to PNG or PDF</li></ul>"
             "<p>Whether you sketch on the train or paint for a living, everything you need is one click away.</p>")
    zh = "<p>随心所欲地绘画：压感画笔、无限画布、数百种笔刷和纹理，一键导出为图片或文档。无论是在地铁上随手速写，还是专业创作，你需要的一切都触手可及。</p>"
    comps = [
        {"Type": "desktop-application", "ID": "org.example.Paint", "Package": "paint",
         "DeveloperName": {"C": "Example"}, "Summary": {"C": "Paint anything", "zh_CN": "画你想画的"},
         "Description": {"C": blurb, "zh_CN": zh}},
        {"Type": "desktop-application", "ID": "org.example.Tw", "Package": "tw", "Summary": {"zh_TW": "記帳軟體"},
         "Description": {"zh_TW": "<p>輕鬆記錄每一筆收入與支出，自動產生圖表，讓你一眼看清錢都花到哪裡去了。支援多個帳戶與預算提醒，"
                                  "還能匯出報表，月底對帳再也不用熬夜。</p>"}},
        {"Type": "desktop-application", "ID": "org.example.Half", "Package": "half", "Summary": {"C": "Half"},
         "Description": {"zh_CN": "<p>特性：</p><ul><li>MPRIS2 D-Bus interface for remote control of the player "
                                  "and many other English words left untranslated here</li></ul>"}},
        {"Type": "desktop-application", "ID": "org.example.Short", "Package": "short", "Summary": {"C": "Tiny"},
         "Description": {"C": "<p>A tool.</p>"}},
        {"Type": "desktop-application", "ID": "org.example.Copy", "Package": "copy",
         "Summary": {"C": "Paint anything", "zh_CN": "画你想画的"}, "Description": {"C": blurb, "zh_CN": zh}},
        {"Type": "font", "ID": "org.example.Font", "Package": "font", "Summary": {"C": "A font"}},
    ]
    docs = list(corpora.appstream_descriptions(_dep11(tmp_path, comps)))
    assert [(d["title"], d["lang"]) for d in docs] == [("org.example.Paint", "en"), ("org.example.Paint", "zh"),
                                                       ("org.example.Tw", "zh")]
    en = docs[0]["text"]
    assert en.startswith("Paint anything\nDraw freely") and "• Hundreds of brushes & textures\n" in en
    assert "<" not in en and docs[0]["author"] == "Example" and "CC0-1.0" in docs[0]["license"]
    assert docs[1]["text"].startswith("画你想画的\n随心所欲")
    tw = docs[2]["text"]
    try:
        import opencc  # noqa: F401
        assert tw.startswith("记帐软件\n轻松记录") and "支持多个帐户" in tw
    except ImportError:
        assert "記帳軟體" in tw


def test_appstream_catalogue_is_pinned(tmp_path):
    """A catalogue already in the cache that is not the pinned one is refused, naming both digests."""
    lists = tmp_path / "dep11" / "lists"
    lists.mkdir(parents=True)
    _dep11(lists, [{"Type": "desktop-application", "ID": "x", "Summary": {"C": "x"}}])
    with pytest.raises(BimoError, match=f"pinned {corpora.DEP11['sha256']}: the catalogue changed"):
        corpora.appstream_catalogue(tmp_path)


def test_genre_model_is_the_mean_of_several_shuffles():
    """Runs that differ only in shuffle order disagree; the shipped model is their mean (weights and bias),
    which for a linear model is the mean of their logits."""
    import numpy as np
    texts = [f"今天的新闻报道了第{i}次会议" for i in range(300)] + [f"我想起故乡的月光和第{i}个夏天" for i in range(300)]
    labels = ["news"] * 300 + ["fiction"] * 300  # more than one batch of 256: order matters
    runs = [TextClassifier.train(texts, labels, epochs=2, seed=s) for s in range(3)]
    assert not np.allclose(runs[0].W, runs[1].W)
    avg = B.averaged(texts, labels, epochs=2, runs=3)
    assert np.allclose(avg.W, np.mean([m.W for m in runs], 0)) and np.allclose(avg.b, np.mean([m.b for m in runs], 0))
    assert avg.info["runs"] == 3 and avg.predict("我想起故乡的月光")[0] == "fiction"
