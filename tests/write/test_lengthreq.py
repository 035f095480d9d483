import pytest

from bimo.errors import BimoError
from bimo.write.lengthreq import check_length, chinese_number, detect_length


@pytest.mark.parametrize("prompt,expected", [
    ("请帮我写一篇关于人工智能的文章，不少于10000字", 10000),
    ("写一篇一万字的小说", 10000),
    ("两千字左右的散文", 2000),
    ("字数要求：2000-2500字", 2250),
    ("两千至三千字的演讲稿", 2500),
    ("约800字", 800),
    ("不超过三千字的通知", 3000),
    ("写一篇一万五千字的中篇小说", 15000),
    ("写一篇两千五百字的报告", 2500),
    ("请写一篇1000字以上的作文", 1000),
    ("三百字以内的简介", 300),
    ("写一篇1,500字的书评", 1500),
    ("Write a 5,000-word essay on rivers", 5000),
    ("at least 3000 words please", 3000),
    ("about 800 words", 800),
    ("between 1500 and 2000 words", 1750),
    ("2,000–2,500 words on tea", 2250),
    ("a 2k word story", 2000),
    ("no more than 300 words", 300),
    ("写一首关于长江的现代诗", None),
    ("Write a poem about the sea", None),
    ("在2023年发生的事情", None),
])
def test_detect_length(prompt, expected):
    assert detect_length(prompt) == expected


def test_chinese_numbers():
    assert [chinese_number(s) for s in ("一万", "两千", "一万五", "两千五", "十二", "一百零五", "一万零五百")] == [
        10000, 2000, 15000, 2500, 12, 105, 10500]


def test_absurd_lengths():
    for bad in (0, -5, 100_001):
        with pytest.raises(BimoError):
            check_length(bad)
    assert check_length(100_000) == 100_000
