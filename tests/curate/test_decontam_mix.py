"""Decontamination against an evaluation set and the reproducible mixer."""

from collections import Counter

from curate_util import write_jsonl

from bimo.curate.decontam import Decontaminator
from bimo.curate.mixer import MixConfig, Mixer, keep_rates


def test_decontam_drops_docs_sharing_a_17gram(tmp_path, tang300, brown):
    evals = write_jsonl(tmp_path / "eval.jsonl", [{"question": tang300[3]["text"][10:60]},
                                                  {"prompt": " ".join(brown[2]["text"].split()[30:60])}])
    step = Decontaminator([str(evals)])
    docs = [{"id": d["id"], "text": d["text"], "metadata": {}} for d in tang300[:10] + brown[:5]]
    bad = {d["id"] for d in docs if step.process(d) is not None}
    assert bad == {tang300[3]["id"], brown[2]["id"]}
    flag = Decontaminator([str(evals)], mode="flag")
    doc = {"id": "x", "text": tang300[3]["text"], "metadata": {}}
    assert flag.process(doc) is None and doc["metadata"]["contaminated_ngrams"] > 0


def test_decontam_names_the_benchmark_item_and_the_shared_span(tmp_path, tang300, brown):
    poem = tang300[3]["text"]
    evals = write_jsonl(tmp_path / "bench.jsonl", [{"id": "q-1", "question": "无关的问题，和文档没有任何共同之处。"},
                                                    {"id": "q-7", "question": poem[10:60]}])
    words = brown[2]["text"].split()
    (tmp_path / "other.txt").write_text("unrelated\n\n" + " ".join(words[30:60]), encoding="utf-8")
    step = Decontaminator([str(evals), str(tmp_path / "other.txt")])
    doc = {"id": "d", "text": "前言。" + poem, "metadata": {}}
    reason = step.process(doc)
    c = doc["metadata"]["contamination"]
    assert c["file"] == "bench.jsonl" and c["item"] == "q-7" and c["span"] in poem and len(c["span"]) >= 17
    assert "bench.jsonl item q-7" in reason
    en = {"id": "e", "text": brown[2]["text"], "metadata": {}}
    assert step.process(en) is not None
    c = en["metadata"]["contamination"]
    assert c["file"] == "other.txt" and c["span"] in brown[2]["text"] and len(c["span"].split()) >= 17


def test_mixer_hits_targets_and_is_reproducible():
    counts = Counter({("fiction", "zh", "a"): 4000, ("fiction", "zh", "b"): 1000, ("nonfiction", "zh", "c"): 3000,
                      ("fiction", "en", "d"): 2000, ("nonfiction", "en", "e"): 500})
    cfg = MixConfig()
    rates = keep_rates(counts, cfg)
    expected = Counter()
    for (g, lang, s), n in counts.items():
        expected[(g, lang)] += n * rates[(g, lang, s)]
    total = sum(expected.values())
    # integer quotas by largest remainder: every cell within one document of its exact share
    for cell, share in {("fiction", "zh"): 0.4, ("nonfiction", "zh"): 0.4, ("fiction", "en"): 0.1,
                        ("nonfiction", "en"): 0.1}.items():
        assert abs(expected[cell] - share * total) <= 1
    assert total >= 5000
    # source balancing: alpha 0 gives sources of a bucket equal shares where supply allows
    flat = keep_rates(counts, MixConfig(alpha=0.0))
    assert flat[("fiction", "zh", "b")] > rates[("fiction", "zh", "b")]
    ids = [f"doc{i}" for i in range(2000)]
    pick = [Mixer(cfg, rates).decide(i, ("fiction", "zh", "a")) is None for i in ids]
    again = [Mixer(cfg, rates).decide(i, ("fiction", "zh", "a")) is None for i in ids]
    other = [Mixer(MixConfig(seed=7), rates).decide(i, ("fiction", "zh", "a")) is None for i in ids]
    assert pick == again and pick != other
    assert abs(sum(pick) / len(ids) - rates[("fiction", "zh", "a")]) < 0.05


