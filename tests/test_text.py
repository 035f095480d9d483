from bimo.text import count_length, detect_lang, mixed_script_ratio, normalize, sentence_spans, sentences


def test_count_length_counts_cjk_chars_and_english_words():
    assert count_length("你好，世界") == 4
    assert count_length("Hello, world! It's fine.") == 5  # It's → "It" + "s"
    assert count_length("我爱 Python 和 AI") == 3 + 2
    assert count_length("12345 ，。！") == 0
    assert count_length("") == 0


def test_detect_lang():
    assert detect_lang("床前明月光，疑是地上霜。") == "zh"
    assert detect_lang("The quick brown fox jumps over the lazy dog.") == "en"
    assert detect_lang("这是一个关于 machine learning 的介绍，内容很长。") == "zh"
    assert detect_lang("これは日本語のテキストです") == "other"
    assert detect_lang("1234 !!!") == "other"


def test_mixed_script_ratio_and_normalize():
    assert mixed_script_ratio("中文") == 0.0
    assert 0 < mixed_script_ratio("中文 abc") < 0.5
    assert normalize("ＡＢＣ　１２３\n\n\n\nx  y") == "ABC 123\n\nx y"


def test_sentences_and_sentence_spans():
    text = '1. Mr. Smith went home. He said: "Fine!" Then left.\n\n第一句。第二句！“引号。”\n（括号。）最后'
    assert "".join(sentences(text)) == text  # the pieces cover the text exactly
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert got == ["1. Mr. Smith went home.", 'He said: "Fine!"', "Then left.", "第一句。", "第二句！", "“引号。”",
                   "（括号。）", "最后"]
    assert sentence_spans("...\n\n") == []


def test_a_numbered_list_marker_goes_with_its_item():
    text = "前言。\n1. **行业竞争格局**很激烈。\n2.3. Sub item here.\n**4. **加粗**的条目。\n共有3. 项"
    pieces = sentences(text)
    assert "".join(pieces) == text
    assert "1. **行业竞争格局**很激烈。" in pieces and "2.3. Sub item here." in pieces
    assert "**4. **加粗**的条目。" in pieces
    assert "共有3." in pieces  # a number ending a sentence mid-line is no marker
