"""Long-output SFT from long human texts: length clauses written by code, pieces, CLI."""

from __future__ import annotations

import json
import random

import pytest

from bimo.runner import Reject
from bimo.synth.lengthclause import (
    EN_TEMPLATES,
    ZH_TEMPLATES,
    chinese_numeral,
    floor_length,
    insert_clause,
    make_clause,
    round_length,
    with_length,
)
from bimo.synth.longdoc import LongDocConfig, LongDocStep, excerpt, expand_docs, split_pieces
from bimo.text import count_length
from bimo.write.lengthreq import detect_length


def _clause_for(template: int, n: int, lang: str):
    rng = random.Random(template * 1000 + n)
    for _ in range(2000):
        c = make_clause(n, lang, rng)
        if c.template == template:
            return c
    raise AssertionError("template never drawn")


@pytest.mark.parametrize("lang,templates", [("zh", ZH_TEMPLATES), ("en", EN_TEMPLATES)])
def test_every_phrasing_reads_back_as_the_true_length(lang, templates):
    assert len(templates) >= 10
    assert len({t for _, t in templates}) == len(templates)
    base = "写一篇关于江南园林的散文。要有具体的细节。" if lang == "zh" else "Write a story about a lighthouse. Use vivid detail."
    for i, (kind, _) in enumerate(templates):
        for n in (530, 1234, 2600, 4800, 12345):
            c = _clause_for(i, n, lang)
            for position in ("start", "middle", "end"):
                full = insert_clause(base, c.text, position, lang)
                got = detect_length(full)
                assert got == c.stated, (full, got)
                if kind == "at_least":
                    assert got <= n  # a lower bound the human text meets
                else:
                    assert 0.85 * n <= got <= 1.12 * n, (full, n)


def test_rounding_as_people_ask():
    assert round_length(1234) == 1200 and round_length(2600) == 2500 and round_length(180) == 200
    assert floor_length(1480) == 1400 and floor_length(4999) == 4500
    assert chinese_numeral(1500) == "一千五百" and chinese_numeral(2000) == "两千"
    assert chinese_numeral(12000) == "一万两千" and chinese_numeral(3500) == "三千五百"
    assert detect_length(f"全文{chinese_numeral(12000)}字上下即可。") == 12000


def test_positions_vary_and_keep_the_instruction():
    rng = random.Random(3)
    seen = set()
    for _ in range(60):
        text, clause, position = with_length("Write an essay on tea. Include its history.", 2100, "en", rng)
        seen.add(position)
        assert "Write an essay on tea." in text and clause.text in text
    assert seen == {"start", "middle", "end"}


def _para(lang: str, i: int, n: int) -> str:
    if lang == "zh":
        return "".join(f"第{i}段第{k}句写的是山里的雨和路。" for k in range(n))
    return " ".join(f"Paragraph {i} sentence {k} tells of rain on the hill road." for k in range(n))


def test_split_pieces_at_paragraphs_within_bounds():
    text = "\n\n".join(_para("zh", i, 8) for i in range(60))  # ~7,000 units
    pieces = split_pieces(text, 500, 5000)
    assert len(pieces) == 2
    assert all(500 <= count_length(p) <= 5000 for p in pieces)
    assert "\n\n".join(pieces) == text  # nothing lost, split only at paragraph breaks
    assert split_pieces(_para("en", 1, 3), 500, 5000) == []
    one = _para("en", 0, 700)  # one 7,000-word paragraph: cut at sentence ends
    cut = split_pieces(one, 500, 5000)
    assert len(cut) == 2 and all(count_length(p) <= 5000 for p in cut)


def test_expand_records_every_unusable_document():
    docs = [{"id": "a", "text": "\n\n".join(_para("en", i, 20) for i in range(5)), "metadata": {"license": "MIT"}},
            {"id": "b", "text": "Too short.", "metadata": {"license": "MIT"}},
            {"id": "c", "text": "", "metadata": {"license": "MIT"}},
            {"id": "d", "text": "Привет мир " * 300, "metadata": {"license": "MIT"}}]
    rows = list(expand_docs(docs, LongDocConfig()))
    assert [r["id"] for r in rows] == ["a#0", "b#0", "c#0", "d#0"]
    assert "text" in rows[0] and "skip" not in rows[0]
    assert rows[1]["skip"].startswith("too short") and rows[2]["skip"] == "document has no text"
    assert rows[3]["skip"].startswith("language not handled")
    with pytest.raises(Reject) as exc:
        LongDocStep(None).process(rows[1], 0)
    assert exc.value.retry is False


