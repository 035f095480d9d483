import pytest

from bimo.errors import BimoError
from bimo.evaluate.length import bucket_of, length_score, score_records
from bimo.text import count_length


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (1000, 1000, 100.0),
        (1000, 1300, 90.0),     # 1 - (1.3 - 1) / 3
        (1000, 4000, 0.0),      # 1 - 3 / 3
        (1000, 10000, 0.0),     # clipped at 0
        (1000, 500, 50.0),      # 1 - (2 - 1) / 2
        (100, 80, 87.5),        # 1 - (1.25 - 1) / 2
        (900, 300, 0.0),        # 1 - (3 - 1) / 2
        (1000, 0, 0.0),         # nothing produced
        (200, 250, 100 * (1 - 0.25 / 3)),
    ],
)
def test_length_score_hand_computed(x, y, expected):
    assert length_score(x, y) == pytest.approx(expected)


def test_overshoot_is_punished_less_than_undershoot():
    assert length_score(1000, 1500) > length_score(1000, 500 / 0.75)


def test_buckets():
    assert bucket_of(0) == "[0,500)"
    assert bucket_of(499) == "[0,500)"
    assert bucket_of(500) == "[500,2k)"
    assert bucket_of(2000) == "[2k,4k)"
    assert bucket_of(4000) == "[4k,20k]"
    assert bucket_of(20000) == "[4k,20k]"


def test_score_records_counts_with_shared_counter():
    recs = [
        {"prompt": "p", "response": "字" * 100, "length": 100},          # 100 CJK chars
        {"prompt": "p", "response": "word " * 80, "length": 100},        # 80 English words
        {"prompt": "p", "response": "汉字 and words " * 300, "length": 1000},  # 4 per repeat -> 1200
    ]
    res = score_records(recs)
    s = [r["s_l"] for r in res["records"]]
    assert s[0] == pytest.approx(100.0)
    assert s[1] == pytest.approx(87.5)
    assert res["records"][2]["produced"] == 1200
    assert s[2] == pytest.approx(100 * (1 - 0.2 / 3))
    assert res["s_l"] == pytest.approx(sum(s) / 3)
    assert res["buckets"]["[0,500)"]["n"] == 2
    assert res["buckets"]["[500,2k)"]["s_l"] == pytest.approx(s[2])


@pytest.mark.parametrize(
    ("rec", "msg"),
    [
        ({"prompt": "p", "response": "x"}, r"lacks field\(s\) length"),
        ({"prompt": "p", "length": 10}, r"lacks field\(s\) response"),
        ({"prompt": "p", "response": "x", "length": "many"}, "non-numeric length"),
        ({"prompt": "p", "response": "x", "length": 0}, "must be positive"),
    ],
)
def test_score_records_bad_input(rec, msg):
    with pytest.raises(BimoError, match=msg):
        score_records([rec], source="f.jsonl")


def test_effective_length_and_flags_per_record_and_bucket():
    para = "秋天来了，南瓜躺在田埂边晒太阳，外婆弯着腰把辣椒一串串挂在屋檐下。"
    other = "冬天的菜园安静下来，只剩几垄白菜盖着薄霜，外婆说这是一年里最甜的时候。"
    n = count_length(para + other)
    recs = [{"id": "loop", "prompt": "p", "response": "\n\n".join([para, other, para, other]), "length": 2 * n},
            {"id": "ok", "prompt": "p", "response": para + other, "length": n}]
    res = score_records(recs)
    loop, ok = res["records"]
    assert loop["s_l"] == pytest.approx(100.0) and loop["effective_length"] == n
    assert loop["s_l_eff"] == pytest.approx(length_score(2 * n, n)) == pytest.approx(50.0)
    assert loop["flags"] and not ok["flags"]
    assert ok["s_l_eff"] == ok["s_l"] == pytest.approx(100.0)
    assert res["flagged"] == 1 and res["buckets"]["[0,500)"]["flagged"] == 1
    assert res["max_repeated_share"] == loop["repeated_share"] > 0.4
    assert loop["curve"][-1] == 1.0
