"""Integrity measures on built texts, zh and en, including the failures seen in real outputs."""

import pytest

from bimo.integrity import (
    IntegrityThresholds,
    RepeatMemory,
    dangling_ending,
    drop_repeats,
    language_leaks,
    measure,
    near_repeat_share,
    scaffolding_lines,
    trim_dangling,
    units,
)
from bimo.text import count_length

ZH_PARAS = [
    "春天的时候，外婆把菜园翻了一遍，撒下青菜和萝卜的种子。泥土湿润，带着雨后的清香。",
    "夏天最热闹，黄瓜爬满了竹架，茄子垂着紫色的身子，蝉在老槐树上叫个不停。",
    "秋天来了，南瓜躺在田埂边晒太阳，外婆弯着腰把辣椒一串串挂在屋檐下。",
    "冬天的菜园安静下来，只剩几垄白菜盖着薄霜，外婆说这是一年里最甜的时候。",
]
EN_PARAS = [
    "My father never measured anything. He cooked by the sound of the oil and the colour of the onions.",
    "On Sundays he let me stir the pot, and he told stories about the market where he grew up.",
    "Later I learned that the recipes he swore by came from his mother, who never wrote them down.",
    "Now I cook the same stew for my own children, and I still cannot tell when it is done.",
]


def test_units_match_count_length():
    text = "她说 Hello world，我们去 Beijing 吧。" + EN_PARAS[0]
    assert len(units(text)) == count_length(text)


def test_clean_text_has_no_repetition():
    for paras in (ZH_PARAS, EN_PARAS):
        m = measure("\n\n".join(paras))
        assert m.repeated_share == 0.0
        assert m.effective_length == m.units
        assert m.last_new == 1.0
        assert m.ending is None
        assert m.flags() == []


def test_pasted_paragraphs_zh():
    # the failure seen: the autumn and winter paragraphs pasted again after the ending
    text = "\n\n".join(ZH_PARAS + ZH_PARAS[2:] + ZH_PARAS[2:])
    m = measure(text)
    copy = count_length(ZH_PARAS[2]) + count_length(ZH_PARAS[3])
    assert m.units == count_length(text)
    assert m.effective_length == m.units - 2 * copy
    assert m.repeated_share > 0.4
    assert m.longest_repeat >= 2 * copy
    assert m.repeated_sentences > 0.4
    assert m.curve[0] == 0.0 and m.curve[-1] == 1.0
    assert m.last_new < 0.6
    flags = m.flags()
    assert any("8-grams" in f for f in flags) and any("stalls" in f for f in flags)


def test_pasted_paragraphs_en():
    text = "\n\n".join(EN_PARAS + EN_PARAS[1:3])
    m = measure(text)
    assert m.effective_length == m.units - count_length(EN_PARAS[1]) - count_length(EN_PARAS[2])
    assert m.repeated_sentences == pytest.approx(2 / 7)  # the first paragraph has two sentences
    assert m.flags()


def test_leak_in_chinese_prose():
    text = "每到傍晚，她 always会在厨房里忙碌，锅里的汤咕嘟咕嘟地响。"
    assert language_leaks(text) == ["always"]
    assert measure(text).flags(IntegrityThresholds()) == ["1 language leak(s): always"]


def test_not_leaks_names_glosses_quotes_prompt_terms():
    text = ("月球总是同一面朝向地球，这叫潮汐锁定（tidal locking）。NASA 的探测器和 iPhone 都拍过它。"
            "有人说“fake news”，代码 `print(moon)` 也能算。这个app很好用，每天走5km。我们用 prompt 写作。")
    assert language_leaks(text, prompt="请谈谈 prompt 写作") == []
    assert language_leaks(text) == ["prompt"]


def test_a_quote_that_mixes_scripts_is_not_a_shelter():
    assert language_leaks("以上预算包含了“全民阅读 month”活动的所有费用。") == ["month"]
    assert language_leaks("有人说“fake news”，这叫潮汐锁定（英文 tidal locking）。") == []
    assert language_leaks("The sign said “欢迎 welcome” in two scripts.") == ["欢迎"]


def test_leak_in_english():
    assert language_leaks("The garden was quiet 安静 in winter, and the frost stayed late.") == ["安静"]
    assert language_leaks("The word “安静” means quiet.") == []


