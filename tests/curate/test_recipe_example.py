"""The shipped example recipe `recipes/curate-zh-en.yaml`, run through the real `bimo` command
on the shipped samples (plus one document that quotes a benchmark prompt)."""

import json
from collections import Counter
from pathlib import Path

from curate_util import DATA, output_docs, read_jsonl, rejects, write_jsonl

from bimo.curate.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "curate-zh-en.yaml"


def test_recipe_paths_resolve_next_to_the_recipe():
    r = load_recipe(RECIPE)
    assert [Path(p).resolve() for p in r.inputs] == [(DATA / "*.jsonl").resolve()]
    decontam = next(s["decontam"] for s in r.steps if "decontam" in s)
    assert Path(decontam["eval_sets"][0]).resolve() == (ROOT / "benchmarks" / "prompts" / "*.jsonl").resolve()
    # options given on the command line are taken as given (relative to the working directory)
    assert load_recipe(RECIPE, output="here/", inputs=["x.jsonl"]).inputs == ["x.jsonl"]


def test_zh_en_recipe_through_the_cli(tmp_path, bimo_cli):
    prompt = read_jsonl(ROOT / "benchmarks" / "prompts" / "bimo_bench.jsonl")[0]["prompt"]
    poem = read_jsonl(DATA / "tang300.jsonl")[0]["text"]
    leak = write_jsonl(tmp_path / "leak.jsonl", [{"id": "leak-1", "text": f"{poem}\n\n{prompt}"}])
    samples = sorted(DATA.glob("*.jsonl"))
    n_in = sum(len(read_jsonl(p)) for p in samples) + 1
    out = tmp_path / "out"
    args = ["curate", "run", str(RECIPE), "-o", str(out)]
    for p in [*samples, leak]:
        args += ["-i", str(p)]
    res = bimo_cli(*args)
    assert res.returncode == 0, res.stderr.decode()

    kept, rej = output_docs(out), rejects(out)
    assert len(kept) + len(rej) == n_in  # every document is either kept or rejected with a reason
    stats = json.loads((out / "stats.json").read_text())
    assert stats["input_docs"] == n_in and stats["output_docs"] == len(kept)
    assert [s["name"] for s in stats["steps"]] == [
        "read", "normalize", "langid", "length", "symbols", "repetition", "boilerplate", "code", "badwords",
        "quality", "genre", "decontam", "dedup", "mix"]

    why = {d["id"]: d["metadata"]["rejected"] for d in rej}
    assert why["leak-1"]["step"] == "decontam" and why["leak-1"]["reason"].startswith("contaminated")
    # the two Tang editions are the same poems once converted to simplified characters
    near = [d for d in rej if d["metadata"]["rejected"]["step"] == "dedup"]
    assert all(d["metadata"]["duplicate_similarity"] >= 0.8 for d in near)
    tang = [d for d in near if "quantangshi" in d["id"]]  # other samples repeat too (messy-essay-0, reviews)
    assert len(tang) >= 40
    assert all(d["id"].split("-")[1] == d["metadata"]["duplicate_of"].split("-")[1] for d in tang)

    # kept documents: tagged, good enough, simplified, and mixed 1:1 by genre and 4:1 by language
    assert all(d["metadata"]["lang"] in ("zh", "en") and d["metadata"]["quality"] >= 0.5 for d in kept)
    assert not any("牀" in d["text"] for d in kept)
    by = Counter((d["metadata"]["genre"], d["metadata"]["lang"]) for d in kept)
    genre = Counter(g for g, _ in by.elements())
    lang = Counter(lang for _, lang in by.elements())
    assert set(genre) == {"fiction", "nonfiction"} and set(lang) == {"zh", "en"}
    assert abs(genre["fiction"] - genre["nonfiction"]) <= 2
    assert abs(lang["zh"] - 4 * lang["en"]) <= 4

    report = (out / "report.md").read_text(encoding="utf-8")
    for step in ("| decontam |", "| dedup |", "| mix |", "contaminated", "near_duplicate", "mix_downsampled"):
        assert step in report
    assert (out / "report" / "steps.png").read_bytes().startswith(b"\x89PNG")
    assert "Tags: fiction/en: " in report
