"""Faithfulness of a backtranslation run, from a person's reading (prints figures; not a test).

`benchmarks/data/synth_heldout_read.jsonl` is one reading of every pair that passed the code
checks in the held-out run (`benchmarks/synth.py --set heldout --docs 40 --tasks-per-doc 1
--max-chars 800 --retries 1 --keep DIR`): kept pairs and pairs dropped only by self-curation.
Each is marked `request_ok` (a person would accept the instruction as a request that the
passage, or the answer written about it, fulfils: the issue's faithfulness) and `pair_ok`
(that, and a model-written answer free of errors about the passage), with a note on what is
wrong. This script joins the reading to the run's files by id and instruction and prints:

- faithfulness among the kept pairs and among all pairs that passed the checks (what
  `--no-score` would keep), so the scorer's share is visible;
- the self-curation score's AUC against each mark (0.5 is chance);
- the failures by note.

    .venv/bin/python benchmarks/synth_read.py DIR [--read benchmarks/data/synth_heldout_read.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def auc(scores: list[float], marks: list[bool]) -> float:
    pos = [s for s, m in zip(scores, marks, strict=True) if m]
    neg = [s for s, m in zip(scores, marks, strict=True) if not m]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / max(1, len(pos) * len(neg))


def passed(run: Path) -> list[dict]:
    """Every pair that passed the code checks: kept, or dropped by self-curation alone."""
    from bimo.io import iter_jsonl
    from bimo.runner import errors_path

    out = [{"id": r["meta"]["source_id"], "instruction": r["meta"]["instruction"], "score": r["meta"]["score"],
            "kept": True} for r in iter_jsonl(run / "bt.jsonl")]
    out += [{"id": e["id"], "instruction": e["detail"]["instruction"], "score": e["detail"]["score"], "kept": False}
            for e in iter_jsonl(errors_path(run / "bt.jsonl")) if str(e.get("reason", "")).startswith("low quality")]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path, help="the --keep folder of a benchmarks/synth.py run")
    ap.add_argument("--read", type=Path, default=REPO / "benchmarks" / "data" / "synth_heldout_read.jsonl")
    a = ap.parse_args()
    from bimo.io import iter_jsonl

    marks = {(r["id"], r["instruction"]): r for r in iter_jsonl(a.read)}
    rows = passed(a.run)
    read = [(r, marks[(r["id"], r["instruction"])]) for r in rows if (r["id"], r["instruction"]) in marks]
    unread = [r["id"] for r in rows if (r["id"], r["instruction"]) not in marks]
    kept = [m for r, m in read if r["kept"]]
    print(f"{len(rows)} pairs passed the checks ({sum(r['kept'] for r in rows)} kept); {len(read)} read"
          + (f"; not read: {', '.join(unread)}" if unread else ""))
    summary: dict = {"benchmark": "synth_read", "passed": len(rows), "read": len(read), "kept_read": len(kept)}
    for mark in ("request_ok", "pair_ok"):
        k, allp = sum(m[mark] for m in kept), sum(m[mark] for _, m in read)
        scores, flags = [r["score"] for r, _ in read], [m[mark] for _, m in read]
        summary |= {f"{mark}_kept": k, f"{mark}_all": allp, f"auc_{mark}": round(auc(scores, flags), 3)}
        print(f"  {mark}: kept {k}/{len(kept)} ({100 * k / max(1, len(kept)):.0f}%), all that passed "
              f"{allp}/{len(read)} ({100 * allp / max(1, len(read)):.0f}%); self-curation AUC "
              f"{summary[f'auc_{mark}']:.2f}")
    print("failures (request or answer), as read:")
    for r, m in read:
        if m["note"]:
            print(f"  {'kept   ' if r['kept'] else 'dropped'} {r['id']}: {m['note']}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
