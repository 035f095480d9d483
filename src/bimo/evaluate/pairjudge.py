"""How one pair of answers is judged: shared by calibrate, probe, compare and `bimo synth rank`.

Four ways to make a weak local judge steadier, each switched on by itself and recorded
with every verdict (`judge_settings_record`), so `bimo eval calibrate` can measure what
each one does:

* criteria-first reasoning: rubric `pairwise-criteria`, the judge lists what a good answer
  to this instruction needs before its verdict;
* both-order aggregation (on by default): the pair is judged with each answer shown first,
  and a verdict that changes with the order counts as a tie. Off, one order is judged,
  picked by a coin fixed by the pair's key so neither side is always shown first;
* several samples per order (`samples=K`): K verdicts at distinct seeds (the runner's seed
  rule, so retries never reuse a sample's seed), the most frequent one wins, and a vote
  whose top is shared is a tie. Needs a temperature above 0: greedy decoding gives the
  same answer K times;
* verdicts read from probabilities: rubric `pairwise-logprob`, the judge answers one letter
  and what is kept is log P("A") − log P("B") of that letter in each order (`margins`). A
  judge that leans to the first-shown answer adds the same constant to both orders' margins,
  so their difference — the `score`, positive for a — cancels it: the verdict cannot follow
  position, and a preference too weak to show in any written letter still counts. A score
  within `LOGPROB_TIE` nats of 0 is a tie. Needs a backend that reports token
  log-probabilities (the embedded llama.cpp, `hf:`, OpenAI servers that support `logprobs`);
  temperature and samples do not apply (nothing is sampled);
* a rubric per writing type (`rubric_type="auto"`): the pair's task, genre, category or
  domain (the first that names a type) picks `rubrics/bytype/TYPE.yaml`, directly or
  through its `aliases`, and that type's criteria replace the general ones. A pair of no
  known type keeps the general rubric; the type used is recorded with the verdict.
  `rubric_type=TYPE` uses one type's rubric for every pair.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import cache
from typing import Any

import numpy as np

from bimo.errors import BimoError
from bimo.evaluate import rubric as rb
from bimo.evaluate.judge_step import JudgeSettings
from bimo.llm.base import Completion, GenParams
from bimo.runner import GenerationStep, attempt_seed
from bimo.synth.common import object_schema
from bimo.templates import list_package_yaml, load_package_yaml

PAIR_RUBRICS = ("pairwise", "pairwise-criteria", "pairwise-forced", "pairwise-logprob")
LOGPROB = "pairwise-logprob"
#: how many of the likeliest first tokens a `pairwise-logprob` call asks for
LOGPROB_TOP = 20
#: |score| in nats below which a `pairwise-logprob` verdict is a tie
LOGPROB_TIE = 0.1
#: letters as a judge may write them (full-width forms from Chinese prompts)
_LETTERS = {"A": "A", "B": "B", "Ａ": "A", "Ｂ": "B"}
BYTYPE = rb.RUBRICS + ".bytype"
#: record fields that may name a writing type, in the order they are tried
TYPE_FIELDS = ("task", "genre", "category", "domain")
#: what a verdict file written before these options existed was made with
OPTION_DEFAULTS = {"samples": 1, "both_orders": True, "rubric_type": None}

_CRITERIA_SCHEMA = object_schema(criteria={"type": "string"}, reason={"type": "string"},
                                 winner={"type": "string", "enum": ["A", "B", "tie"]})
#: `pairwise-forced`: the pairwise prompt, but the answer grammar allows only A or B. Small
#: judges call most pairs a tie; forced to choose, the both-order verdict still turns an
#: order-dependent choice into a tie, so position-following is not rewarded.
_FORCED_SCHEMA = {**rb.PAIR_SCHEMA, "properties": {**rb.PAIR_SCHEMA["properties"],
                                                  "winner": {"type": "string", "enum": ["A", "B"]}}}


def check_rubric(rubric: str) -> None:
    if rubric not in PAIR_RUBRICS:
        raise BimoError(f"unknown pairwise rubric {rubric!r}; choose one of: {', '.join(PAIR_RUBRICS)}")


def pair_prompt(rubric: str, record: dict[str, Any], first: str, second: str,
                criteria: str | None = None) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Messages and answer schema for one order of one pair under a pairwise rubric."""
    check_rubric(rubric)
    name = "pairwise" if rubric == "pairwise-forced" else rubric
    schema = {"pairwise": rb.PAIR_SCHEMA, "pairwise-forced": _FORCED_SCHEMA, LOGPROB: None}.get(rubric, _CRITERIA_SCHEMA)
    return rb.pair_messages(record, first, second, name, criteria), schema


