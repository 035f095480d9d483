import json

import pytest

from bimo.evaluate import rubric as rb
from bimo.evaluate.rubric import JudgeParseError


def wb():
    return rb.load_rubric("writebench")


GOOD = {"reason": "ok", "style": 7, "relevance": 8, "creativity": 6, "fluency": 9, "overall": 7}


def test_parse_good_and_fenced():
    r = rb.parse_scores(wb(), json.dumps(GOOD))
    assert r["overall"] == 7 and r["scores"]["fluency"] == 9
    fenced = "```json\n" + json.dumps(GOOD) + "\n```"
    assert rb.parse_scores(wb(), fenced)["scores"] == r["scores"]
    chatty = "Here is my verdict: " + json.dumps(GOOD) + " Hope it helps."
    assert rb.parse_scores(wb(), chatty)["overall"] == 7


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not valid JSON"),
        ("The answer is great, 9/10.", "not valid JSON"),
        ('{"reason": "ok", "style": 7', "not valid JSON"),                              # truncated
        ("[1, 2, 3]", "expected a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "creativity"}), "missing score 'creativity'"),
        (json.dumps({**GOOD, "style": "8"}), "not a number"),
        (json.dumps({**GOOD, "style": True}), "not a number"),
        (json.dumps({**GOOD, "style": 11}), "outside 1-10"),
        (json.dumps({**GOOD, "style": 0}), "outside 1-10"),
        (json.dumps({**GOOD, "reason": 5}), "reason is not a string"),
    ],
)
def test_malformed_scores_are_rejected(text, why):
    with pytest.raises(JudgeParseError, match=why):
        rb.parse_scores(wb(), text)


def test_longbench_sq():
    lb = rb.load_rubric("longbench")
    scores = {"relevance": 5, "accuracy": 4, "coherence": 3, "clarity": 5, "breadth_depth": 2, "reading_experience": 4}
    r = rb.parse_scores(lb, json.dumps({"reason": "x", **scores}))
    # (4 + 3 + 2 + 4 + 1 + 3) * 25 / 6
    assert r["overall"] == pytest.approx(17 * 25 / 6)
    with pytest.raises(JudgeParseError, match="outside 1-5"):
        rb.parse_scores(lb, json.dumps({"reason": "x", **scores, "clarity": 7}))


def test_pair_parsing():
    assert rb.parse_pair('{"reason": "r", "winner": "A"}') == "A"
    assert rb.parse_pair('{"reason": "r", "winner": " b "}') == "B"
    assert rb.parse_pair('{"reason": "r", "winner": "Tie"}') == "tie"
    for bad, why in [('{"reason": "r"}', "no 'winner'"), ('{"winner": "both"}', "must be A, B or tie"),
                     ('{"winner": 1}', "must be A, B or tie"), ("A is better", "not valid JSON")]:
        with pytest.raises(JudgeParseError, match=why):
            rb.parse_pair(bad)


def test_criteria_parsing():
    cr = rb.load_rubric("criteria")
    crit = [{"name": f"c{k}", "description": "d"} for k in range(5)]
    assert rb.parse_criteria(cr, json.dumps({"criteria": crit})) == crit
    with pytest.raises(JudgeParseError, match="expected 5 criteria, got 4"):
        rb.parse_criteria(cr, json.dumps({"criteria": crit[:4]}))
    with pytest.raises(JudgeParseError, match="lacks a name"):
        rb.parse_criteria(cr, json.dumps({"criteria": [{"name": ""}] * 5}))
    scores = {"scores": [{"reason": "r", "score": s} for s in (2, 4, 6, 8, 10)]}
    r = rb.parse_criteria_scores(cr, json.dumps(scores), crit)
    assert r["overall"] == 6 and r["reasons"]["c0"] == "r"
    with pytest.raises(JudgeParseError, match="expected 5 scores, got 2"):
        rb.parse_criteria_scores(cr, json.dumps({"scores": scores["scores"][:2]}), crit)


def test_prompts_in_both_languages_and_braces_safe():
    rec_zh = {"prompt": "写一篇关于秋天的散文", "input": "素材 {response} 里有花括号"}
    msgs = rb.score_messages(wb(), rec_zh, "回答 {instruction} 原样保留")
    assert "【待评回答】" in msgs[1]["content"]
    assert "回答 {instruction} 原样保留" in msgs[1]["content"]
    assert "素材 {response} 里有花括号" in msgs[1]["content"]
    msgs_en = rb.score_messages(wb(), {"prompt": "Write a poem about rain."}, "Rain.")
    assert "[Response]" in msgs_en[1]["content"] and "{" not in msgs_en[1]["content"].split("shaped as:")[0]
    pair = rb.pair_messages({"prompt": "Write a haiku", "lang": "en"}, "one", "two")
    assert "[Response A]\none" in pair[1]["content"] and "[Response B]\ntwo" in pair[1]["content"]
    for name in rb.POINTWISE:
        schema = rb.score_schema(rb.load_rubric(name)) if name != "criteria" else rb.criteria_gen_schema(5)
        assert schema["type"] == "object" and schema["required"]
