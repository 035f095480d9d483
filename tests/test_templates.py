"""One placeholder rule for every prompt: write and synth templates and the judge rubrics."""

from bimo.evaluate import rubric
from bimo.templates import fill, render


def test_one_rule_for_placeholders():
    tpl = "{a} {missing} {none} {zero} {Upper} {x-y} {\"json\": 1}\n"
    assert fill(tpl, {"a": "{b}", "b": "no", "none": None, "zero": 0}) == '{b}   0 {Upper} {x-y} {"json": 1}\n'
    assert render(tpl, a="A") == 'A    {Upper} {x-y} {"json": 1}'  # render also trims


def test_rubric_prompts_are_filled_by_the_same_rule():
    assert rubric.fill is fill
    msgs = rubric.pair_messages({"prompt": "Write {x}.", "lang": "en"}, "first {response_b}", "second")
    user = msgs[1]["content"]
    assert "Write {x}." in user and "first {response_b}" in user and "second" in user
    assert user.endswith("\n")  # judge prompts keep their own whitespace (cached verdicts stay valid)
