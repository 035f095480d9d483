"""`bimo eval calibrate`: how far a pairwise judge agrees with people, and how it is biased.

Input is a JSONL file of labelled pairs: `prompt` and either `chosen`/`rejected`, or
`a`/`b` with `winner` in {a, b, tie}; optional `category`, `lang`, `gap`, `id`. The
`chosen`/`rejected` form (also the message-list form written by `bimo synth
constitution`) is placed as a/b by a hash of the pair's id, so the human label is not
always "a": otherwise Cohen's kappa has nothing to measure.

Every pair is judged in both orders (unless one order is asked for) through the shared
runner (resumable, failures in the errors file with their reasons). Pairs that cannot be
judged (empty or identical responses, an unknown winner, no prompt, a broken line) are
listed with a reason in the summary, never dropped silently.

What is reported, per judge, next to the same figures for trivial baselines on the
same pairs (always the longer response, always the one shown first, a coin):

* agreement with the human label of the both-order verdict (an order-dependent verdict
  counts as a tie) and of single verdicts, with 95% bootstrap intervals, overall and per
  category and language; Cohen's kappa over {a, b, tie};
* position bias: the share of pairs whose verdict changes when the order is swapped, and
  the share of decisive single verdicts that picked whatever was shown first;
* length bias: agreement when the human-preferred response is the longer vs the shorter
  one, and a logistic fit of "judge picked a" on log(len_a / len_b);
* tie rate and failures.

Judge settings that change verdicts (judge, rubric, temperature, top_p, max tokens,
seed, and the pairwise judge's options of `bimo.evaluate.pairjudge`: samples per order,
both orders, a rubric per writing type) are stored with every verdict. A verdict file
written with other settings is not mixed into a new run unless `allow_mixed` says so.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bimo.errors import BimoError
from bimo.evaluate.defaults import ROUNDS
from bimo.evaluate.judge_step import JudgeSettings, JudgeStep, judge_run_config
from bimo.evaluate.pairjudge import PairJudge, coin, combined, settings_differences
from bimo.io import errors_path, iter_jsonl, iter_jsonl_numbered
from bimo.runner import run_step

#: Above this share of order-dependent verdicts a judge's win rates are mostly position.
FLIP_WARN = 0.20
WINNERS = ("a", "b", "tie")


# --- input ---------------------------------------------------------------------------

def _text(value: Any, role: str = "assistant") -> str | None:
    """A field as text: a string, or the last `role` turn of a message list (synth output)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        from bimo.synth.records import last_assistant, last_user

        return (last_user if role == "user" else last_assistant)(value)
    return None


def normalize_pair(rec: dict[str, Any], line: int) -> dict[str, Any]:
    """One input record as {id, prompt, a, b, human, category, lang, gap}; ValueError with the reason."""
    pid = str(rec["id"]) if rec.get("id") is not None else f"line{line}"
    prompt = _text(rec.get("prompt"), "user")
    if not prompt or not prompt.strip():
        raise ValueError("no prompt")
    if "chosen" in rec or "rejected" in rec:
        chosen, rejected = _text(rec.get("chosen")), _text(rec.get("rejected"))
        if chosen is None or rejected is None:
            raise ValueError("needs both chosen and rejected as text")
        a, b, human = (rejected, chosen, "b") if coin(pid) else (chosen, rejected, "a")
    elif "a" in rec or "b" in rec:
        a, b = _text(rec.get("a")), _text(rec.get("b"))
        if a is None or b is None:
            raise ValueError("needs both a and b as text")
        human = str(rec.get("winner", "")).strip().lower()
        if human not in WINNERS:
            raise ValueError(f"unknown winner {rec.get('winner')!r} (need a, b or tie)")
    else:
        raise ValueError("needs chosen/rejected or a/b with winner")
    if not a.strip() or not b.strip():
        raise ValueError("empty response")
    if a.strip() == b.strip():
        raise ValueError("identical responses")
    from bimo.text import count_length, detect_lang

    lang = rec.get("lang") or ("zh" if detect_lang(prompt + a) == "zh" else "en")
    meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
    out = {"id": pid, "prompt": prompt, "a": a, "b": b, "human": human, "lang": str(lang),
           "category": str(rec.get("category") or meta.get("category") or "all"),
           "len_a": count_length(a), "len_b": count_length(b)}
    for field in ("task", "genre", "domain"):  # may name a writing type (per-type rubrics)
        if isinstance(rec.get(field), str) and rec[field].strip():
            out[field] = rec[field]
    if rec.get("input"):
        out["input"] = rec["input"]
    if rec.get("gap") is not None:
        out["gap"] = rec["gap"]
    return out