def letter_margin(comp: Completion) -> float:
    """log P("A") − log P("B") of the judge's first answer token (spaces around the letter
    forgiven, variants of one letter summed). A letter missing from the likeliest tokens
    counts at the least likely one listed, so the margin is then a bound. ValueError when the
    backend reported no probabilities or neither letter is among them."""
    top = comp.first_token_logprobs()
    if not top:
        raise ValueError("the judge reported no token probabilities; pairwise-logprob needs a backend that "
                         "returns logprobs (local:, gguf:, hf:, or an OpenAI server that supports them)")
    mass: dict[str, list[float]] = {"A": [], "B": []}
    for token, lp in top.items():
        letter = _LETTERS.get(token.strip())
        if letter:
            mass[letter].append(lp)
    if not mass["A"] and not mass["B"]:
        raise ValueError(f"neither A nor B among the judge's {len(top)} likeliest first tokens "
                         f"(it began with {comp.text[:20]!r})")
    floor = min(top.values())
    a, b = (float(np.logaddexp.reduce(mass[k])) if mass[k] else floor for k in ("A", "B"))
    return a - b


# --- rubrics per writing type -------------------------------------------------------------

@cache
def type_table() -> dict[str, dict[str, Any]]:
    """Every name and alias (lower case) of the shipped writing-type rubrics -> that rubric."""
    table: dict[str, dict[str, Any]] = {}
    for fname in list_package_yaml(BYTYPE):
        data = load_package_yaml(BYTYPE, fname)
        for name in [data["name"], *data.get("aliases", [])]:
            table[str(name).lower()] = data
    return table


def writing_types() -> list[str]:
    """The type names that have a rubric file."""
    return sorted({d["name"] for d in type_table().values()})


def writing_type(record: dict[str, Any]) -> str | None:
    """The rubric type named by the record's task, genre, category or domain (first match), else None."""
    table = type_table()
    for field in TYPE_FIELDS:
        value = record.get(field) or (record.get("meta") or {}).get(field)
        if isinstance(value, str) and value.strip().lower() in table:
            return table[value.strip().lower()]["name"]
    return None


def type_rubric(name: str) -> dict[str, Any]:
    """The rubric of a writing type by name or alias; one-line error naming the known types."""
    data = type_table().get(name.strip().lower())
    if data is None:
        raise BimoError(f"unknown writing type {name!r}; rubrics exist for: {', '.join(writing_types())}")
    return data


# --- voting and settings ------------------------------------------------------------------

def vote(verdicts: list[str]) -> str:
    """The most frequent of 'A', 'B', 'tie'; a tie when the top count is shared (a split vote)."""
    top = Counter(verdicts).most_common()
    if len(top) > 1 and top[0][1] == top[1][1]:
        return "tie"
    return top[0][0]


def combined(sides: list[str]) -> str:
    """The verdict over the orders judged ('a', 'b' or 'tie' per order): the side picked in
    every order, else a tie (an order-dependent verdict follows position, not the answers)."""
    return sides[0] if len(set(sides)) == 1 else "tie"


def coin(key: str) -> bool:
    """A stable coin per key (sha1): where a chosen/rejected pair puts the chosen response."""
    return hashlib.sha1(key.encode("utf-8")).digest()[0] % 2 == 1


def b_first(key: str) -> bool:
    """Whether a one-order judge shows b first: a coin of its own, not the placement coin
    (the same coin would always show a chosen response first)."""
    return coin("order:" + key)


def check_options(settings: JudgeSettings) -> None:
    """One-line errors for judge options that cannot do what they say."""
    if settings.rubric_type not in (None, "auto"):
        type_rubric(settings.rubric_type)
    if settings.samples > 1 and settings.temperature == 0:
        raise BimoError(f"--samples {settings.samples} at temperature 0 gives one verdict {settings.samples} times "
                        "(greedy decoding does not depend on the seed); pass --temperature above 0")


def judge_settings_record(settings: JudgeSettings, rubric: str) -> dict[str, Any]:
    """The settings that change verdicts, stored with every verdict."""
    return {"judge": settings.judge, "rubric": rubric, "temperature": settings.temperature,
            "top_p": GenParams().top_p, "max_tokens": settings.max_tokens, "seed": settings.seed,
            "samples": settings.samples, "both_orders": settings.both_orders, "rubric_type": settings.rubric_type}