@pytest.mark.parametrize("text,kind", [
    ("现在，让我们来看看这个小程序的具体优惠：", "on a colon"),
    ("第一段写完了。\n\n## 具体优惠", "on a heading"),
    ("第一段写完了。\n\n**具体优惠**", "on a heading"),
    ("Here is the list.\n\n1.", "on a list marker"),
    ("Here is the list.\n-", "on a list marker"),
    ("外婆的菜园在村子东头，每年春天", "mid-sentence"),
    ("The garden was quiet, and", "mid-sentence"),
    ("外婆笑了，说：“回家吧。”", None),
    ("The end.", None),
    ("要点：\n- 每天记账\n- 每月复盘", None),
])
def test_dangling_endings(text, kind):
    assert dangling_ending(text) == kind


def test_trim_dangling_cuts_back_to_a_finished_sentence():
    text = "这个小程序很好用。每天打开记一笔。\n\n现在，让我们来看看这个小程序的具体优惠："
    assert trim_dangling(text) == "这个小程序很好用。每天打开记一笔。"
    assert trim_dangling("It works. It is fast.\n\n## Pricing") == "It works. It is fast."


def test_piece_repetition_and_drop_repeats():
    before = "\n\n".join(ZH_PARAS)
    new = "外婆老了以后，菜园交给了舅舅。\n\n" + ZH_PARAS[2] + "\n\n舅舅种的辣椒没有外婆种的辣。"
    kept = drop_repeats(new, before)
    assert kept == "外婆老了以后，菜园交给了舅舅。\n\n舅舅种的辣椒没有外婆种的辣。"
    # a repeated tail inside the piece itself goes too
    loop = EN_PARAS[0] + " " + EN_PARAS[1] + " " + EN_PARAS[1]
    assert drop_repeats(loop) == EN_PARAS[0] + " " + EN_PARAS[1]


def test_thresholds_are_configurable():
    text = "\n\n".join(EN_PARAS + EN_PARAS[1:2])
    m = measure(text)
    assert m.flags()
    loose = IntegrityThresholds(max_repeated_share=0.5, max_longest_repeat=500, max_repeated_sentences=0.5, max_near_repeats=0.5,
                                min_last_new=0.0)
    assert m.flags(loose) == []


def test_drop_repeats_catches_a_sentence_with_one_word_changed():
    loop = "我很好，请您提供第一部分内容的正文。当然，现在请提供第一部分内容的正文。我很好，请您提供第一部分内容的实际内容。"
    assert drop_repeats(loop) == "我很好，请您提供第一部分内容的正文。"
    clean = "\n\n".join(ZH_PARAS)
    assert drop_repeats(clean) == clean


def test_drop_repeats_catches_loops_of_short_lines():
    note = "**记账神器**\n\n【封面】\n在这篇文章中，我们介绍一个小巧的记账小程序。\n\n【正文】\n"
    loop = note + "【封面】\n\n【正文】\n\n【封面】\n\n【正文】\n\n【封面】\n\n【正文】\n"
    kept = drop_repeats(loop)
    assert kept.count("【封面】") <= 2 and kept.count("【正文】") <= 2
    assert measure(kept).repeated_share < measure(loop).repeated_share


def test_near_repeats_catch_sentences_said_again_in_other_words():
    """Seen in a 1,500字 science piece: the same claim restated with a word or two changed,
    which no 8-gram catches."""
    loop = ("潮汐力的产生是由于水对地球引力的影响。当太阳和月亮在同一天升起时，地球上会看到一个不同的面。"
            "潮汐力的作用方向是由水的流向决定的。当太阳和月亮在同一个时刻升起时，在地球上我们会看到一个不同的面。")
    clean = "".join(ZH_PARAS)
    assert near_repeat_share(clean) == 0.0
    assert near_repeat_share(loop) >= 0.25
    assert measure(clean).near_repeats == 0.0
    en = " ".join(EN_PARAS) + " My father never measured anything at all; he cooked by the sound of the oil."
    assert near_repeat_share(en) == pytest.approx(1 / 5)
    assert any("restate" in f for f in measure(loop * 2).flags())


def test_scaffolding_lines_are_found_and_flagged_but_plans_are_not():
    text = ("## 第三部分\n李明走进放映室。\n这一部分写完后，可以总结为：李明找到了胶卷。\n（前文最后一段略）\n"
            "以下是活动安排：\n1. 开幕式。\nHere is the next section:\nThe end came quietly.")
    assert scaffolding_lines(text) == ["这一部分写完后，可以总结为：李明找到了胶卷。", "（前文最后一段略）",
                                       "Here is the next section:"]
    m = measure(text)
    assert len(m.scaffolding) == 3 and any("about the writing" in f for f in m.flags())
    assert measure("以下是活动安排：\n1. 开幕式，由馆长致辞。\n2. 读书分享会。").scaffolding == []
    assert IntegrityThresholds(max_scaffolding=3).model_dump()["max_scaffolding"] == 3