def load_pairs(path: str | Path, sample: int | None = None, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pairs to judge, skipped pairs with their reasons). One-line error when none is usable."""
    path = Path(path)
    bad: list[str] = []
    pairs, skipped, seen = [], [], set()
    for line, rec in iter_jsonl_numbered(path, bad):
        try:
            pair = normalize_pair(rec, line)
        except ValueError as exc:
            skipped.append({"line": line, "id": rec.get("id"), "reason": str(exc)})
            continue
        if pair["id"] in seen:
            skipped.append({"line": line, "id": pair["id"], "reason": "repeated id"})
            continue
        seen.add(pair["id"])
        pairs.append(pair)
    skipped += [{"line": _line_of(msg), "id": None, "reason": msg} for msg in bad]
    if not pairs:
        why = f" ({len(skipped)} skipped: {skipped[0]['reason']}, ...)" if skipped else ""
        raise BimoError(f"{path}: no usable pairs{why}")
    if sample is not None and sample < len(pairs):
        pairs = random.Random(seed).sample(pairs, sample)
    return pairs, skipped


def _line_of(msg: str) -> int | None:
    m = re.search(r":(\d+): ", msg)
    return int(m.group(1)) if m else None


# --- judging ---------------------------------------------------------------------------

class CalibrateStep(JudgeStep):
    """One labelled pair judged as `PairJudge` says (both orders unless switched off)."""

    name = "calibrate"

    def __init__(self, backend: Any, settings: JudgeSettings, rubric: str = "pairwise"):
        super().__init__(backend, settings)
        self.pair_judge = PairJudge(settings, rubric)
        self.recorded = self.pair_judge.recorded

    def key(self, pair: dict[str, Any]) -> str:
        return pair["id"]

    def describe(self, pair: dict[str, Any]) -> dict[str, Any]:
        return {"pair": pair["id"], "settings": self.recorded}

    def process(self, pair: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        got = self.pair_judge.judge(self, pair, pair["a"], pair["b"], attempt, pair["id"])
        keep = ("human", "category", "lang", "gap", "len_a", "len_b")
        return [{"pair": pair["id"], **{k: pair[k] for k in keep if k in pair}, **got, "attempts": attempt + 1,
                 "settings": self.recorded}]


def verdicts_path(out_dir: Path, judge: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", judge).strip("_") or "judge"
    return Path(out_dir) / f"verdicts.{slug}.jsonl"


def check_settings(path: Path, recorded: dict[str, Any], allow_mixed: bool) -> bool:
    """True when `path` holds verdicts made with other settings (allowed); BimoError when not allowed."""
    if not path.exists():
        return False
    diff = next((d for r in iter_jsonl(path, []) if r.get("settings")
                 for d in [settings_differences(r["settings"], recorded)] if d), None)
    if diff is None:
        return False
    if not allow_mixed:
        raise BimoError(f"{path} holds verdicts made with other judge settings ({', '.join(diff)}); "
                        "use another --out, or --allow-mixed-settings to mix them")
    return True


def judge_pairs(pairs: list[dict[str, Any]], backend: Any, settings: JudgeSettings, out_dir: Path,
                rubric: str = "pairwise", allow_mixed: bool = False, progress: bool = False) -> dict[str, Any]:
    """Judge every pair in both orders into OUT/verdicts.JUDGE.jsonl; returns the judge's figures."""
    path = verdicts_path(out_dir, settings.judge)
    step = CalibrateStep(backend, settings, rubric)
    mixed = check_settings(path, step.recorded, allow_mixed)
    run_step(step, pairs, path, judge_run_config(settings, progress))
    wanted = {p["id"] for p in pairs}
    rows = [r for r in iter_jsonl(path, []) if r.get("pair") in wanted]
    err = errors_path(path)
    failures = [{"pair": r.get("pair", r.get("id")), "reason": r.get("reason", "")}
                for r in (iter_jsonl(err, []) if err.exists() else []) if r.get("pair", r.get("id")) in wanted]
    return {"judge": settings.judge, "settings": step.recorded, "mixed_settings": mixed, "verdicts": str(path),
            "failed": len(failures), "failures": failures[:20], **summarize(rows)}


