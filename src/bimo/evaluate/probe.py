"""`bimo eval probe`: pairs whose better side is known by construction, from good human texts.

Each text is set against a degraded copy of itself, made by code (deterministic for a
seed, Chinese and English), so no human label is needed: the original should win.

* `padding`: filler sentences that say nothing are inserted (a judge that likes length
  picks the copy);
* `shuffle`: the sentences of each paragraph are put in another order (coherence);
* `repeat`: a paragraph (or, in a one-paragraph text, a run of sentences) is repeated;
* `cliche`: typical machine-writing set phrases (套话, "delve into") are inserted;
* `constitution`: original vs its minimal principled corruption, read from
  `bimo synth constitution` output when given.

The pairs go through `bimo.evaluate.calibrate` with the probe name as category, so each
probe gets the judge's accuracy with a 95% interval, both orders and position bias.
What a probe measures is the judge's sensitivity to that one defect, not its agreement
with people on real pairs.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import iter_jsonl_numbered

PROBES = ("padding", "shuffle", "repeat", "cliche")

FILLER = {
    "zh": ["总的来说，这是一个值得我们认真思考的问题。", "从某种意义上说，这一点显得非常重要。",
           "正如大家所知道的那样，事情往往并没有那么简单。", "换句话说，我们需要从多个角度来看待它。",
           "这在一定程度上说明了很多问题。", "当然，每个人的看法可能都会有所不同。"],
    "en": ["In many ways, this is something worth thinking about.", "Generally speaking, this point is quite important.",
           "As everyone knows, things are often not that simple.", "In other words, we need to look at it from many angles.",
           "To some extent, this says a lot about many things.", "Of course, everyone may see it a little differently."],
}
CLICHE = {
    "zh": {"open": ["在当今快速发展的时代，", "众所周知，", "随着社会的不断进步，"],
           "mid": ["值得注意的是，", "不可否认，", "毋庸置疑，", "更重要的是，"],
           "close": ["总而言之，这充分体现了其深远的意义和不可替代的价值。", "让我们携手共进，共同开创更加美好的明天。"]},
    "en": {"open": ["In today's fast-paced world, ", "Let's delve into this. ", "In the ever-evolving landscape of life, "],
           "mid": ["It's important to note that ", "Moreover, it is worth noting that ", "Undeniably, "],
           "close": ["In conclusion, this is a testament to the rich tapestry of human experience.",
                     "Ultimately, it serves as a powerful reminder of what truly matters."]},
}
DEFAULT_PROMPT = {"zh": "请写一篇短文。", "en": "Write a short piece of prose."}
_PARA = re.compile(r"\n\s*\n|\n")


def _paragraphs(text: str) -> list[list[str]]:
    """Paragraphs as lists of trimmed sentences."""
    from bimo.text import sentence_spans

    paras = [p.strip() for p in _PARA.split(text) if p.strip()]
    return [[p[a:b] for a, b in sentence_spans(p)] or [p] for p in paras]


def _join(paras: list[list[str]], lang: str) -> str:
    sep = "" if lang == "zh" else " "
    return "\n\n".join(sep.join(s) for s in paras)


def _n_sentences(paras: list[list[str]]) -> int:
    return sum(len(p) for p in paras)


def pad(text: str, lang: str, rng: random.Random) -> str:
    """Filler sentences after about every other sentence (at least two)."""
    paras = _paragraphs(text)
    slots = [(i, j) for i, p in enumerate(paras) for j in range(len(p) + 1)]
    k = max(2, _n_sentences(paras) // 2)
    fill = rng.sample(FILLER[lang], min(k, len(FILLER[lang])))
    for (i, j), f in sorted(zip(rng.sample(slots, min(len(fill), len(slots))), fill, strict=False), reverse=True):
        paras[i].insert(j, f)
    return _join(paras, lang)


def shuffle(text: str, lang: str, rng: random.Random) -> str:
    """Sentences of each paragraph in another order; ValueError under three sentences."""
    paras = _paragraphs(text)
    if _n_sentences(paras) < 3:
        raise ValueError("fewer than 3 sentences to shuffle")
    if all(len(p) < 2 for p in paras):  # one sentence per paragraph: shuffle the paragraphs
        order = list(range(len(paras)))
        while order == sorted(order):
            rng.shuffle(order)
        return _join([paras[i] for i in order], lang)
    out = []
    for p in paras:
        q = list(p)
        if len(q) >= 2:
            while q == p and len(set(p)) > 1:
                rng.shuffle(q)
        out.append(q)
    return _join(out, lang)


def repeat(text: str, lang: str, rng: random.Random) -> str:
    """A paragraph repeated after itself; in a one-paragraph text, a run of sentences."""
    paras = _paragraphs(text)
    if len(paras) >= 2:
        i = rng.randrange(len(paras))
        return _join(paras[: i + 1] + [list(paras[i])] + paras[i + 1:], lang)
    p = paras[0]
    if len(p) < 2:
        raise ValueError("one sentence only: nothing to repeat in place")
    k = max(1, len(p) // 2)
    i = rng.randrange(len(p) - k + 1)
    return _join([p[: i + k] + p[i: i + k] + p[i + k:]], lang)


def cliche(text: str, lang: str, rng: random.Random) -> str:
    """A set-phrase opener, one or two set phrases inside, and a hollow closing sentence."""
    paras = _paragraphs(text)
    c = CLICHE[lang]
    first = paras[0][0]
    paras[0][0] = rng.choice(c["open"]) + (first[0].lower() + first[1:] if lang == "en" and first[:2] != "I " else first)
    spots = [(i, j) for i, p in enumerate(paras) for j in range(len(p)) if (i, j) != (0, 0)]
    for i, j in rng.sample(spots, min(2, len(spots))):
        s = paras[i][j]
        paras[i][j] = rng.choice(c["mid"]) + (s[0].lower() + s[1:] if lang == "en" and s[:2] != "I " else s)
    paras[-1].append(rng.choice(c["close"]))
    return _join(paras, lang)


MAKERS = {"padding": pad, "shuffle": shuffle, "repeat": repeat, "cliche": cliche}


def _text_of(rec: dict[str, Any]) -> str | None:
    for k in ("text", "response", "chosen"):
        v = rec.get(k)
        if isinstance(v, str) and v.strip():
            return v
    return None


def build_pairs(texts: str | Path, probes: tuple[str, ...] = PROBES, seed: int = 0,
                negatives: str | Path | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(probe pairs as calibrate input records, skipped items with reasons)."""
    from bimo.text import detect_lang

    unknown = [p for p in probes if p not in MAKERS]
    if unknown:
        raise BimoError(f"unknown probe {unknown[0]!r}; choose from: {', '.join(PROBES)}")
    bad: list[str] = []
    pairs: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for line, rec in iter_jsonl_numbered(texts, bad):
        text = _text_of(rec)
        tid = str(rec.get("id", f"t{line}"))
        if text is None:
            skipped.append({"line": line, "id": tid, "reason": "no text (need a non-empty text or response field)"})
            continue
        lang = rec.get("lang") or ("zh" if detect_lang(text) == "zh" else "en")
        lang = lang if lang in FILLER else "en"
        # the text's writing type, for a judge that weighs a type's own criteria
        kind = {f: rec[f] for f in ("task", "genre", "domain") if isinstance(rec.get(f), str) and rec[f].strip()}
        prompt = rec.get("prompt") if isinstance(rec.get("prompt"), str) and rec["prompt"].strip() else DEFAULT_PROMPT[lang]
        for probe in probes:
            rng = random.Random(f"{seed}:{tid}:{probe}")
            try:
                worse = MAKERS[probe](text, lang, rng)
            except ValueError as exc:
                skipped.append({"line": line, "id": f"{tid}:{probe}", "reason": str(exc)})
                continue
            pairs.append({"id": f"{tid}:{probe}", "prompt": prompt, "chosen": text.strip(), "rejected": worse,
                          "category": probe, "lang": lang, **kind})
    if negatives is not None:
        for line, rec in iter_jsonl_numbered(negatives, bad):
            if "chosen" not in rec or "rejected" not in rec:
                skipped.append({"line": line, "id": rec.get("id"), "reason": "not a chosen/rejected record"})
                continue
            pairs.append({**{k: rec[k] for k in ("prompt", "chosen", "rejected")},
                          "id": f"{rec.get('id', f'n{line}')}:constitution", "category": "constitution"})
    skipped += [{"line": None, "id": None, "reason": msg} for msg in bad]
    return pairs, skipped


