import pytest

from bimo.errors import BimoError
from bimo.templates import render
from bimo.write.tasks import TaskOptions, build_messages, task_names

ALL = ["brainstorm", "chat", "condense", "continue", "expand", "outline", "polish", "review", "rewrite",
       "style", "title", "translate", "write"]


def test_every_task_has_zh_and_en_templates():
    assert task_names() == ALL
    for task in ALL:
        opts = TaskOptions(style="鲁迅" if task == "style" else "")
        zh = build_messages(task, "春天来了，花开了。", options=opts)
        en = build_messages(task, "Spring has come and the flowers are out.", options=opts)
        assert zh[0]["role"] == "system" and zh[-1]["role"] == "user"
        assert "春天来了" in zh[-1]["content"] and "Spring has come" in en[-1]["content"]
        assert zh[0]["content"] != en[0]["content"]


def test_language_follows_input_unless_told():
    zh = build_messages("polish", "这段文字需要润色。")
    assert "润色" in zh[-1]["content"]
    en = build_messages("polish", "这段文字需要润色。", lang="en")
    assert "Polish the following text" in en[-1]["content"]


def test_options_are_rendered():
    msgs = build_messages("style", "今天下雨。", options=TaskOptions(sample="范文内容"))
    assert "范文内容" in msgs[-1]["content"]
    msgs = build_messages("translate", "明月几时有", options=TaskOptions(target="en"))
    assert "英文" in msgs[-1]["content"]
    msgs = build_messages("expand", "Short text.", options=TaskOptions(instruction="Add a dialogue."))
    assert "Add a dialogue." in msgs[-1]["content"]


def test_user_braces_are_safe():
    assert render("A {input} B", input='{"json": {x}} {input}') == 'A {"json": {x}} {input} B'


def test_bad_inputs():
    with pytest.raises(BimoError, match="unknown task 'poem'; valid tasks: brainstorm"):
        build_messages("poem", "x")
    with pytest.raises(BimoError, match="empty input"):
        build_messages("polish", "   \n")
    with pytest.raises(BimoError, match="--style"):
        build_messages("style", "text")
    with pytest.raises(BimoError, match="unknown language"):
        build_messages("write", "text", lang="fr")
