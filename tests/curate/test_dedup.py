"""Exact and near dedup on real poems: natural two-edition near-duplicates and planted edits."""

import random

import pytest
from curate_util import output_docs, rejects, write_jsonl
from typer.testing import CliRunner

from bimo.curate.cli import app
from bimo.curate.pipeline import dedup_recipe, run


def edit(text, rate, rng):
    chars = list(text)
    for _ in range(max(1, round(rate * len(chars)))):
        i = rng.randrange(len(chars))
        chars[i] = rng.choice(chars)
    return "".join(chars)


def planted(brown, tang300):
    rng = random.Random(1)
    docs = [dict(d, metadata={}) for d in tang300 + brown]
    truth = {}
    for k, d in enumerate(rng.sample(docs, 60)):
        kind = k % 3
        if kind == 0:
            text = d["text"]
        elif d["text"].isascii():
            words = d["text"].split(" ")
            for _ in range(max(1, len(words) // 20)):
                words[rng.randrange(len(words))] = rng.choice(words)
            text = " ".join(words)
        else:
            text = edit(d["text"], 0.05, rng)
        truth[f"copy{k}"] = d["id"]
        docs.append({"id": f"copy{k}", "text": text, "metadata": {}})
    rng.shuffle(docs)
    return docs, truth


@pytest.mark.parametrize("method", ["minhash", "simhash"])
def test_planted_duplicates_are_found_and_named(tmp_path, brown, tang300, method):
    docs, truth = planted(brown, tang300)
    write_jsonl(tmp_path / "in" / "a.jsonl", docs[: len(docs) // 2])
    write_jsonl(tmp_path / "in" / "b.jsonl", docs[len(docs) // 2:])
    run(dedup_recipe([str(tmp_path / "in")], str(tmp_path / "out"), method=method, workers=1), progress=False)
    removed = {d["id"]: d["metadata"]["duplicate_of"] for d in rejects(tmp_path / "out", "dedup")}
    caught = sum(1 for c, o in truth.items() if removed.get(c) == o or removed.get(o) == c)
    assert caught / len(truth) >= (0.95 if method == "minhash" else 0.9)
    kept_ids = {d["id"] for d in output_docs(tmp_path / "out")}
    assert set(removed.values()) <= kept_ids  # every duplicate names a document that was kept
    assert len(kept_ids) + len(removed) == len(docs)
    # nothing but planted copies (and their originals) is removed: the 300 poems are all distinct
    assert set(removed) <= set(truth) | set(truth.values())


def test_two_editions_are_near_duplicates(tmp_path, editions):
    write_jsonl(tmp_path / "e.jsonl", editions)
    res = CliRunner().invoke(app, ["dedup", str(tmp_path / "e.jsonl"), "-o", str(tmp_path / "out"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    removed = rejects(tmp_path / "out", "dedup")
    assert len(removed) >= 40
    for d in removed:
        a, b = d["id"].split("-")[1], d["metadata"]["duplicate_of"].split("-")[1]
        assert a == b  # the same poem in the other edition
        assert d["metadata"]["rejected"]["step"] == "dedup"
        assert d["metadata"]["duplicate_similarity"] >= 0.8


def test_exact_only(tmp_path, tang300):
    docs = tang300[:50] + [dict(tang300[3], id="again")] + [dict(tang300[4], id="spaced", text=tang300[4]["text"] + "  \n")]
    write_jsonl(tmp_path / "in.jsonl", docs)
    run(dedup_recipe([str(tmp_path / "in.jsonl")], str(tmp_path / "out"), method="none", workers=1), progress=False)
    removed = {d["id"]: d["metadata"]["duplicate_of"] for d in rejects(tmp_path / "out", "dedup")}
    assert removed == {"again": tang300[3]["id"], "spaced": tang300[4]["id"]}


def test_final_phase_steps_count_their_own_rows(tmp_path, tang300):
    """Dedup and mixer run over work-shard rows through `run` like any step: they count seen/kept,
    parse and stamp only the rows they reject, and pass the kept rows on in order."""
    from bimo.curate.base import run_doc_steps
    from bimo.curate.dedup import DedupFilter
    from bimo.curate.mixer import MixConfig, Mixer
    from bimo.curate.workshards import ShardFiles, WorkDocs
    from bimo.curate.writers import ShardWriter

    docs = [{"id": d["id"], "text": d["text"], "metadata": {"lang": "zh"}} for d in tang300[:6]]
    w = ShardWriter(tmp_path / "s.jsonl", track_offsets=True)
    for d in docs:
        w.write(d)
    w.close()
    ShardFiles(tmp_path / "s", len(docs)).save_offsets(w.offsets)
    first = 100  # the shard's first row in the corpus
    dedup = DedupFilter({first + 1: (docs[0]["id"], 0.93, "near")})
    bucket = ["fiction", "zh", "a"]
    mixer = Mixer(MixConfig(), {tuple(bucket): 1.0}, {tuple(bucket): 1.0})
    mixer.rates[("fiction", "zh", "b")] = 0.0  # rows of source b are mixed out
    mix_rows = [[d["id"], "fiction", "zh", "b" if k == 4 else "a", 0.5] for k, d in enumerate(docs)]
    sunk = []
    dedup.sink = mixer.sink = sunk.append
    work = WorkDocs([ShardFiles(tmp_path / "s", len(docs))])
    kept = [row.k for row in run_doc_steps([dedup, mixer], work.rows(0, first, mix_rows))]
    work.close()
    assert kept == [0, 2, 3, 5]
    assert (dedup.stats.seen, dedup.stats.kept, dedup.stats.removed) == (6, 5, 1)
    assert (mixer.stats.seen, mixer.stats.kept, mixer.stats.removed) == (5, 4, 1)
    dup, mixed = sunk
    assert dup["id"] == docs[1]["id"] and dup["metadata"]["duplicate_of"] == docs[0]["id"]
    assert dup["metadata"]["rejected"] == {"step": "dedup", "reason": f"near_duplicate: of {docs[0]['id']}"}
    assert mixed["id"] == docs[4]["id"] and mixed["metadata"]["rejected"]["step"] == "mix"