def normalize_probe_pairs(pairs: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Probe records in calibrate's normalized form; unusable ones join `skipped` with a reason."""
    from bimo.evaluate.calibrate import normalize_pair

    out = []
    for n, rec in enumerate(pairs, 1):
        try:
            out.append(normalize_pair(rec, n))
        except ValueError as exc:
            skipped.append({"line": None, "id": rec.get("id"), "reason": str(exc)})
    if not out:
        raise BimoError("no probe pairs could be built" + (f" (first reason: {skipped[0]['reason']})" if skipped else ""))
    return out, skipped


def probe_line(res: dict[str, Any]) -> str:
    """'local:default: padding 58% [33%, 83%], shuffle ...; position flips 40%'."""
    if not res.get("pairs"):
        return f"{res['judge']}: no verdicts ({res.get('failed', 0)} failed)"
    parts = [f"{name} {g['rate']:.0%} [{g['ci'][0]:.0%}, {g['ci'][1]:.0%}]" for name, g in res["by_category"].items()
             if g["rate"] is not None]
    flips = "-" if res["position_flips"] is None else f"{res['position_flips']:.0%}"
    return (f"{res['judge']}: " + ", ".join(parts) + f"; position flips {flips}, ties "
            f"{res['tie_rate']:.0%}, failed {res['failed']} ({res['pairs']} pairs)")
