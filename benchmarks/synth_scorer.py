"""Self-curation scorers against a person's reading (prints figures; not a test).

benchmarks/data/synth_dev_pairs.jsonl holds 20 backtranslated pairs from the development
documents of the frozen set (`benchmarks/synth.py --set dev`: brown, Debian and People's Daily
passages; the three-step generator, unscored), each read by a person and marked `accepted`
when its request is one the passage (or the model's analysis of it) answers, with the reason.
Each pair is scored three ways by the same model:

- `json-1-5`: the earlier self-curation, a JSON verdict {"reason", "score": 1-5} (Humpback's
  rubric), decoded with the schema;
- `digit`: the same rubric answered with one digit, the score the probability-weighted mean digit;
- `yes-no` (shipped): "is the reply exactly what this request asks for?", the score
  P(yes) / (P(yes) + P(no)) of the first token (`BacktranslateStep.score_prompt`, `yes_share`).

For each: the AUC against the person's marks (the chance that an accepted pair scores above a
rejected one; 0.5 is chance), and for `yes-no` the pairs kept and dropped at the threshold.

`--pairs heldout` scores instead the 34 pairs of the held-out run that passed the code checks
(`benchmarks/data/synth_heldout_read.jsonl`, read by a person: `request_ok`, `pair_ok`; see
benchmarks/synth_read.py), so the three scorers are compared on pairs none was chosen on. One
dropped pair's model-written outline is stored cut at 300 characters, as its error row kept it.

    .venv/bin/python benchmarks/synth_scorer.py [--pairs dev|heldout] [--model local:default] [--threshold 0.85]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAIRS = {"dev": (REPO / "benchmarks" / "data" / "synth_dev_pairs.jsonl", ("accepted",)),
         "heldout": (REPO / "benchmarks" / "data" / "synth_heldout_read.jsonl", ("request_ok", "pair_ok"))}
#: the earlier 1-5 rubric (Humpback's), as the package shipped it before the yes/no read
RUBRIC = {
    "en": ("You are a strict data curator for a writing assistant. Answer with JSON only.",
           "Rate how good this pair is as training data, from 1 to 5:\n1 = the instruction is vague, unnatural, or the "
           "answer does not fit it;\n2 = the answer only partly addresses the instruction;\n3 = acceptable, but the "
           "instruction is generic or the fit is loose;\n4 = a clear, natural instruction and the answer fulfils it "
           "well;\n5 = an excellent, specific instruction that the answer fulfils perfectly.\n\nInstruction:\n{instruction}"
           "\n\nMaterial the user pasted with it (judge the instruction without it; may be empty):\n{material}\n\n"
           "Answer:\n{output}\n\n"),
    "zh": ("你是写作助手训练数据的严格审核员。只输出 JSON。",
           "请给这组数据作为训练样本的质量打分（1 到 5）：\n1 = 指令含糊、不自然，或回答与指令不符；\n2 = 回答只部分满足指令；\n"
           "3 = 尚可，但指令笼统或贴合度一般；\n4 = 指令清楚自然，回答很好地完成了指令；\n5 = 指令具体出色，回答完美地完成了它。\n\n"
           "指令：\n{instruction}\n\n用户随指令贴出的材料（评判指令时不算在内；可能为空）：\n{material}\n\n回答：\n{output}\n\n"),
}
JSON_TAIL = {"en": 'JSON: {"reason": one sentence, "score": 1-5}', "zh": 'JSON：{"reason": 一句话, "score": 1-5}'}
DIGIT_TAIL = {"en": "Answer with one digit, 1-5.", "zh": "只回答一个数字，1 到 5。"}
SCORE_SCHEMA = {"type": "object", "properties": {"reason": {"type": "string"},
                                                  "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
                "required": ["reason", "score"], "additionalProperties": False}


def auc(scores: list[float], marks: list[bool]) -> float:
    pos = [s for s, m in zip(scores, marks, strict=True) if m]
    neg = [s for s, m in zip(scores, marks, strict=True) if not m]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / max(1, len(pos) * len(neg))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="local:default")
    ap.add_argument("--pairs", choices=tuple(PAIRS), default="dev")
    ap.add_argument("--threshold", type=float, default=None, help="default: BacktranslateConfig's")
    a = ap.parse_args()
    from bimo.io import iter_jsonl
    from bimo.llm import get_backend
    from bimo.llm.base import GenParams
    from bimo.synth.backtranslate import SCORE_PARAMS, BacktranslateConfig, BacktranslateStep, yes_share
    from bimo.synth.common import prompts
    from bimo.templates import render

    threshold = a.threshold if a.threshold is not None else BacktranslateConfig().threshold
    path, mark_names = PAIRS[a.pairs]
    pairs = list(iter_jsonl(path))
    be = get_backend(a.model)
    step = BacktranslateStep(be, BacktranslateConfig())
    digit_params = GenParams(temperature=0.0, max_tokens=1, top_logprobs=10)
    got: dict[str, list[float]] = {"json-1-5": [], "digit": [], "yes-no": []}
    t0 = time.time()
    for n, p in enumerate(pairs, 1):
        lang = p["lang"]
        system, user = RUBRIC[lang]
        body = render(user, instruction=p["instruction"], material=p["input"] or "-", output=p["output"])
        verdict = be.chat([{"role": "system", "content": system}, {"role": "user", "content": body + JSON_TAIL[lang]}],
                          GenParams(temperature=0.7, max_tokens=256, seed=0), json_schema=SCORE_SCHEMA).json()
        got["json-1-5"].append(float(verdict.get("score", 0)) if isinstance(verdict, dict) else 0.0)
        top = be.chat([{"role": "system", "content": system}, {"role": "user", "content": body + DIGIT_TAIL[lang]}],
                      digit_params).first_token_logprobs()
        probs = {int(t.strip()): math.exp(lp) for t, lp in top.items() if t.strip() in ("1", "2", "3", "4", "5")}
        got["digit"].append(sum(d * q for d, q in probs.items()) / max(1e-9, sum(probs.values())))
        w = prompts("score", lang)
        comp = be.chat(step.score_prompt({"instruction": p["instruction"], "input": p["input"], "output": p["output"]},
                                         lang), SCORE_PARAMS)
        got["yes-no"].append(yes_share(comp, w["yes_words"], w["no_words"]))
        print(f"[{n}/{len(pairs)}] {p['id']}: {mark_names[0]}={p[mark_names[0]]} json={got['json-1-5'][-1]:.0f} "
              f"digit={got['digit'][-1]:.2f} yes-no={got['yes-no'][-1]:.3f}", flush=True)
    print(f"{len(pairs)} {a.pairs} pairs; {a.model}; {time.time() - t0:.0f} s")
    summary = {"benchmark": "synth_scorer", "set": a.pairs, "model": a.model, "pairs": len(pairs)}
    for mark in mark_names:
        flags = [bool(p[mark]) for p in pairs]
        summary[mark] = sum(flags)
        print(f"  against `{mark}` ({sum(flags)} of {len(pairs)} marked so):")
        for name, scores in got.items():
            summary[f"auc_{name}_{mark}"] = round(auc(scores, flags), 3)
            print(f"    {name}: AUC {summary[f'auc_{name}_{mark}']:.2f}")
    marks = [bool(p[mark_names[0]]) for p in pairs]
    kept = [m for s, m in zip(got["yes-no"], marks, strict=True) if s >= threshold]
    summary |= {"threshold": threshold, "kept": len(kept), "kept_accepted": sum(kept)}
    print(f"  yes-no at {threshold}: keeps {len(kept)} of {len(pairs)}, {sum(kept)} of the {sum(marks)} marked "
          f"`{mark_names[0]}` "
          f"(precision {sum(kept) / max(1, len(kept)):.2f} against {sum(marks) / len(marks):.2f} unfiltered)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
