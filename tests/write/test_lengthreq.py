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
    # labelled fields at the end of a structured brief
    ("任务：写一份活动方案。\n受众：居民。\n字数要求：2000", 2000),
    ("写一篇文章。\n字数：1500-2000字\n风格：幽默", 1750),
    ("请写一封信。篇幅：六百字以内。", 600),
    ("Task: a launch note.\nAudience: commuters.\nWord count: 400", 400),
    ("Length: about 1,200 words", 1200),
    ("Length: 3 pages", None),  # pages with no conversion stated
    ("字数：2000年以来的变化", None),  # a year, not a length
    # two numbers: the length, not the date or the count of items
    ("2024年，某市开通了第三条地铁线路。写一篇评论，不少于一千二百字。", 1200),
    ("列出10个要点，全文约1500字", 1500),
    ("每个要点100字，共5个要点，总字数约800字", 800),
    ("Write a story, no more than 1,200 words, about a nurse who remembers 1969.", 1200),
    # lengths per part, with the number of parts stated
    ("写5段，每段约200字", 1000),
    ("In 3 paragraphs of roughly 150 words each", 450),
    ("In 3 paragraphs of roughly 150 words each (about 450 words in all), explain it", 450),
    ("Write 4 pages, about 500 words per page.", 2000),
    ("每段200字左右", None),  # per part, number of parts unknown
    ("写一篇三千字以上的小说", 3000),
    ("1.5万字的报告", 15000),
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


def _prompt_file(name: str) -> list[dict]:
    import json
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "prompts" / name
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.mark.parametrize("name", ["longform_dev.jsonl", "longform_heldout.jsonl"])
def test_every_benchmark_prompt(name):
    records = _prompt_file(name)
    assert len(records) >= 14
    misses = [(r["id"], detect_length(r["prompt"]), r["length"]) for r in records
              if detect_length(r["prompt"]) != r["length"]]
    assert misses == []
