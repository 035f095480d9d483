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


def test_mixer_hits_targets_and_is_reproducible():
    counts = Counter({("fiction", "zh", "a"): 4000, ("fiction", "zh", "b"): 1000, ("nonfiction", "zh", "c"): 3000,
                      ("fiction", "en", "d"): 2000, ("nonfiction", "en", "e"): 500})
    cfg = MixConfig()
    rates = keep_rates(counts, cfg)
    expected = Counter()
    for (g, lang, s), n in counts.items():
        expected[(g, lang)] += n * rates[(g, lang, s)]
    total = sum(expected.values())
    assert abs(expected[("fiction", "zh")] / total - 0.4) < 1e-6
    assert abs(expected[("nonfiction", "en")] / total - 0.1) < 1e-6
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
