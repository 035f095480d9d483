"""The pairwise judge's options, each on by itself: samples per order with a majority vote,
one order instead of both, a rubric per writing type, criteria first. Voting is checked
exactly with scripted verdicts; the same paths then run on the tiny model through llama.cpp."""

import json
import math

import pytest

from bimo.errors import BimoError
from bimo.evaluate.calibrate import calibrate, check_settings, normalize_pair, verdicts_path
from bimo.evaluate.judge_step import JudgeSettings
from bimo.evaluate.pairjudge import (
    b_first,
    coin,
    judge_settings_record,
    pair_prompt,
    type_rubric,
    type_table,
    vote,
    writing_type,
    writing_types,
)
from bimo.evaluate.pairwise import compare_files
from bimo.io import errors_path
from fakes import ScriptedBackend
from scripted_judges import first_shown, second_shown

PAIR = {"id": "p1", "prompt": "Write a line about rain.", "a": "Alpha line", "b": "Beta line", "winner": "a"}


def verdict(w: str) -> str:
    return json.dumps({"reason": "r", "winner": w})


def rows_of(out, judge="test:scripted"):
    path = verdicts_path(out, judge)
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_vote_is_a_plurality_and_a_split_is_a_tie():
    assert vote(["A", "A", "B"]) == "A"
    assert vote(["B"]) == "B"
    assert vote(["A", "B"]) == "tie"
    assert vote(["A", "B", "tie"]) == "tie"
    assert vote(["tie", "tie", "A"]) == "tie"
    assert vote(["B", "B", "A", "tie"]) == "B"


def test_samples_vote_per_order_at_distinct_seeds(tmp_path):
    # a first: A, A, B -> A ; b first: B, tie, A -> split -> tie
    script = {("Alpha line", 1): "A", ("Alpha line", 2): "A", ("Alpha line", 3): "B",
              ("Beta line", 1): "B", ("Beta line", 2): "tie", ("Beta line", 3): "A"}
    be = ScriptedBackend(lambda m, seed: verdict(script[(first_shown(m), seed)]))
    settings = JudgeSettings(judge="test:scripted", temperature=0.7, samples=3, retries=0)
    s = calibrate("built", [(settings, be)], tmp_path, pairs=([normalize_pair(PAIR, 1)], []))
    (row,) = rows_of(tmp_path)
    assert row["votes"] == [["A", "A", "B"], ["B", "tie", "A"]]
    assert row["verdicts"] == ["A", "tie"] and row["sides"] == ["a", "tie"]
    assert row["seeds"] == [[1, 2, 3], [1, 2, 3]] and sorted(r["seed"] for r in be.requests) == [1, 1, 2, 2, 3, 3]
    assert row["settings"]["samples"] == 3 and s["judges"][0]["settings"]["samples"] == 3
    assert s["judges"][0]["position_flips"] == 1.0  # a vs tie: the verdict changed with the order


def test_a_retry_moves_every_sample_to_new_seeds(tmp_path):
    def answer(m, seed):
        return "garbage" if seed == 2 else verdict("A" if first_shown(m) == "Alpha line" else "B")

    be = ScriptedBackend(answer)
    settings = JudgeSettings(judge="test:scripted", temperature=0.7, samples=3, retries=1)
    calibrate("built", [(settings, be)], tmp_path, pairs=([normalize_pair(PAIR, 1)], []))
    (row,) = rows_of(tmp_path)
    assert row["attempts"] == 2 and row["seeds"] == [[4, 5, 6], [4, 5, 6]]
    assert [r["seed"] for r in be.requests][:2] == [1, 2]  # the first try stopped at the malformed sample
    assert row["sides"] == ["a", "a"]


