import json

import pytest

from bimo.errors import BimoError
from bimo.evaluate.agreement import pairwise_agreement, pointwise_agreement
from bimo.evaluate.judge import judge_file
from bimo.evaluate.judge_step import JudgeSettings
from bimo.evaluate.pairjudge import combined
from bimo.evaluate.pairwise import compare_files
from bimo.evaluate.winrate import pair_summary
from bimo.io import errors_path
from fakes import ScriptedBackend
from scripted_judges import first_shown, pair_always_first, pair_by_quality

GOOD = {"reason": "fine", "style": 7, "relevance": 8, "creativity": 6, "fluency": 9, "overall": 7}


def preds(tmp_path, jsonl, name, quality):
    recs = [{"id": k, "prompt": f"写一段第{k}号文字" if k % 2 else f"Write piece {k}", "response": f"{quality} answer {k}",
             "domain": ["fiction", "marketing"][k % 2], "task": "write"} for k in range(6)]
    return jsonl(tmp_path / f"{name}.jsonl", recs)


def test_combine_both_orders():
    assert combined(["a", "a"]) == "a"      # a first wins; b first, a (now B) wins
    assert combined(["b", "b"]) == "b"
    assert combined(["tie", "tie"]) == "tie"
    assert combined(["a", "b"]) == "tie"    # always the first shown: position bias -> tie
    assert combined(["a", "tie"]) == "tie"
    assert combined(["b"]) == "b"           # one order judged


def test_judge_records_failures_never_defaults(tmp_path, jsonl):
    pred = preds(tmp_path, jsonl, "m", "good")

    def answer(messages, seed):
        shown = first_shown(messages)
        if shown.endswith("1"):
            return "I would give it an 8."                      # always malformed
        if shown.endswith("2") and seed == 1:
            return json.dumps({**GOOD, "style": 42})            # bad first try, good retry
        return json.dumps(GOOD)

    be = ScriptedBackend(answer)
    out = tmp_path / "m.judged.jsonl"
    settings = JudgeSettings(judge="fake:judge", temperature=0.0, seed=1, retries=2)
    s = judge_file(pred, "writebench", be, out, settings)
    assert (s["judged_now"], s["failed_now"]) == (5, 1)
    ok = [json.loads(x) for x in out.read_text().splitlines()]
    errs = [json.loads(x) for x in errors_path(out).read_text().splitlines()]
    assert len(ok) == 5 and len(errs) == 1
    assert errs[0]["key"] == "1" and "not valid JSON" in errs[0]["reason"] and errs[0]["attempts"] == 3
    assert errs[0]["detail"] == "I would give it an 8."                    # the raw answer is kept
    assert (errs[0]["judge"], errs[0]["judge_temperature"], errs[0]["judge_seed"]) == ("fake:judge", 0.0, 1)
    assert errs[0]["model"] == "m" and errs[0]["rubric"] == "writebench"
    retried = next(r for r in ok if r["key"] == "2")
    assert retried["attempts"] == 2 and retried["judge_seed"] == 2
    assert all(r["judge"] == "fake:judge" and r["judge_temperature"] == 0.0 for r in ok)
    assert ok[0]["scores"]["fluency"] == 9 and ok[0]["domain"] in ("fiction", "marketing")
    assert all(c["response_format"]["json_schema"]["schema"]["required"][0] == "reason" for c in be.requests)
    # resumable: judged items are skipped, the failed one is tried again
    n_calls = len(be.requests)
    s2 = judge_file(pred, "writebench", be, out, settings)
    assert s2["skipped_done"] == 5 and s2["failed_now"] == 1 and len(be.requests) == n_calls + 3
    assert len(errors_path(out).read_text().splitlines()) == 1              # listed once, not twice
    assert [c["seed"] for c in be.requests[-3:]] == [1, 2, 3]                   # each retry on the next seed


def test_default_judge_is_read_when_a_judge_is_chosen(monkeypatch):
    monkeypatch.setenv("BIMO_JUDGE", "openai:http://127.0.0.1:9#j")  # set after bimo was imported
    assert JudgeSettings().judge == "openai:http://127.0.0.1:9#j"
    monkeypatch.delenv("BIMO_JUDGE")
    assert JudgeSettings().judge == "local:default"