def test_mixer_quotas_are_exact_in_bounded_memory():
    import random

    import numpy as np

    from bimo.curate.mixer import quota_thresholds, uniform

    rng = random.Random(0)
    rows = [(f"d{i}", (rng.choice(["fiction", "nonfiction"]), rng.choices(["zh", "en"], [0.3, 0.7])[0],
                       rng.choice("abc"))) for i in range(6000)]

    def columns():  # a shard at a time
        for k in range(0, len(rows), 1000):
            part = rows[k:k + 1000]
            yield [b for _, b in part], np.array([uniform(0, i) for i, _ in part])

    for bins in (4096, 3):  # few bins: the k-th value is still found exactly
        rates, thresholds = quota_thresholds(columns, MixConfig(), bins=bins)
        mixer = Mixer(MixConfig(), rates, thresholds)
        kept = Counter(b for i, b in rows if mixer.decide(i, b) is None)
        n = Counter(b for _, b in rows)
        assert all(kept[b] == round(rates[b] * n[b]) for b in n)
        genre, lang = Counter(), Counter()
        for (g, la, _), v in kept.items():
            genre[g] += v
            lang[la] += v
        assert abs(genre["fiction"] - genre["nonfiction"]) <= 3 and abs(lang["zh"] - 4 * lang["en"]) <= 5


def test_mix_is_exact_on_a_tiny_corpus_with_many_sources():
    """4/4/1/1 documents in the four cells, English spread over sources of one document each: the
    quotas are taken over the whole grid, so every cell gets its exact share (Weaver: 1:1 and 4:1)."""
    from bimo.curate.mixer import bucket_quotas
    counts = Counter({("fiction", "zh", "a"): 3, ("fiction", "zh", "b"): 2, ("nonfiction", "zh", "c"): 4,
                      ("nonfiction", "zh", "d"): 3, ("fiction", "en", "e"): 1, ("fiction", "en", "f"): 1,
                      ("nonfiction", "en", "g"): 1, ("unknown", "zh", "h"): 5})
    q = bucket_quotas(counts, MixConfig(alpha=0.7))
    cell = Counter()
    for (g, la, _), k in q.items():
        cell[(g, la)] += k
    assert cell == Counter({("fiction", "zh"): 4, ("nonfiction", "zh"): 4, ("fiction", "en"): 1,
                            ("nonfiction", "en"): 1})
    assert q[("fiction", "zh", "a")] + q[("fiction", "zh", "b")] == 4 and min(q[("fiction", "zh", "a")],
                                                                             q[("fiction", "zh", "b")]) >= 1
    assert all(k <= counts[b] for b, k in q.items())


def test_largest_remainder_is_exact_and_respects_caps():
    from bimo.curate.mixer import largest_remainder
    assert largest_remainder(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert sum(largest_remainder(7, {"a": 0.4, "b": 0.4, "c": 0.1, "d": 0.1}).values()) == 7
    assert largest_remainder(6, {"a": 1, "b": 1}, {"a": 1, "b": 10}) == {"a": 1, "b": 5}


def test_mix_with_an_empty_target_cell_says_what_is_missing():
    import pytest

    from bimo.curate.mixer import bucket_quotas
    from bimo.errors import BimoError
    counts = Counter({("fiction", "zh", "a"): 30, ("nonfiction", "zh", "b"): 30, ("fiction", "en", "c"): 5})
    with pytest.raises(BimoError, match=r"no nonfiction/en documents.*10% of the output.*supply: fiction/en 5"):
        bucket_quotas(counts, MixConfig())
    q = bucket_quotas(counts, MixConfig(lang={"zh": 1}))  # zh only: English is simply not kept
    assert q[("fiction", "en", "c")] == 0 and q[("fiction", "zh", "a")] == q[("nonfiction", "zh", "b")] == 30