# --- figures ---------------------------------------------------------------------------

def _flips(rows: list[dict[str, Any]]) -> float | None:
    """Share of pairs judged in both orders whose verdict changed with the order; None when
    no pair was (a one-order judge cannot show it)."""
    both = [r["sides"][0] != r["sides"][1] for r in rows if len(r["sides"]) == 2]
    return float(np.mean(both)) if both else None


def cohen_kappa(x: Sequence[str], y: Sequence[str], labels: Sequence[str] = WINNERS) -> float | None:
    """Cohen's kappa of two labelings; None when chance agreement is total (nothing to measure)."""
    n = len(x)
    if not n:
        return None
    po = sum(a == b for a, b in zip(x, y, strict=True)) / n
    pe = sum((sum(a == k for a in x) / n) * (sum(b == k for b in y) / n) for k in labels)
    return None if pe >= 1 else (po - pe) / (1 - pe)


def logistic_fit(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3, iters: int = 50) -> tuple[float, float] | None:
    """(b0, b1) of P(y=1) = sigmoid(b0 + b1 x) by Newton's method; None without spread in x.

    A small ridge on b1 keeps the slope finite when x separates the classes perfectly.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or x.std() == 0:
        return None
    X = np.column_stack([np.ones_like(x), x])
    b = np.zeros(2)
    pen = np.diag([0.0, ridge * len(x)])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(X @ b, -30, 30)))
        g = X.T @ (y - p) - pen @ b
        h = X.T @ (X * (p * (1 - p))[:, None]) + pen + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        b += step
        if np.max(np.abs(step)) < 1e-9:
            break
    return float(b[0]), float(b[1])


def _rate(values: np.ndarray, rounds: int, seed: int) -> dict[str, Any]:
    from bimo.evaluate.winrate import bootstrap_ci

    if not len(values):
        return {"n": 0, "rate": None, "ci": None}
    lo, hi = bootstrap_ci(values, rounds=rounds, seed=seed)
    return {"n": int(len(values)), "rate": float(values.mean()), "ci": [lo, hi]}


def summarize(rows: list[dict[str, Any]], rounds: int = ROUNDS, seed: int = 0) -> dict[str, Any]:
    """All figures for one judge (or baseline) from rows with human, sides, len_a, len_b, category, lang."""
    n = len(rows)
    if not n:
        return {"pairs": 0}
    human = [r["human"] for r in rows]
    # the verdict the judge gave (files from before it was recorded: the orders combined)
    comb = [r.get("winner") or combined(r["sides"]) for r in rows]
    agree = np.array([c == h for c, h in zip(comb, human, strict=True)], float)
    single = np.array([sum(v == r["human"] for v in r["sides"]) / len(r["sides"]) for r in rows], float)
    # the side shown first in each order judged (a one-order judge records which)
    decisive = [(v, first) for r in rows for v, first in zip(r["sides"], r.get("first", ("a", "b")), strict=False)
                if v != "tie"]
    out: dict[str, Any] = {
        "pairs": n,
        "agreement": _rate(agree, rounds, seed),
        "agreement_single": _rate(single, rounds, seed),
        "kappa": cohen_kappa(human, comb),
        "position_flips": _flips(rows),
        "first_position_wins": (sum(v == first for v, first in decisive) / len(decisive)) if decisive else None,
        "tie_rate": float(np.mean([c == "tie" for c in comb])),
        "tie_rate_single": float(np.mean([v == "tie" for r in rows for v in r["sides"]])),
        "length": _length_bias(rows, agree, rounds, seed),
    }
    margins = [r["margins"] for r in rows if len(r.get("margins") or []) == 2]
    if margins:  # pairwise-logprob: how far the letter leans to the first-shown answer, in nats
        out["position_margin"] = float(np.mean([(m1 + m2) / 2 for m1, m2 in margins]))
    for field in ("category", "lang"):
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            groups.setdefault(str(r.get(field, "all")), []).append(i)
        if len(groups) > 1 or field == "category":
            out[f"by_{field}"] = {g: {**_rate(agree[idx], rounds, seed), "single": _rate(single[idx], rounds, seed)["rate"],
                                      "flips": _flips([rows[i] for i in idx])}
                                  for g, idx in sorted(groups.items())}
    return out


def _length_bias(rows: list[dict[str, Any]], agree: np.ndarray, rounds: int, seed: int) -> dict[str, Any]:
    longer, shorter = [], []
    for i, r in enumerate(rows):
        if r["human"] == "tie" or r["len_a"] == r["len_b"]:
            continue
        pref_longer = (r["len_a"] > r["len_b"]) == (r["human"] == "a")
        (longer if pref_longer else shorter).append(agree[i])
    xs, ys = [], []
    for r in rows:
        if r["len_a"] > 0 and r["len_b"] > 0:
            for v in r["sides"]:
                if v != "tie":
                    xs.append(math.log(r["len_a"] / r["len_b"]))
                    ys.append(v == "a")
    fit = logistic_fit(np.array(xs), np.array(ys))
    return {"preferred_longer": _rate(np.array(longer, float), rounds, seed),
            "preferred_shorter": _rate(np.array(shorter, float), rounds, seed),
            # log-odds of picking a response per doubling of its length over the other's
            "logit_per_doubling": None if fit is None else fit[1] * math.log(2),
            "fit_n": len(xs)}


def baselines(rows: list[dict[str, Any]], seed: int = 0, rounds: int = ROUNDS) -> dict[str, dict[str, Any]]:
    """The same figures for judges that need no model: always longer, always first, a coin."""
    rng = random.Random(seed)

    def longer(r: dict[str, Any]) -> str:
        return "tie" if r["len_a"] == r["len_b"] else ("a" if r["len_a"] > r["len_b"] else "b")

    made = {
        "always_longer": [{**r, "sides": [longer(r), longer(r)]} for r in rows],
        "always_first": [{**r, "sides": ["a", "b"]} for r in rows],
        "random": [{**r, "sides": [rng.choice("ab"), rng.choice("ab")]} for r in rows],
    }
    keep = ("agreement", "agreement_single", "kappa", "position_flips", "first_position_wins", "tie_rate")
    return {name: {k: v for k, v in summarize(rs, rounds, seed).items() if k in keep} for name, rs in made.items()}


def calibrate(pairs_path: str | Path, judges: list[tuple[JudgeSettings, Any]], out_dir: str | Path,
              rubric: str = "pairwise", sample: int | None = None, seed: int = 0, allow_mixed: bool = False,
              progress: bool = False, pairs: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
              kind: str = "calibration") -> dict[str, Any]:
    """Judge the labelled pairs with each (settings, backend) and write OUT/calibration.json."""
    from bimo.io import atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    todo, skipped = pairs if pairs is not None else load_pairs(pairs_path, sample, seed)
    results = [judge_pairs(todo, be, s, out_dir, rubric, allow_mixed, progress) for s, be in judges]
    summary = {"kind": kind, "source": str(pairs_path), "pairs": len(todo), "skipped": len(skipped),
               "skipped_pairs": skipped[:50], "sample": sample, "seed": seed, "flip_warn": FLIP_WARN,
               "judges": results, "baselines": baselines(todo, seed)}
    atomic_write_text(out_dir / f"{kind}.json", json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return summary


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def judge_line(res: dict[str, Any], base: dict[str, dict[str, Any]] | None = None) -> str:
    """One terminal line: agreement, kappa, position and tie rates, failures, baselines."""
    if not res.get("pairs"):
        return f"{res['judge']}: no verdicts ({res.get('failed', 0)} failed; reasons in {errors_path(Path(res['verdicts']))})"
    a = res["agreement"]
    k = "-" if res["kappa"] is None else f"{res['kappa']:.2f}"
    line = (f"{res['judge']}: agreement {a['rate']:.1%} [{a['ci'][0]:.1%}, {a['ci'][1]:.1%}] kappa {k} on {res['pairs']}"
            f" pairs; position flips {_pct(res['position_flips'])}, first-position wins"
            f" {_pct(res['first_position_wins'])}; ties {_pct(res['tie_rate'])}; failed {res['failed']}")
    if base:
        line += "; baselines " + ", ".join(f"{n.replace('_', ' ')} {_pct(b['agreement']['rate'])}" for n, b in base.items())
    return line


def calibration_figures(path: str | Path, judge: str | None = None, settings: dict[str, Any] | None = None,
                        allow_other: bool = False) -> dict[str, Any]:
    """A judge's calibration read back for the places that print win rates or keep data by a
    judge's verdicts: {'line', 'warning' (position flips over the threshold, else None),
    'agreement', 'position_flips', 'judge', 'settings' (the calibrated ones), 'differences'}.

    With `settings` (the verdict settings of the judge in use, as `judge_settings_record`
    writes them), a calibration made with other settings is refused with one line naming
    the differences, unless `allow_other`; then the line says what differs (compare and
    the pipeline's eval stage allow it and print the note; synthesis asks for a flag)."""
    from bimo.io import read_text

    try:
        data = json.loads(read_text(path, "calibration summary"))
        rows = data["judges"]
    except (ValueError, KeyError, TypeError):
        raise BimoError(f"{path}: not a calibration summary (bimo eval calibrate writes calibration.json)") from None
    if not rows:
        raise BimoError(f"{path}: holds no judge")
    judge = settings["judge"] if settings is not None else judge
    res = next((r for r in rows if r.get("judge") == judge), rows[0])
    note = "" if judge is None or res.get("judge") == judge else f" (calibrated judge {res.get('judge')}, not {judge})"
    diff: list[str] = []
    if settings is not None:
        diff = (settings_differences(res["settings"], settings) if res.get("settings")
                else ["no settings recorded in the calibration"])
    if diff and not allow_other:
        raise BimoError(f"{path}: the judge was calibrated with other settings than this judge's ({', '.join(diff)}); "
                        "calibrate it with these settings, or pass --calibration-any-settings to show its figures anyway")
    if diff:
        note = f" (calibrated with other settings: {', '.join(diff)})"
    flips, limit = res.get("position_flips"), data.get("flip_warn", FLIP_WARN)
    warn = None
    if flips is not None and flips > limit:
        warn = (f"judge {res['judge']} changes its verdict when the order is swapped in {flips:.0%} of calibration"
                f" pairs (over {limit:.0%}): its win rates mostly measure position")
    return {"judge": res.get("judge"), "line": "judge calibration: " + judge_line(res) + note, "warning": warn,
            "agreement": (res.get("agreement") or {}).get("rate"), "position_flips": flips,
            "settings": res.get("settings"), "differences": diff, "source": str(path)}