def test_backend_errors_fail_the_item_and_the_next_run_tries_it_again(tmp_path, jsonl):
    """A server fault is not a bad answer: the backend has retried it already, so the item
    fails at once (no second seed) with kind `backend`, and the next judge run tries it again."""
    from bimo.errors import BackendError

    pred = preds(tmp_path, jsonl, "m", "good")
    outage = {"3"}  # item 3's server fails once, item 0's always

    def answer(messages, seed):
        item = first_shown(messages)[-1]
        if item == "0":
            raise BackendError("server unreachable")
        if item in outage:
            outage.discard(item)
            raise BackendError("HTTP 503")
        return json.dumps(GOOD)

    out = tmp_path / "m.judged.jsonl"
    be = ScriptedBackend(answer)
    s = judge_file(pred, "writebench", be, out, JudgeSettings(judge="fake:j", retries=1))
    assert (s["judged_now"], s["failed_now"]) == (4, 2) and len(be.requests) == 6
    errs = {e["key"]: e for e in map(json.loads, errors_path(out).read_text().splitlines())}
    assert errs["0"]["reason"] == "server unreachable" and errs["3"]["reason"] == "HTTP 503"
    assert all(e["kind"] == "backend" and e["attempts"] == 1 and e["judge"] == "fake:j" for e in errs.values())
    s2 = judge_file(pred, "writebench", be, out, JudgeSettings(judge="fake:j", retries=1))
    assert (s2["skipped_done"], s2["judged_now"], s2["failed_now"]) == (4, 1, 1)
    assert [json.loads(x)["key"] for x in errors_path(out).read_text().splitlines()] == ["0"]  # listed once
    assert next(json.loads(x) for x in out.read_text().splitlines() if '"key": "3"' in x)["judge_seed"] == 1


def test_criteria_generated_once_per_instruction(tmp_path, jsonl):
    crit = {"criteria": [{"name": f"c{k}", "description": "d"} for k in range(5)]}
    scores = {"scores": [{"reason": "r", "score": 6}] * 5}

    def answer(messages, seed):
        return json.dumps(crit if "criteria\": [" in messages[-1]["content"] else scores)

    be = ScriptedBackend(answer, parallel=3)
    settings = JudgeSettings(judge="fake:judge")
    judge_file(preds(tmp_path, jsonl, "a", "good"), "criteria", be, tmp_path / "a.j.jsonl", settings)
    judge_file(preds(tmp_path, jsonl, "b", "bad"), "criteria", be, tmp_path / "b.j.jsonl", settings)
    book = (tmp_path / "criteria.jsonl").read_text().splitlines()
    assert len(book) == 6                                # 6 instructions, shared by both models
    gen_calls = [c for c in be.requests if "criteria\": [" in c["messages"][-1]["content"]]
    assert len(gen_calls) == 6
    rec = json.loads((tmp_path / "b.j.jsonl").read_text().splitlines()[0])
    assert rec["overall"] == 6 and set(rec["scores"]) == {f"c{k}" for k in range(5)}


def test_criteria_failure_is_recorded_for_every_answer(tmp_path, jsonl):
    scores = {"scores": [{"reason": "r", "score": 6}] * 5}

    def answer(messages, seed):
        user = messages[-1]["content"]
        if "criteria\": [" in user:  # criteria for piece 2 never parse
            crit = {"criteria": [{"name": f"c{k}", "description": "d"} for k in range(5)]}
            return "no criteria today" if "piece 2" in user else json.dumps(crit)
        return json.dumps(scores)

    be = ScriptedBackend(answer)
    out = tmp_path / "a.j.jsonl"
    s = judge_file(preds(tmp_path, jsonl, "a", "good"), "criteria", be, out, JudgeSettings(judge="f", retries=1))
    assert (s["judged_now"], s["failed_now"]) == (5, 1)
    err = json.loads(errors_path(out).read_text())
    assert err["key"] == "2" and err["reason"].startswith("criteria generation failed: ") and "not valid JSON" in err["reason"]
    assert json.loads(errors_path(tmp_path / "criteria.jsonl").read_text())["detail"] == "no criteria today"


def test_compare_fair_judge(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "strong", "good"), preds(tmp_path, jsonl, "weak", "poor")
    out = tmp_path / "battles.jsonl"
    battles = compare_files([a, b], ScriptedBackend(pair_by_quality), out, JudgeSettings(judge="fake:fair"))
    assert len(battles) == 6 and all(bt.winner == "model_a" for bt in battles)
    assert all(bt.meta["consistent"] and bt.meta["verdicts"] == ["A", "B"] for bt in battles)
    assert all(bt.meta["judge_seeds"] == [1, 1] and bt.meta["judge_temperature"] == 0.0 for bt in battles)
    assert all(bt.judge == "fake:fair" and bt.id for bt in battles) and len({bt.id for bt in battles}) == 6
    assert pair_summary(battles, "strong", "weak")["win_rate"] == 1.0
    # resumable: nothing new to judge
    be = ScriptedBackend(pair_by_quality)
    assert len(compare_files([a, b], be, out, JudgeSettings(judge="fake:fair"))) == 6 and not be.requests