def test_one_order_judges_once_with_a_coin_per_pair(tmp_path):
    pairs = [normalize_pair({**PAIR, "id": f"p{i}"}, i) for i in range(10)]
    be = ScriptedBackend(lambda m, seed: verdict("A"))  # always the first shown
    settings = JudgeSettings(judge="test:scripted", both_orders=False, retries=0)
    s = calibrate("built", [(settings, be)], tmp_path, pairs=(pairs, []))
    rows = rows_of(tmp_path)
    assert len(be.requests) == 10 and all(len(r["sides"]) == 1 for r in rows)
    assert {r["pair"]: r["first"] for r in rows} == {p["id"]: ["b" if b_first(p["id"]) else "a"] for p in pairs}
    assert {r["first"][0] for r in rows} == {"a", "b"}  # neither side is always shown first
    res = s["judges"][0]
    assert res["position_flips"] is None and res["first_position_wins"] == 1.0
    assert res["settings"]["both_orders"] is False
    assert res["agreement"]["rate"] == pytest.approx(sum(r["first"] == [r["human"]] for r in rows) / 10)


def test_one_order_does_not_always_show_the_chosen_response_first():
    """chosen/rejected pairs are placed by a coin on the id; the order coin must be another one."""
    ids = [f"q{i}" for i in range(40)]
    chosen_first = [("b" if coin(i) else "a") == ("b" if b_first(i) else "a") for i in ids]
    assert 0 < sum(chosen_first) < len(ids)


def test_writing_types_are_found_by_task_genre_category_or_domain():
    assert writing_type({"task": "write", "domain": "fiction"}) == "fiction"
    assert writing_type({"genre": "散文"}) == "nonfiction"
    assert writing_type({"category": "Slogan"}) == "marketing"
    assert writing_type({"task": "poem", "domain": "fiction"}) == "poetry"  # the task comes first
    assert writing_type({"category": "padding"}) is None
    assert {"fiction", "nonfiction", "news", "technical", "marketing", "poetry", "classical"} <= set(writing_types())
    names = [d["name"] for d in type_table().values()]
    aliases = sum(1 + len(d.get("aliases", [])) for d in {d["name"]: d for d in type_table().values()}.values())
    assert len(type_table()) == aliases == len(names)  # no alias names two types
    for t in writing_types():
        crit = type_rubric(t)["criteria"]
        assert crit["zh"].strip() and crit["en"].strip()
    with pytest.raises(BimoError, match="unknown writing type 'sonnetish'; rubrics exist for: classical"):
        type_rubric("sonnetish")


@pytest.mark.parametrize("rubric", ["pairwise", "pairwise-criteria"])
def test_a_type_rubric_replaces_the_general_criteria(rubric):
    en, zh = {"prompt": "Write a story.", "lang": "en"}, {"prompt": "写一个故事。", "lang": "zh"}
    general = pair_prompt(rubric, en, "x", "y")[0][-1]["content"]
    fiction = pair_prompt(rubric, en, "x", "y", type_rubric("fiction")["criteria"]["en"])[0][-1]["content"]
    assert "relevance" in general and "believable characters" not in general
    assert "believable characters and plot" in fiction
    assert "人物与情节" in pair_prompt(rubric, zh, "x", "y", type_rubric("fiction")["criteria"]["zh"])[0][-1]["content"]
    assert "{criteria}" not in general


def test_rubric_type_auto_picks_per_pair_and_records_it(tmp_path):
    seen = []

    def answer(m, seed):
        seen.append(m[-1]["content"])
        return verdict("tie")

    pairs = [normalize_pair({**PAIR, "id": "f", "category": "fiction"}, 1),
             normalize_pair({**PAIR, "id": "o", "category": "odd"}, 2)]
    settings = JudgeSettings(judge="test:scripted", rubric_type="auto", retries=0)
    calibrate("built", [(settings, ScriptedBackend(answer))], tmp_path, pairs=(pairs, []))
    rows = {r["pair"]: r for r in rows_of(tmp_path)}
    assert rows["f"]["rubric_type"] == "fiction" and rows["o"]["rubric_type"] == "general"
    assert sum("believable characters" in u for u in seen) == 2 and len(seen) == 4
    assert rows["f"]["settings"]["rubric_type"] == "auto"