def test_excerpt_shows_opening_and_closing():
    text = "\n\n".join(_para("en", i, 20) for i in range(10))
    ex = excerpt(text, 100, 50)
    assert ex.startswith("Paragraph 0 sentence 0") and "[……]" in ex and ex.rstrip().endswith("hill road.")
    assert count_length(ex) < 250


def test_parse_adds_the_length_and_rejects_model_lengths_and_copies():
    text = "\n\n".join(_para("zh", i, 10) for i in range(8))
    step = LongDocStep(None)
    rec = {"id": "x#0", "doc_id": "x", "text": text, "metadata": {"source": "t", "license": "MIT"}}
    out = step.parse(rec, {"form": "散文", "instruction": "请写一篇散文，描写山路上的雨，语气平静。"})
    sft = out[0]
    prompt, answer = sft["messages"][0]["content"], sft["messages"][1]["content"]
    assert answer == text
    meta = sft["meta"]
    assert detect_length(prompt) == meta["required_length"] and meta["length"] == count_length(text)
    assert meta["license"] == "MIT" and meta["clause_kind"] in ("about", "at_least", "range")
    with pytest.raises(Reject, match="states a length"):
        step.parse(rec, {"form": "散文", "instruction": "请写一篇两千字的散文，描写山路上的雨。"})
    with pytest.raises(Reject, match="copies"):
        step.parse(rec, {"form": "散文", "instruction": "请写：第1段第3句写的是山里的雨和路。第1段"})
    with pytest.raises(Reject, match="language"):
        step.parse(rec, {"form": "essay", "instruction": "Write an essay about rain on a mountain road."})
    # the prompt's list of requirement kinds, echoed instead of this piece's requirements
    with pytest.raises(Reject, match="prompt's wording"):
        step.parse(rec, {"form": "散文", "instruction": "请写一篇关于山路的散文，要求包括人物、事件、论点、语气、读者。"})
    en = {**rec, "text": "\n\n".join(_para("en", i, 10) for i in range(8))}
    with pytest.raises(Reject, match="prompt's wording"):
        step.parse(en, {"form": "story", "instruction": "Write a story with characters, events, arguments, tone, audience."})
    assert step.parse(en, {"form": "story", "instruction": "Write a story about a mountain road in the rain, told calmly."})


def test_cli_longdoc_with_tiny_model(tmp_path, tiny_path, bimo_cli):
    docs = tmp_path / "docs.jsonl"
    long_en = "\n\n".join(_para("en", i, 12) for i in range(6))
    rows = [{"id": "story", "text": long_en, "metadata": {"source": "built", "license": "CC0"}},
            {"id": "short", "text": "A short note.", "metadata": {"source": "built", "license": "CC0"}}]
    docs.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "sft.jsonl"
    r = bimo_cli("synth", "longdoc", str(docs), "-o", str(out), "-m", "local:tiny", "-q", "--retries", "3")
    assert r.returncode == 0, r.stderr.decode()
    errors = [json.loads(x) for x in (tmp_path / "sft.errors.jsonl").read_text().splitlines()]
    assert any(e["id"] == "short#0" and e["reason"].startswith("too short") for e in errors)
    kept = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    story_failed = [e for e in errors if e["id"] == "story#0"]
    assert len(kept) + len(story_failed) == 1  # the long document is kept or its failure recorded
    for rec in kept:
        assert rec["messages"][-1]["content"] == long_en
        assert detect_length(rec["messages"][0]["content"]) == rec["meta"]["required_length"]


def test_cli_refuses_documents_without_licence(tmp_path, bimo_cli):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": "x " * 600}) + "\n")
    r = bimo_cli("synth", "longdoc", str(docs), "-o", str(tmp_path / "o.jsonl"), "-m", "local:tiny")
    err = r.stderr.decode()
    assert r.returncode == 2
    assert "no metadata.license" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()