def test_compare_position_bias_becomes_ties(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "x", "good"), preds(tmp_path, jsonl, "y", "poor")
    battles = compare_files([a, b], ScriptedBackend(pair_always_first), tmp_path / "bt.jsonl", JudgeSettings(judge="fake:b"))
    assert all(bt.winner == "tie" and not bt.meta["consistent"] for bt in battles)


def test_compare_failures_go_to_errors(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "x", "good"), preds(tmp_path, jsonl, "y", "poor")
    out = tmp_path / "bt.jsonl"
    battles = compare_files([a, b], ScriptedBackend(lambda m, s: "no idea"), out, JudgeSettings(judge="fake:bad"))
    assert battles == []
    errs = [json.loads(x) for x in errors_path(out).read_text().splitlines()]
    assert len(errs) == 6 and "not valid JSON" in errs[0]["reason"] and errs[0]["detail"] == "no idea"
    assert errs[0]["attempts"] == 3 and {e["model_a"] for e in errs} == {"x"} and errs[0]["judge"] == "fake:bad"
    # the next run tries them again; a pair that fails in one order only is retried whole
    def flaky(messages, seed):  # garbled on the first seed when y's answer 1 is shown first
        return "garbled" if seed == 1 and first_shown(messages) == "poor answer 1" else pair_by_quality(messages, seed)

    be = ScriptedBackend(flaky)
    battles = compare_files([a, b], be, out, JudgeSettings(judge="fake:bad"))
    assert len(battles) == 6 and not errors_path(out).read_text()
    assert next(bt for bt in battles if bt.meta["key"] == "1").meta["judge_seeds"] == [2, 2]
    assert len(be.requests) == 12 + 2


def test_compare_skips_battles_already_judged(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "x", "good"), preds(tmp_path, jsonl, "y", "poor")
    out, be = tmp_path / "bt.jsonl", ScriptedBackend(pair_by_quality)
    assert len(compare_files([a, b], be, out, JudgeSettings(judge="f"), limit=2)) == 2 and len(be.requests) == 4
    battles = compare_files([a, b], be, out, JudgeSettings(judge="f"))
    assert len(battles) == 6 and len(be.requests) == 4 + 8  # both orders of the 4 not judged yet


def test_agreement(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "x", "good"), preds(tmp_path, jsonl, "y", "poor")
    fair = pairwise_agreement(ScriptedBackend(pair_by_quality), a, b, JudgeSettings(judge="f"), n=6)
    assert fair["order_consistency"] == 1.0 and fair["repeat_agreement"] == 1.0 and fair["first_position_rate"] == 0.5
    biased = pairwise_agreement(ScriptedBackend(pair_always_first), a, b, JudgeSettings(judge="f"), n=6)
    assert biased["order_consistency"] == 0.0 and biased["first_position_rate"] == 1.0

    def noisy(messages, seed):
        return json.dumps({**GOOD, "overall": 5 + seed % 3})

    p = pointwise_agreement(ScriptedBackend(noisy), a, "writebench", JudgeSettings(judge="f", seed=1), n=6)
    assert p["judged"] == 6 and p["mean_abs_diff"] == pytest.approx(1.0)  # seeds 1 and 1001 -> 6 vs 7
    assert p["exact_agreement"] == 0.0


def test_judge_outputs_stay_bound_to_their_judge_and_settings(tmp_path, jsonl):
    from bimo.errors import BimoError

    pred = preds(tmp_path, jsonl, "m", "good")
    out = tmp_path / "m.judged.jsonl"
    judge_file(pred, "writebench", ScriptedBackend(lambda m, s: json.dumps(GOOD), uri="fake:judge"), out,
               JudgeSettings(judge="fake:judge"))
    for settings, other, needle in [
            (JudgeSettings(judge="fake:other"), pred, "model fake:judge → fake:other"),
            (JudgeSettings(judge="fake:judge", temperature=0.5), pred, "temperature 0.0 → 0.5"),
            (JudgeSettings(judge="fake:judge", max_tokens=100), pred, "max_tokens 768 → 100"),
            (JudgeSettings(judge="fake:judge"), preds(tmp_path, jsonl, "n", "bad"), "judged_model m → n")]:
        be = ScriptedBackend(lambda m, s: json.dumps(GOOD), uri=settings.judge)
        with pytest.raises(BimoError, match=needle):
            judge_file(other, "writebench", be, out, settings)
        assert not be.requests
    with pytest.raises(BimoError, match="rubric writebench → longbench"):
        judge_file(pred, "longbench", ScriptedBackend(lambda m, s: "{}", uri="fake:judge"), out,
                   JudgeSettings(judge="fake:judge"))