def test_compare_records_the_options_on_every_battle(tmp_path, jsonl):
    recs = lambda q: [{"id": k, "prompt": f"Write {k}", "response": f"{q} text {k}", "domain": "fiction"}  # noqa: E731
                      for k in range(4)]
    a, b = jsonl(tmp_path / "a.jsonl", recs("good")), jsonl(tmp_path / "b.jsonl", recs("meh"))
    be = ScriptedBackend(lambda m, seed: verdict("A" if first_shown(m).startswith("good") else "B"))
    settings = JudgeSettings(judge="test:scripted", temperature=0.5, samples=2, both_orders=False,
                             rubric_type="auto", retries=0)
    battles = compare_files([a, b], be, tmp_path / "bt.jsonl", settings, rubric="pairwise-criteria")
    assert len(battles) == 4 and all(x.winner == "model_a" for x in battles)
    assert len(be.requests) == 8  # one order, two samples each
    for x in battles:
        m = x.meta
        assert m["judge_settings"] == judge_settings_record(settings, "pairwise-criteria")
        assert len(m["first"]) == 1 and len(m["votes"][0]) == 2 and m["rubric_type"] == "fiction"
    assert all("Step 1" in r["messages"][-1]["content"] for r in be.requests)  # criteria first


def test_verdicts_from_before_the_options_count_as_their_defaults(tmp_path):
    path = tmp_path / "v.jsonl"
    old = {"judge": "j", "rubric": "pairwise", "temperature": 0.0, "top_p": 0.95, "max_tokens": 100, "seed": 1}
    path.write_text(json.dumps({"pair": "p", "settings": old}) + "\n")
    assert check_settings(path, judge_settings_record(JudgeSettings(judge="j", max_tokens=100), "pairwise"), False) is False
    new = judge_settings_record(JudgeSettings(judge="j", max_tokens=100, temperature=0.7, samples=3), "pairwise")
    with pytest.raises(BimoError, match="temperature 0.0 -> 0.7, samples 1 -> 3"):
        check_settings(path, new, False)


@pytest.mark.parametrize(("args", "message"), [
    (["--samples", "0"], "--samples must be 1 or more, got 0"),
    (["--samples", "3"], "--samples 3 at temperature 0"),
    (["--rubric-type", "sonnetish"], "unknown writing type 'sonnetish'"),
    (["--rubric", "nope"], "unknown pairwise rubric 'nope'"),
])
def test_bad_judge_options_are_one_line_exit_2(tmp_path, jsonl, bimo_cli, args, message):
    pairs = jsonl(tmp_path / "p.jsonl", [PAIR])
    preds = [jsonl(tmp_path / f"{m}.jsonl", [{"id": 1, "prompt": "Say hi.", "response": m}]) for m in ("x", "y")]
    texts = jsonl(tmp_path / "t.jsonl", [{"text": "One. Two here. Three there. Four now."}])
    for cmd in (["calibrate", str(pairs)], ["compare", *map(str, preds)], ["probe", str(texts)]):
        proc = bimo_cli("eval", *cmd, "-j", "local:tiny", *args, "-o", str(tmp_path / "o"), timeout=120)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.count("\n") == 1 and message in err, (cmd, err)
    assert not (tmp_path / "o").exists()