def settings_differences(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """'temperature 0.0 -> 0.5' for each verdict setting that differs; a record from before
    the judge options existed counts as made with their defaults."""
    old = {**OPTION_DEFAULTS, **recorded}
    return [f"{k} {old.get(k)!r} -> {wanted.get(k)!r}" for k in wanted if old.get(k) != wanted.get(k)]


class PairJudge:
    """One pair judged with the settings' options, inside a runner step's `process`."""

    def __init__(self, settings: JudgeSettings, rubric: str = "pairwise"):
        check_rubric(rubric)
        check_options(settings)
        if rubric == LOGPROB and settings.samples > 1:
            raise BimoError("--samples does not apply to --rubric pairwise-logprob: it reads the letter's "
                            "probability, nothing is sampled")
        self.settings, self.rubric = settings, rubric
        self.params = GenParams(temperature=settings.temperature, max_tokens=settings.max_tokens, seed=settings.seed)
        if rubric == LOGPROB:  # one greedy token and its probabilities
            self.params = GenParams(temperature=0.0, max_tokens=1, seed=settings.seed, top_logprobs=LOGPROB_TOP)
        self.recorded = judge_settings_record(settings, rubric)

    def salt(self, attempt: int, sample: int) -> int:
        """The runner's seed salt of one sample: try t of sample k runs at seed + t*K + k, so
        tries never share a seed."""
        return attempt * (self.settings.samples - 1) + sample

    def judge(self, step: GenerationStep, record: dict[str, Any], a: str, b: str, attempt: int,
              key: str) -> dict[str, Any]:
        """{'sides': winner per order judged ('a', 'b' or 'tie'), 'first': the side shown first in
        each, 'verdicts': the voted A/B/tie per order, 'seeds', and 'votes' (samples > 1),
        'rubric_type' (per-type rubrics on; 'general' where none fits)}. A malformed answer
        raises the step's Reject."""
        s = self.settings
        rtype = (None if s.rubric_type is None else writing_type(record) if s.rubric_type == "auto"
                 else type_rubric(s.rubric_type)["name"])
        criteria = type_rubric(rtype)["criteria"][rb.pick_lang(record)] if rtype else None
        orders = [("a", "b"), ("b", "a")] if s.both_orders else [("b", "a") if b_first(key) else ("a", "b")]
        text = {"a": a, "b": b}
        if self.rubric == LOGPROB:
            return self._by_logprob(step, record, text, orders, criteria, attempt, rtype)
        seeds = [attempt_seed(s.seed, attempt, self.salt(attempt, j)) for j in range(s.samples)]
        out: dict[str, Any] = {"sides": [], "first": [], "verdicts": [], "votes": []}
        for first, second in orders:
            msgs, schema = pair_prompt(self.rubric, record, text[first], text[second], criteria)
            got = [step.generate(msgs, attempt, schema=schema, parse=rb.parse_pair, params=self.params,
                                 salt=self.salt(attempt, j)) for j in range(s.samples)]
            v = vote(got)
            out["sides"].append({"A": first, "B": second, "tie": "tie"}[v])
            out["first"].append(first)
            out["verdicts"].append(v)
            out["votes"].append(got)
        out["seeds"] = [seeds[0]] * len(orders) if s.samples == 1 else [seeds] * len(orders)
        if s.samples == 1:
            del out["votes"]
        if s.rubric_type is not None:
            out["rubric_type"] = rtype or "general"
        out["winner"] = combined(out["sides"])
        return out

    def _by_logprob(self, step: GenerationStep, record: dict[str, Any], text: dict[str, str],
                    orders: list[tuple[str, str]], criteria: str | None, attempt: int,
                    rtype: str | None) -> dict[str, Any]:
        """`pairwise-logprob`: per order the letter margin; the verdict from their difference."""
        out: dict[str, Any] = {"sides": [], "first": [], "verdicts": [], "margins": []}
        score = 0.0
        for first, second in orders:
            msgs, _ = pair_prompt(self.rubric, record, text[first], text[second], criteria)
            m = step.generate(msgs, attempt, read=letter_margin, params=self.params)
            verdict = "A" if m > 0 else "B" if m < 0 else "tie"
            out["sides"].append({"A": first, "B": second, "tie": "tie"}[verdict])
            out["first"].append(first)
            out["verdicts"].append(verdict)
            out["margins"].append(round(m, 4))
            score += m if first == "a" else -m
        score /= len(orders)
        out["score"] = round(score, 4)
        out["winner"] = "a" if score > LOGPROB_TIE else "b" if score < -LOGPROB_TIE else "tie"
        out["seeds"] = [attempt_seed(self.settings.seed, attempt)] * len(orders)
        if self.settings.rubric_type is not None:
            out["rubric_type"] = rtype or "general"
        return out


__all__ = ["LOGPROB", "LOGPROB_TIE", "PAIR_RUBRICS", "PairJudge", "b_first", "check_options", "check_rubric", "coin", "combined", "judge_settings_record",
           "letter_margin", "pair_prompt", "settings_differences", "type_rubric", "vote", "writing_type", "writing_types"]