def test_battles_and_criteria_stay_bound_to_their_judge(tmp_path, jsonl):
    from bimo.errors import BimoError

    a, b = preds(tmp_path, jsonl, "strong", "good"), preds(tmp_path, jsonl, "weak", "poor")
    out = tmp_path / "battles.jsonl"
    compare_files([a, b], ScriptedBackend(pair_by_quality, uri="fake:fair"), out, JudgeSettings(judge="fake:fair"))
    with pytest.raises(BimoError, match="model fake:fair → fake:other"):
        compare_files([a, b], ScriptedBackend(pair_by_quality, uri="fake:other"), out, JudgeSettings(judge="fake:other"))
    with pytest.raises(BimoError, match="seed 1 → 7"):
        compare_files([a, b], ScriptedBackend(pair_by_quality, uri="fake:fair"), out,
                      JudgeSettings(judge="fake:fair", seed=7))

    crit = {"criteria": [{"name": f"c{k}", "description": "d"} for k in range(5)]}
    scores = {"scores": [{"reason": "r", "score": 6}] * 5}

    def answer(messages, seed):
        return json.dumps(crit if "criteria\": [" in messages[-1]["content"] else scores)

    judge_file(a, "criteria", ScriptedBackend(answer, uri="fake:j"), tmp_path / "a.j.jsonl", JudgeSettings(judge="fake:j"))
    be = ScriptedBackend(answer, uri="fake:k")  # every criterion exists, but another judge wrote them
    with pytest.raises(BimoError, match="criteria.jsonl was made with other settings \\(model fake:j → fake:k"):
        judge_file(b, "criteria", be, tmp_path / "b.j.jsonl", JudgeSettings(judge="fake:k"))
    assert not be.requests


def test_compare_reports_repeated_ids_once_and_judges_the_first(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "x", "good"), preds(tmp_path, jsonl, "y", "poor")
    with open(a, "a", encoding="utf-8") as fh:  # row 7 repeats id 2 with another answer
        fh.write(json.dumps({"id": 2, "prompt": "写一段第2号文字", "response": "a later answer"}) + "\n")
    out = tmp_path / "bt.jsonl"
    for _ in range(2):  # the second run (a resume) lists the repeat no second time
        battles = compare_files([a, b], ScriptedBackend(pair_by_quality), out, JudgeSettings(judge="f"))
        assert len(battles) == 6
        errs = [json.loads(x) for x in errors_path(out).read_text().splitlines()]
        assert [(e["kind"], e["file"], e["row"], e["key"], e["reason"]) for e in errs] == [
            ("duplicate", str(a), 7, "2", "duplicate id of row 3")]
    assert next(bt for bt in battles if bt.meta["key"] == "2").response_a == "good answer 2"


def test_agreement_keeps_failure_reasons_and_repeated_ids(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "x", "good"), preds(tmp_path, jsonl, "y", "poor")
    with open(b, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": 0, "prompt": "Write piece 0", "response": "again"}) + "\n")

    def half_broken(messages, seed):
        return "no idea" if first_shown(messages) in ("good answer 1", "poor answer 1") else pair_by_quality(messages, seed)

    res = pairwise_agreement(ScriptedBackend(half_broken), a, b, JudgeSettings(judge="f", retries=0), n=6)
    assert res["failed"] == 1 and res["judged"] == 5
    [fail] = res["failures"]
    assert fail["key"] == "1" and "not valid JSON" in fail["reason"] and fail["attempts"] == 1
    assert res["duplicates"] == [{"file": str(b), "row": 7, "key": "0", "reason": "duplicate id of row 1"}]
    p = pointwise_agreement(ScriptedBackend(lambda m, s: "no idea"), a, "writebench", JudgeSettings(judge="f", retries=0), n=2)
    assert p["failed"] == 2 and all("not valid JSON" in f["reason"] for f in p["failures"])


def test_compare_refuses_to_mix_judge_settings(tmp_path, jsonl):
    a, b = preds(tmp_path, jsonl, "x", "good"), preds(tmp_path, jsonl, "y", "poor")
    out = tmp_path / "bt.jsonl"
    assert len(compare_files([a, b], ScriptedBackend(pair_by_quality), out, JudgeSettings(judge="f"), limit=2)) == 2
    before = out.read_text()
    be = ScriptedBackend(pair_by_quality)
    with pytest.raises(BimoError, match="judge_options"):
        compare_files([a, b], be, out, JudgeSettings(judge="f", both_orders=False))
    assert not be.requests and out.read_text() == before  # nothing judged, nothing lost
    # the same settings resume as before
    assert len(compare_files([a, b], ScriptedBackend(pair_by_quality), out, JudgeSettings(judge="f"))) == 6