def test_tiny_judge_with_every_option_on(tiny_backend, tmp_path, jsonl):
    """Criteria first, two samples per order, both orders, the pair's type rubric: mechanics only."""
    pairs = [normalize_pair({"id": "s", "prompt": "Write a one-line slogan for a bakery.",
                             "chosen": "Fresh bread, warm hearts, every morning.", "rejected": "bread bread bread",
                             "category": "slogan"}, 1)]
    settings = JudgeSettings(judge="local:tiny", temperature=0.8, samples=2, rubric_type="auto", retries=0,
                             max_tokens=160)
    s = calibrate("built", [(settings, tiny_backend)], tmp_path, rubric="pairwise-criteria", pairs=(pairs, []))
    path = verdicts_path(tmp_path, "local:tiny")
    rows = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    errs = [json.loads(x) for x in errors_path(path).read_text().splitlines()] if errors_path(path).exists() else []
    assert len(rows) + len(errs) == 1 and s["judges"][0]["failed"] == len(errs)
    want = {"judge": "local:tiny", "rubric": "pairwise-criteria", "temperature": 0.8, "top_p": 0.95,
            "max_tokens": 160, "seed": 1, "samples": 2, "both_orders": True, "rubric_type": "auto"}
    for r in rows:
        assert r["settings"] == want and r["rubric_type"] == "marketing"
        assert [len(v) for v in r["votes"]] == [2, 2] and r["seeds"] == [[1, 2], [1, 2]]
        assert r["verdicts"] == [vote(v) for v in r["votes"]]
    for e in errs:
        assert e["settings"] == want and e["reason"]

    # compare: one order, every pair judged under the fiction rubric
    recs = lambda q: [{"id": k, "prompt": f"Write a sentence about {t}.", "response": f"The {t} is {q}."}  # noqa: E731
                      for k, t in enumerate(["sea", "moon"])]
    a, b = jsonl(tmp_path / "a.jsonl", recs("calm and grey")), jsonl(tmp_path / "b.jsonl", recs("it"))
    one = JudgeSettings(judge="local:tiny", both_orders=False, rubric_type="fiction", retries=0, max_tokens=100)
    out = tmp_path / "bt.jsonl"
    battles = compare_files([a, b], tiny_backend, out, one)
    failed = errors_path(out).read_text().splitlines() if errors_path(out).exists() else []
    assert len(battles) + len(failed) == 2
    for x in battles:
        assert len(x.meta["verdicts"]) == 1 and x.meta["rubric_type"] == "fiction"
        assert x.meta["judge_settings"]["both_orders"] is False and x.meta["consistent"] is True