@pytest.mark.parametrize("line", [
    "（未开始）", "(nothing yet)", "## 1.1 目标（续）", "## Impact on Urban Design (continued)", "调查与发现（续）",
    "现在请总结故事并强调悬疑元素的重要性：", "“外婆的菜园”的最后一段文字可以这样续写：",
    "“外婆的菜园”是一篇散文。以下是我根据题目创作的一段文字：", "这一部分还不够长。请紧接上文继续写。",
    "This section is not long enough yet. Continue it directly from where it stops, adding about 593 more words.",
    "作为一个人工智能语言模型，我不会发表任何政治观点。", "As an AI language model, I cannot have opinions.",
    "# 写作计划", "## Writing plan",
])
def test_echoed_requests_and_continued_headings_are_scaffolding(line):
    assert scaffolding_lines(line) == [line]


@pytest.mark.parametrize("line", ["他继续往前走（续上文的脚步），天色暗了。", "请注意：", "以下是活动安排：",
                                  "# 全民阅读月活动计划", "她把写作计划贴在书桌前。",
                                  "请继续努力：明天还要早起。", "The story continued for another hour."])
def test_writing_that_looks_like_scaffolding_is_not(line):
    assert scaffolding_lines(line) == []


def test_drop_repeats_drops_a_restatement_with_a_word_changed():
    before = "\"I've been trying to forget everything about that time,\" she said quietly to the nurse."
    piece = ("\"I've been trying to forgot everything about that time,\" she said softly to the nurse. "
             "Outside, the first tram of the morning rattled past the hospital gates.")
    assert drop_repeats(piece, before) == "Outside, the first tram of the morning rattled past the hospital gates."
    assert drop_repeats(piece, before, restated=False) == piece



def test_drop_repeats_takes_a_list_item_out_with_its_number():
    """Seen in a 5,000字 report: a repeated list item was dropped but its "2." stayed, gluing
    the numbers together ("1.2. **行业竞争格局**2. …")."""
    before = "市场需求与消费情况正在发生深刻的变化，年轻消费者更加注重品质。"
    piece = ("1. 行业竞争格局日益激烈，头部企业的份额继续扩大。\n"
             "2. 市场需求与消费情况正在发生深刻的变化，年轻消费者更加注重品质。\n"
             "3. 政策环境总体向好，监管也在逐步完善。")
    kept = drop_repeats(piece, before)
    assert "2." not in kept and "消费情况" not in kept
    assert kept.startswith("1. 行业竞争格局") and "\n3. 政策环境" in kept


def test_a_repeat_memory_gives_the_same_answer_and_is_not_changed_by_use():
    """A streamed piece is checked at every sentence end against the whole text so far; the
    text's n-grams are built once (`RepeatMemory`) and must give what building them anew gives."""
    before = "\n\n".join(ZH_PARAS[:2] + EN_PARAS[:2])
    pieces = ["\n\n".join(ZH_PARAS[1:]) + ZH_PARAS[0][:40], " ".join(EN_PARAS) + EN_PARAS[0], ZH_PARAS[-1], ""]
    memory = RepeatMemory(before)
    for piece in pieces * 2:  # the second round checks that using the memory left it unchanged
        assert drop_repeats(piece, memory=memory) == drop_repeats(piece, before)
    assert drop_repeats(pieces[1], memory=RepeatMemory(before, restated=False), restated=False) == \
        drop_repeats(pieces[1], before, restated=False)
    assert drop_repeats(pieces[0], before) != pieces[0]  # the check is not vacuous: it drops repeats


def test_requests_are_not_copied_but_may_be_said_in_other_words():
    """Seen in a 1,500字 science piece: its opening sentences restated the plan's point for the
    bigram rule and were dropped, so the text began with "因此，…"."""
    requests = ("写一篇1500字的科普文章，解释为什么我们总是只能看到月球的同一面（潮汐锁定）。\n\n写作计划：\n"
                "1. 背景知识 — 潮汐锁定是太阳系中所有行星中唯一的恒星周期性锁定现象。 (438字)")
    own_words = "潮汐锁定是太阳系中一种常见的现象。"
    copied = "潮汐锁定是太阳系中所有行星中唯一的恒星周期性锁定现象。"
    memory = RepeatMemory("", requests=requests)
    assert drop_repeats(own_words + copied, memory=memory) == own_words
    # said twice in the text itself, the restatement still goes
    assert drop_repeats(own_words, memory=RepeatMemory("潮汐锁定是太阳系中一种普遍的现象。", requests=requests)) == ""
