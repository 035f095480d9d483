"""Judge probes: the degraded copies are made by code (checked here exactly), and the
command runs them through the tiny model in both orders."""

import json
import random

import pytest

from bimo.errors import BimoError
from bimo.evaluate.probe import CLICHE, FILLER, build_pairs, cliche, pad, repeat, shuffle

EN = ("The harbour was quiet before dawn. Gulls waited on the posts. A single boat slid out past the breakwater. "
      "By the time the sun rose, it was only a speck.\n\nOn shore, the baker lifted the first tray. The smell drifted "
      "down to the water.")
ZH = "清晨的港口很安静。海鸥停在木桩上。一只小船悄悄驶出防波堤，船灯轻轻摇晃。太阳升起时，它已成了远处的一个小点。"


def _sents(text, lang):
    from bimo.evaluate.probe import _paragraphs

    return sorted(s for p in _paragraphs(text) for s in p)


@pytest.mark.parametrize("text,lang", [(EN, "en"), (ZH, "zh")])
def test_perturbations_are_deterministic_and_do_what_they_say(text, lang):
    for make in (pad, shuffle, repeat, cliche):
        a, b = make(text, lang, random.Random(3)), make(text, lang, random.Random(3))
        assert a == b and a != text
    padded = pad(text, lang, random.Random(0))
    added = [s for s in _sents(padded, lang) if s not in _sents(text, lang)]
    assert len(added) >= 2 and all(s in FILLER[lang] for s in added)
    shuffled = shuffle(text, lang, random.Random(0))
    assert _sents(shuffled, lang) == _sents(text, lang)  # same sentences, other order
    repeated = repeat(text, lang, random.Random(0))
    assert len(_sents(repeated, lang)) > len(set(_sents(repeated, lang)))
    phrased = cliche(text, lang, random.Random(0))
    assert any(phrased.startswith(o) for o in CLICHE[lang]["open"])
    assert any(phrased.endswith(c) for c in CLICHE[lang]["close"])


def test_build_pairs_lists_what_cannot_be_probed(tmp_path, jsonl):
    texts = jsonl(tmp_path / "t.jsonl", [{"id": "en", "text": EN}, {"id": "hi", "text": "Hi."}, {"id": "none"}])
    neg = jsonl(tmp_path / "n.jsonl", [
        {"prompt": [{"role": "user", "content": "Describe dawn."}], "chosen": [{"role": "assistant", "content": EN}],
         "rejected": [{"role": "assistant", "content": EN.replace("quiet", "loud")}]},
        {"prompt": "x"}])
    pairs, skipped = build_pairs(texts, seed=0, negatives=neg)
    cats = [p["category"] for p in pairs]
    assert cats.count("padding") == 2 and cats.count("shuffle") == 1 and cats.count("constitution") == 1
    reasons = {s["id"]: s["reason"] for s in skipped}
    assert reasons["hi:shuffle"] == "fewer than 3 sentences to shuffle"
    assert reasons["none"].startswith("no text")
    assert "not a chosen/rejected record" in reasons.values()
    with pytest.raises(BimoError, match="unknown probe"):
        build_pairs(texts, ("nope",))
    from bimo.evaluate.probe import normalize_probe_pairs

    empty = jsonl(tmp_path / "e.jsonl", [{"id": "x", "text": "Hi."}])
    with pytest.raises(BimoError, match="no probe pairs could be built"):
        normalize_probe_pairs(*build_pairs(empty, ("shuffle",)))


def test_tiny_judge_probe_through_the_cli(tiny_path, tmp_path, jsonl, bimo_cli):
    texts = jsonl(tmp_path / "t.jsonl", [{"id": "en", "text": EN}])
    out = tmp_path / "probe"
    proc = bimo_cli("eval", "probe", str(texts), "-j", "local:tiny", "--probes", "padding,shuffle", "--max-tokens", "100",
                    "--retries", "0", "-q", "-o", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    s = json.loads((out / "probe.json").read_text())
    res = s["judges"][0]
    assert res["pairs"] + res["failed"] == 2
    if res["pairs"]:
        assert set(res["by_category"]) <= {"padding", "shuffle"}
        assert "position flips" in proc.stdout.decode().splitlines()[0]
    assert len((out / "probe_pairs.jsonl").read_text().splitlines()) == 2