def test_compare_notes_a_calibration_made_with_other_settings(tmp_path, jsonl, monkeypatch):
    from typer.testing import CliRunner

    from bimo.evaluate import cli
    from scripted_judges import pair_by_quality, scripted_calibration

    monkeypatch.setattr(cli, "_backend", lambda uri: ScriptedBackend(pair_by_quality))
    cal = scripted_calibration(tmp_path / "cal", pair_by_quality, judge="fake:fair")  # seed 0, 256 tokens
    recs = lambda q: [{"id": k, "prompt": f"Write {k}", "response": f"{q} text {k}"} for k in range(3)]  # noqa: E731
    a, b = jsonl(tmp_path / "alpha.jsonl", recs("good")), jsonl(tmp_path / "beta.jsonl", recs("meh"))
    args = ["compare", str(a), str(b), "--judge", "fake:fair", "-q", "--rounds", "20", "--calibration", str(cal)]
    res = CliRunner().invoke(cli.app, [*args, "-o", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 0, res.output
    assert "judge calibration: fake:fair: agreement 100.0%" in res.stdout
    assert "(calibrated with other settings: max_tokens 256 -> 768, seed 0 -> 1)" in res.stdout
    res = CliRunner().invoke(cli.app, [*args, "-o", str(tmp_path / "y.jsonl"), "--seed", "0", "--max-tokens", "256"])
    assert res.exit_code == 0 and "calibrated with other settings" not in res.stdout


# --- verdicts read from the letter's probability ---------------------------------------------

def biased_letters(messages) -> dict[str, float]:
    """A judge that leans 2 nats to whatever is shown first, and 0.5 nats to the answer with
    'good' in it: its written letter is always A, its probabilities still know better."""
    lean = 2.0 + (0.5 if "good" in first_shown(messages) else 0.0) - (0.5 if "good" in second_shown(messages) else 0.0)
    return {"A": lean / 2, " B": -lean / 2, "The": -3.0}


def test_logprob_verdict_cancels_a_position_lean(tmp_path):
    from scripted_judges import CALIBRATION_PAIRS

    be = ScriptedBackend(lambda m, seed: "A", logprobs=biased_letters)
    settings = JudgeSettings(judge="test:scripted", retries=0)
    pairs = [normalize_pair(p, i) for i, p in enumerate(CALIBRATION_PAIRS, 1)]
    s = calibrate("built", [(settings, be)], tmp_path, rubric="pairwise-logprob", pairs=(pairs, []))
    rows = rows_of(tmp_path)
    assert len(rows) == 6
    for r in rows:  # the letter follows position in both orders; the verdict follows 'good'
        assert r["verdicts"] == ["A", "A"] and r["sides"] == ["a", "b"]
        good_first = r["margins"][0] if r["human"] == "a" else r["margins"][1]
        assert good_first == pytest.approx(2.5) and sum(r["margins"]) == pytest.approx(4.0)
        assert r["winner"] == r["human"] and abs(r["score"]) == pytest.approx(0.5)
    j = s["judges"][0]
    assert j["agreement"]["rate"] == 1.0 and j["position_flips"] == 1.0
    assert j["position_margin"] == pytest.approx(2.0) and j["tie_rate"] == 0.0
    # one token, greedy, with the probabilities asked for
    assert {(r["max_tokens"], r["temperature"], r["top_logprobs"], r["logprobs"]) for r in be.requests} == {(1, 0.0, 20, True)}
    assert "response_format" not in be.requests[0]


def test_logprob_verdict_needs_probabilities_and_a_letter(tmp_path):
    from bimo.evaluate.pairjudge import PairJudge

    settings = JudgeSettings(judge="test:scripted", retries=0)
    pairs = [normalize_pair(PAIR, 1)]
    for name, be, reason in (
        ("none", ScriptedBackend(lambda m, seed: "A"), "reported no token probabilities"),
        ("noletter", ScriptedBackend(lambda m, seed: "The", logprobs=lambda m: {"The": -0.1, "I": -2.0}),
         "neither A nor B among the judge's 2 likeliest first tokens"),
    ):
        s = calibrate("built", [(settings, be)], tmp_path / name, rubric="pairwise-logprob", pairs=(pairs, []))
        err = [json.loads(x) for x in errors_path(verdicts_path(tmp_path / name, "test:scripted")).read_text().splitlines()]
        assert s["judges"][0]["failed"] == 1 and reason in err[0]["reason"], err
    with pytest.raises(BimoError, match="--samples does not apply"):
        PairJudge(JudgeSettings(judge="x", samples=3, temperature=0.7), "pairwise-logprob")


def test_logprob_letter_missing_from_the_list_counts_at_the_floor():
    from bimo.evaluate.pairjudge import letter_margin
    from bimo.llm.base import Completion

    comp = Completion.from_response({"choices": [{"message": {"content": "A"}, "logprobs": {"content": [
        {"token": "A", "logprob": -0.1, "top_logprobs": [{"token": "A", "logprob": -0.1}, {"token": " A", "logprob": -0.1},
                                                           {"token": "X", "logprob": -4.0}]}]}}]})
    assert letter_margin(comp) == pytest.approx(math.log(2 * math.exp(-0.1)) + 4.0)


def test_tiny_judge_logprob_verdicts_through_llama_cpp(tiny_backend, tmp_path):
    """The embedded llama.cpp reports the letter's probabilities; both orders give a margin each,
    the score is their difference and the verdict its sign beyond the tie band."""
    from bimo.evaluate.pairjudge import LOGPROB_TIE

    pairs = [normalize_pair({"id": f"s{k}", "prompt": "Write a one-line slogan for a bakery.",
                             "chosen": "Fresh bread, warm hearts, every morning.", "rejected": "bread bread bread"}, k)
             for k in (1, 2)]
    settings = JudgeSettings(judge="local:tiny", retries=0)
    s = calibrate("built", [(settings, tiny_backend)], tmp_path, rubric="pairwise-logprob", pairs=(pairs, []))
    rows = rows_of(tmp_path, "local:tiny")
    assert len(rows) == 2 and s["judges"][0]["failed"] == 0
    for r in rows:
        m1, m2 = r["margins"]
        score = (m1 - m2) / 2 if r["first"] == ["a", "b"] else (m2 - m1) / 2
        assert r["score"] == pytest.approx(score, abs=1e-3)
        assert r["winner"] == ("a" if score > LOGPROB_TIE else "b" if score < -LOGPROB_TIE else "tie")
        assert r["verdicts"] == ["A" if m > 0 else "B" for m in r["margins"]]
    assert isinstance(s["judges"][0]["position_margin"], float)
