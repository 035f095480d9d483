"""`bimo synth`: verification logic, exact accounting with a scripted backend, and every
command end to end with the tiny real model (poor outputs; the machinery is what's tested)."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from bimo.runner import RunConfig, errors_path, run_step
from bimo.synth.backtranslate import BacktranslateConfig, BacktranslateStep
from bimo.synth.common import lang_of
from bimo.synth.constitution import ConstitutionConfig, ConstitutionStep
from bimo.synth.library import load_principles
from bimo.synth.verify import is_minimal_edit, span_score
from fakes import ScriptedBackend, last_user

DATA = Path(__file__).parent / "data"


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def ids_in(path: Path) -> set[str]:
    return {r["meta"]["source_id"] for r in rows(path)} | {r["id"] for r in rows(errors_path(path))}


def accounted(path: Path, n: int, reasons: tuple[str, ...]) -> list[dict]:
    """All `n` items of a run ended as output or as a rejection of the model's answer whose
    reason starts with one of `reasons` (never a crash, timeout or unexplained loss); returns
    the output records. The tiny model rarely passes verification, so what the tiny-model
    tests always check is that the rejection is the expected one; passing records are checked
    by the scripted-backend tests."""
    ok, errs = rows(path), rows(errors_path(path))
    assert len(ok) + len(errs) == n, (len(ok), len(errs))
    for e in errs:
        assert e["kind"] == "reject" and e["reason"].startswith(reasons), e
    return ok


def assert_trl_shape(path: Path, kind: str) -> None:
    assert rows(path), f"{path} is empty: no record to check"
    for r in rows(path):
        if kind == "sft":
            assert r["messages"][-1]["role"] == "assistant" and r["messages"][-1]["content"]
        else:
            assert r["prompt"][-1]["role"] == "user" and r["chosen"][0]["role"] == "assistant"
            assert r["chosen"][0]["content"] != r["rejected"][0]["content"]
    datasets = pytest.importorskip("datasets")
    if rows(path):
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
        assert len(ds) == len(rows(path))


def test_span_and_minimality_checks():
    src = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    assert span_score("举头望明月，低头思故乡。", src) == 100
    assert span_score("举头望明月,  低头思故乡", src) >= 90  # re-punctuated copy still counts
    assert span_score("白日依山尽，黄河入海流。", src) < 60
    poem = "《感遇》\n兰叶春葳蕤，桂华秋皎洁。\n欣欣此生意，自尔为佳节。"
    copy = "兰叶春葳蕤桂华秋皎洁欣欣此生意自尔为佳节。"  # line breaks and commas dropped
    assert span_score(copy, poem) == 100
    good = "It was the best of times, it was the worst of times."
    assert is_minimal_edit(good, "It was the best of times, it was the saddest of times.") is None
    assert "identical" in is_minimal_edit(good, good)
    assert "too large" in is_minimal_edit(good, "Completely different words here now.")
    assert "length" in is_minimal_edit(good, good + " And it went on and on, for ever.")


def test_principles_library():
    """Lint of the shipped library: ≥ 200 principles; every task × domain × language has at
    least 3 that name the task (general or of that domain); no duplicate statements; every
    principle has a follows and a violates example that differ, and a why."""
    from bimo.synth.backtranslate import TASK_ORDER, domains
    from bimo.synth.verify import norm

    ps = load_principles()
    assert len(ps) >= 200
    thin = [(t, d, lang) for t in TASK_ORDER for d in domains() for lang in ("zh", "en")
            if sum(1 for p in ps if p.lang == lang and t in p.tasks and p.domain in ("any", d)) < 3]
    assert not thin, f"fewer than 3 principles for {thin[:5]}"
    statements = [norm(p.statement).lower() for p in ps]
    assert len(set(statements)) == len(statements), [s for s in statements if statements.count(s) > 1][:3]
    for p in ps:
        assert p.statement and p.why and set(p.tasks) <= {*TASK_ORDER, "any"}, p.id
        assert norm(p.follows) != norm(p.violates), p.id
        assert p.lang == ("zh" if p.id.startswith("zh-") else "en"), p.id
        assert lang_of(p.statement) == p.lang and lang_of(p.follows + p.violates) == p.lang, p.id
    assert sum(p.length for p in ps) >= 4  # length principles exist in both languages
    assert {p.lang for p in ps if p.length} == {"zh", "en"}


def test_candidate_principles_spread_over_the_library():
    """A prompt lists principles that name the task first (about 3/4), then general ones, in
    a stable order per record, so a run uses the whole library and not its first file."""
    from bimo.synth.library import candidates

    ps = load_principles()
    a = candidates(ps, "en", "title", "fiction", 8, key="doc1#title")
    assert a == candidates(ps, "en", "title", "fiction", 8, key="doc1#title") and len(a) == 8
    named = [p for p in ps if p.lang == "en" and "title" in p.tasks and p.domain in ("any", "fiction")]
    assert len(named) >= 3 and sum("title" in p.tasks for p in a) == min(6, len(named))
    assert all(p.lang == "en" for p in a)
    assert all(p.domain in ("any", "fiction") for p in a)
    seen = {p.id for k in range(30) for p in candidates(ps, "zh", "write", "marketing", 8, key=f"d{k}")}
    fitting = {p.id for p in ps if p.lang == "zh" and p.applies("write", "marketing")}
    assert len(seen) >= 0.8 * len(fitting)


class WholePrompt(ScriptedBackend):
    """Answers by a function of every message of the call joined into one string (system prompt included)."""

    def text(self, request):
        joined = "\n".join(str(m.get("content") or "") for m in request["messages"])
        out = self.answer(joined, request.get("seed"))
        return json.dumps(out, ensure_ascii=False) if isinstance(out, dict) else out


LIGHTHOUSE = ("Mrs. Hale climbed the ninety steps of the lighthouse every evening. The lamp had been dark since "
              "the storm took the keeper, but the fishing boats still came home late. She cleaned the lens, trimmed "
              "the wick and struck a match. For the first time in a year, the beam swept across the harbour.")
MEMOIR = "那年冬天，母亲每晚都去海边点亮那座废弃的灯塔。她说，只要灯还亮着，出海的人就认得回家的路。我站在礁石上，看光一圈一圈扫过黑色的海面。"
ARGUMENT = ("Cities should build fewer car parks. Every space for a parked car is land that could hold homes, "
            "shops or trees. Free parking also hides the true cost of driving, so people drive more than they "
            "would if they paid for the space. Cities that removed parking minimums saw more housing built, "
            "and the shops near the new homes did not lose customers. A car park is a choice, not a law of "
            "nature: each one we build tells people to drive, and each one we replace gives them a reason not to.")


def test_backtranslate_describe_choose_write_with_scripted_model(tmp_path):
    """Exact outcomes of the three steps: unusable documents are recorded with their reason;
    tasks follow the described form; the passage fills the answer; a wrong form, an
    ungrounded instruction, a missing draft and a low score are rejected with reasons; the
    length clause comes from the measured passage."""
    from bimo.synth.backtranslate import plan_path, run_backtranslate

    docs = [{"id": "lh", "text": LIGHTHOUSE}, {"id": "memo", "text": MEMOIR}, {"id": "arg", "text": ARGUMENT},
            {"id": "empty", "text": "  "}, {"id": "markup", "text": "<div><br/></div>\n<p>&nbsp;</p>"},
            {"id": "ru", "text": "Маяк стоял на скале, и каждый вечер вдова поднималась по ступеням."},
            {"id": "short", "text": "Hi there."}]
    forms = {"Mrs. Hale": "narrative", "那年冬天": "narrative", "Cities should": "argument"}

    def answer(prompt: str, seed):  # `prompt`: every message of the call, joined
        if "Answer yes or no" in prompt or "回答“是”或“否”" in prompt:  # self-curation: read from `verdict`
            return "yes"
        if "Describe the passage" in prompt or "描述用户发来" in prompt:  # step 1
            form = next(f for k, f in forms.items() if k in prompt)
            return {"form": form, "topic": "t", "key_content": "k", "tone": "calm", "audience": "adults"}
        task = re.search(r"(?:Task type|任务类型)[:：](\S+)", prompt.replace(": ", ":")).group(1)
        if "Mrs. Hale" in prompt:
            if task == "polish":
                return {"reasoning": "r", "instruction": "Polish my draft: Mrs. Hale relights the lighthouse lamp "
                        "after the storm.", "input": "Mrs Hale went up the steps. The lamp was dark. She lit it."}
            return {"reasoning": "r", "instruction": "Write the opening sentence of a short story about a mother "
                    "trying to hold onto her son's memory.", "input": ""}
        if "那年冬天" in prompt:
            if task != "写作":
                return {"reasoning": "r", "instruction": "写一篇宇宙飞船登陆火星的科幻故事。", "input": "飞船、火星"}
            return {"reasoning": "r", "instruction": "写一篇回忆母亲每晚点亮海边灯塔的散文。", "input": ""}
        if task == "outline":
            return {"reasoning": "r", "instruction": "Outline the argument about car parks and housing.",
                    "output": "1. Claim: fewer car parks. 2. Land use. 3. Hidden cost of driving."}
        return {"reasoning": "r", "instruction": "Condense my text about car parks.", "input": ""}

    cfg = BacktranslateConfig(tasks_per_doc=2)
    out = tmp_path / "sft.jsonl"
    def verdict(messages):  # the scorer's first-token probabilities: it doubts the outline
        doubt = "Outline" in messages[-1]["content"]
        yes, no = math.log(0.2 if doubt else 0.95), math.log(0.8 if doubt else 0.05)
        zh = "回答“是”或“否”" in messages[-1]["content"]
        return {"是" if zh else "Yes": yes, "否" if zh else " no": no, " maybe": -6.0}

    described, pairs = run_backtranslate(WholePrompt(answer, logprobs=verdict), docs, out, cfg,
                                         RunConfig(progress=False, concurrency=1, retries=0))
    plans = {r["doc_id"]: r for r in rows(plan_path(out))}
    bad = {r["id"]: r["reason"] for r in rows(errors_path(plan_path(out)))}
    assert bad["empty"] == "no text" and bad["markup"] == "only markup, no prose"
    assert bad["ru"].startswith("unsupported language") and bad["short"].startswith("too short for any task")
    assert plans["lh"]["tasks"] == ["write", "polish"] and plans["arg"]["tasks"] == ["outline", "review"]
    assert plans["memo"]["description"]["lang"] == "zh" and plans["lh"]["description"]["sentences"] == 4
    got = {r["meta"]["source_id"]: r for r in rows(out)}
    errs = {r["id"]: r for r in rows(errors_path(out))}
    assert set(got) == {"lh#polish", "memo#write"} and pairs.ok == 2 and pairs.failed == 4
    assert got["lh#polish"]["messages"][-1]["content"] == LIGHTHOUSE  # the passage is the answer, verbatim
    assert "Mrs Hale went up the steps." in got["lh#polish"]["messages"][0]["content"]
    memo = got["memo#write"]["messages"][0]["content"]
    assert memo.startswith("写一篇回忆母亲") and memo.endswith(f"篇幅约{round(len(MEMOIR.replace('，', '').replace('。', '')), -1)}字。")
    assert got["memo#write"]["meta"]["grounding"] >= 0.5
    assert "wrong form: a sentence, but the passage has 4 sentences" in errs["lh#write"]["reason"]
    assert "not grounded in the passage" in errs["memo#polish"]["reason"]
    assert "火星" in "".join(errs["memo#polish"]["detail"]["missing"])
    assert errs["arg#outline"]["reason"] == "low quality: self-curation 0.20 < 0.85" and errs["arg#outline"]["task"] == "outline"
    assert got["memo#write"]["meta"]["score"] == 0.95
    assert errs["arg#review"]["reason"] == "empty output"
    assert_trl_shape(out, "sft")
    from bimo.synth.stats import write_stats

    md = write_stats(out)[0].read_text()
    assert "| polish | 1 | 1 | 50% |" in md and "| write | 1 | 1 | 50% |" in md and "| outline | 0 | 1 | 0% |" in md
    assert "## Self-curation scores" in md and "| 0.2–0.3 | 0 | 1 |" in md and "| 0.9–1.0 | 2 | 0 |" in md


def test_choose_tasks_follows_form_and_length():
    from bimo.synth.backtranslate import choose_tasks

    cfg = BacktranslateConfig(tasks_per_doc=3)
    assert choose_tasks("d", "narrative", 200, cfg) == ["write", "expand", "polish"]
    assert choose_tasks("d", "essay", 200, cfg) == ["outline", "review", "write"]
    assert choose_tasks("d", "news", 200, BacktranslateConfig(tasks_per_doc=4)) == ["title", "write", "outline"]
    assert choose_tasks("d", "news", 120, BacktranslateConfig(tasks_per_doc=4))[-1] == "condense"  # ≤ 150 units only
    assert choose_tasks("d", "narrative", 30, cfg) == ["polish", "write"]  # short: title/brainstorm need 40
    assert choose_tasks("d", "essay", 10, cfg) == []


def test_form_comes_from_the_genre_model_or_the_curated_label():
    """The form is the curation genre model's label (or the one `bimo curate` stored), not the
    describer's; an unsure label, or "poem" for prose, counts as an essay."""
    from bimo.synth.backtranslate import form_of

    assert form_of(LIGHTHOUSE)[0] == "narrative"
    assert form_of(MEMOIR)[0] == "narrative"
    assert form_of(ARGUMENT)[0] == "essay"  # the model leans to "poetry" at 0.43: unsure, and not verse
    news = "本报北京1月5日讯 记者王明报道：市交通委今天宣布，地铁十号线将于本月底延长运营时间，末班车推迟到午夜。"
    assert form_of(news) == ("news", form_of(news)[1]) and form_of(news)[1] > 0.5
    assert form_of(LIGHTHOUSE, {"genre_fine": "marketing", "genre_score": 0.9}) == ("product copy", 0.9)
    assert form_of(LIGHTHOUSE, {"genre_fine": "poetry", "genre_score": 0.9})[0] == "essay"  # one long line
    assert form_of("床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。", {"genre_fine": "poetry"})[0] == "poem"


def test_self_curation_reads_yes_against_no():
    """The score is P(yes) / (P(yes) + P(no)) over the first token's likeliest variants (case and
    spaces forgiven, other tokens ignored); no probabilities, or neither word, is a clear error."""
    from bimo.llm.base import Completion
    from bimo.synth.backtranslate import yes_share

    def comp(top: dict[str, float]) -> Completion:
        content = [{"token": t, "logprob": lp} for t, lp in top.items()]
        return Completion.from_response({"choices": [{"message": {"content": "x"}, "finish_reason": "stop",
                                                      "logprobs": {"content": [{**content[0], "top_logprobs": content}]}
                                                      if content else None}]})

    got = yes_share(comp({"Yes": math.log(0.6), " yes": math.log(0.2), "No": math.log(0.1), "Maybe": math.log(0.1)}),
                    ["yes"], ["no"])
    assert abs(got - 0.8 / 0.9) < 1e-9
    assert yes_share(comp({"是": math.log(0.3), "否": math.log(0.6), "不": math.log(0.1)}), ["是"], ["否", "不"]) == \
        pytest.approx(0.3)
    with pytest.raises(ValueError, match="no token probabilities"):
        yes_share(comp({}), ["yes"], ["no"])
    with pytest.raises(ValueError, match="neither yes nor no"):
        yes_share(comp({"Maybe": -0.1}), ["yes"], ["no"])


def test_material_checks_name_what_is_wrong():
    """The material a request brings is checked by measured facts: the wordy version to condense
    is longer than the passage, a draft or notes are no verbatim piece of it, and the request is
    in the passage's language."""
    from bimo.runner import Reject

    step = BacktranslateStep(None, BacktranslateConfig())

    def reason(task: str, source: str, **out: str) -> str | None:
        rec = {"task": task, "doc_id": "d", "source": source, "description": {"form": "narrative"}, "metadata": {}}
        try:
            step.verify(rec, {"reasoning": "r", **out})
        except Reject as exc:
            return exc.reason
        return None

    short = "Mrs. Hale climbed the steps and lit the lamp again after the storm."
    assert reason("condense", short, instruction="Tighten my draft about Mrs. Hale and the lamp.",
                  input="Mrs. Hale lit the lamp.") == "the wordy input to condense is not longer than the passage"
    assert reason("condense", short, instruction="Tighten my draft about Mrs. Hale and the lamp.",
                  input="Mrs. Hale, who was tired, slowly climbed all of the many steps up to the top and then "
                        "she lit the lamp once again after the big storm had passed.") is None
    assert reason("expand", LIGHTHOUSE, instruction="Expand my notes about Mrs. Hale and the lighthouse lamp.",
                  input="Mrs. Hale climbed the ninety steps of the lighthouse every evening.") == \
        "input is an excerpt of the output, not a draft or notes"
    assert reason("expand", LIGHTHOUSE, instruction="Expand my notes about Mrs. Hale and the lighthouse lamp.",
                  input="Mrs Hale; ninety steps; lamp dark since the storm; boats late; lens, wick, match") is None
    assert reason("write", MEMOIR, instruction="Write a memoir about a mother who lights a lighthouse.") == \
        "instruction is not in the passage's language (zh)"


def test_wrong_form_and_grounding_checks():
    from bimo.synth.backtranslate import grounding, wrong_form

    para = {"form": "narrative", "sentences": 4, "paragraphs": 1}
    assert "sentence" in wrong_form("Write the opening sentence of a short story about a mother.", para, "en")
    assert "poem" in wrong_form("Write a poem about the harbour.", para, "en")
    assert wrong_form("Write a scene about a widow relighting a lighthouse.", para, "en") is None
    assert "sentence" in wrong_form("写一句话描写灯塔。", para, "zh") and "poem" in wrong_form("写一首诗。", para, "zh")
    assert wrong_form("写一首诗。", {**para, "form": "poem"}, "zh") is None
    share, missing = grounding("Write the opening of a story about a mother trying to hold onto her son.",
                               LIGHTHOUSE, "en")
    assert share < 0.5 and "mother" in missing
    assert grounding("Write a scene in which Mrs. Hale climbs the lighthouse steps and cleans the lens.",
                     LIGHTHOUSE, "en")[0] == 1.0
    assert grounding("写一篇回忆母亲点亮灯塔的散文。", MEMOIR, "zh") == (1.0, [])


def test_annotated_examples_come_in_sizes_and_domains():
    """Every (task, language) has a short example (30 length units at most) and a paragraph of
    three or more sentences, so a paragraph is never shown only one-line examples; each language
    covers the four domains, and `write` has a several-paragraph example."""
    from bimo.synth.backtranslate import domains, task_table
    from bimo.text import count_length, sentence_spans

    for name, spec in task_table()["tasks"].items():
        for lang in ("zh", "en"):
            exs = spec["examples"][lang]
            assert min(count_length(ex["source"]) for ex in exs) <= 30, (name, lang)
            assert max(len(sentence_spans(ex["source"])) for ex in exs) >= 3, (name, lang)
    for lang in ("zh", "en"):
        seen = {ex["json"]["domain"] for spec in task_table()["tasks"].values() for ex in spec["examples"][lang]}
        assert seen == set(domains()), (lang, seen)
        assert any("\n\n" in ex["source"] for ex in task_table()["tasks"]["write"]["examples"][lang])


def test_backtranslate_prompt_shows_closest_examples_as_turns():
    """Annotated examples per task and language; the prompt shows the `examples` closest to
    the passage in length and domain as earlier turns (source → JSON answer without the
    anchored field, which code fills), the passage with its description last."""
    from bimo.synth.backtranslate import TASK_ORDER, expand_plan, pick_examples, task_table

    table = task_table()["tasks"]
    for name in TASK_ORDER:
        for lang in ("zh", "en"):
            exs = table[name]["examples"][lang]
            assert len(exs) >= 2, (name, lang)
            for ex in exs:  # the anchored field of every example is its source, verbatim
                field = "output" if table[name]["anchor"] == "output" else "input"
                assert ex["json"][field] == ex["source"] and ex["reasoning"]
    exs = table["write"]["examples"]["en"]
    longest = max(exs, key=lambda e: len(e["source"]))
    assert pick_examples(exs, 400, None, 1) == [longest]
    plan = {"doc_id": "x", "source": LIGHTHOUSE, "tasks": ["polish"], "metadata": {},
            "description": {"form": "narrative", "topic": "a widow relights a lighthouse", "key_content": "k",
                            "tone": "quiet", "audience": "adults"}}
    rec = next(expand_plan([plan]))
    for n in (0, 1, 2):
        msgs = BacktranslateStep(None, BacktranslateConfig(examples=n)).prompt(rec)
        assert [m["role"] for m in msgs] == ["system", *["user", "assistant"] * n, "user"]
        assert LIGHTHOUSE in msgs[-1]["content"] and "a widow relights a lighthouse" in msgs[-1]["content"]
        assert "rougher draft" in msgs[0]["content"] and "do not state a length" in msgs[0]["content"]
        for m in msgs[2:-1:2]:
            assert list(json.loads(m["content"])) == ["reasoning", "instruction", "input"]


def test_constitution_minimality_with_scripted_model(tmp_path):
    """The rewrite replaces the named sentence in place; an unchanged sentence is asked for
    again with the sentence and principle alone (kept when that edits it, rejected with its
    reason when not); a too-large edit, a sentence that does not exist, an unknown principle
    and a low score are rejected with reasons; a length principle may change the length."""
    def answer(prompt: str, seed):
        ans = {"principle_id": "gen-coherent", "reasoning": "r", "sentence": 1}
        if prompt.startswith("Principle:"):  # the smaller job: one sentence, one principle
            if "truth universally" in prompt:
                return {"rewritten": "It is a truth universally acknowledged, that a single man in possession of "
                                     "a good fortune, must be in want of a horse."}
            return {"rewritten": "The sea was calm!"}
        if "best of times" in prompt:
            assert "[1] It was the best of times" in prompt  # numbered sentences
            return {**ans, "rewritten": "It was the best of times, it was the worst of times, it was the age of "
                                        "wisdom, it was the age of certainty."}
        if "truth universally" in prompt:
            return {**ans, "rewritten": "It is a truth universally  acknowledged, that a single man in possession "
                                        "of a good fortune, must be in want of a wife."}
        if "The sea was calm" in prompt:
            return {**ans, "rewritten": "The sea was calm."}
        if "woods" in prompt:
            return {**ans, "sentence": 7, "rewritten": "x"}
        if "Keep it short" in prompt:
            return {**ans, "principle_id": "gen-follow-length", "rewritten": "Keep it short, then keep going on "
                    "and on and on."}
        if "The lamp" in prompt:
            return {**ans, "rewritten": "Nothing in this sentence is like the original one at all, not a word."}
        return {**ans, "principle_id": "made-up", "rewritten": "y"}

    sft = tmp_path / "in.jsonl"
    recs = rows(DATA / "sft.jsonl")
    recs[3]["meta"]["score"] = 0.95
    recs.append({**recs[3], "meta": {**recs[3]["meta"], "score": 0.4}, "id": "low"})

    def extra(rid: str, text: str) -> dict:
        return {"id": rid, "messages": [{"role": "user", "content": "Write two sentences."},
                                        {"role": "assistant", "content": text}],
                "meta": {"task": "write", "domain": "fiction", "lang": "en", "score": 0.95}}
    recs += [extra("stubborn", "The sea was calm. The boats came home before dark."),
             extra("long", "Keep it short. Say the one thing the reader needs and stop there."),
             extra("big", "The lamp was lit. The keeper went down the ninety steps to sleep.")]
    recs.append({**recs[0], "meta": {**recs[0]["meta"], "anchor": "input"}, "id": "model-answer"})  # an outline
    sft.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    out = tmp_path / "dpo.jsonl"
    step = ConstitutionStep(ScriptedBackend(lambda messages, seed: answer(last_user(messages), seed)),
                            ConstitutionConfig(max_principles=500, min_score=0.85))  # every principle
    run_step(step, sft, out, RunConfig(progress=False, retries=0))
    errs = {r["id"]: r["reason"] for r in rows(errors_path(out))}
    first = next(r for r in rows(out) if "best of times" in r["chosen"][0]["content"])
    chosen, rejected = first["chosen"][0]["content"], first["rejected"][0]["content"]
    assert rejected == chosen.replace("foolishness", "certainty") and first["meta"]["edited"] == chosen
    assert first["meta"]["sentence"] == 1 and first["meta"]["edit"].endswith("certainty.")
    assert 0.6 <= first["meta"]["similarity"] <= 0.98 and first["meta"]["sentence_retry"] is False
    austen = next(r for r in rows(out) if "truth universally" in r["chosen"][0]["content"])
    assert austen["meta"]["sentence_retry"] is True and austen["rejected"][0]["content"].endswith("a horse.")
    longer = next(r for r in rows(out) if r["chosen"][0]["content"].startswith("Keep it short"))
    assert longer["meta"]["principle"] == "gen-follow-length" and longer["meta"]["length_ratio"] > 1.25
    assert len(rows(out)) == 3
    assert errs["stubborn"].startswith("rewrite unchanged, also when asked with the sentence and principle alone")
    assert errs["big"].startswith("not minimal: length changed by")  # not a length principle
    assert errs["low"].startswith("below quality bar")
    assert errs["model-answer"] == "the answer is model-written (the passage was the material), not human text"
    assert "no sentence '7' in the response" in errs.values() and "unknown principle id 'made-up'" in errs.values()
    assert_trl_shape(out, "preference")
    from bimo.synth.stats import write_stats

    md = write_stats(out)[0].read_text()  # kept rate per principle, from the records and the error rows
    assert "## Kept rate by principle" in md and "| gen-coherent | 2 | 2 | 50% |" in md


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("synth")


# The tiny real model (SmolLM2-135M) writes poor data; these tests check the machinery
# on real documents: parsing, verification, rejection with reasons, resume, TRL formats.
# Kept fast: few records, short generations and prompts, no retries. One llama.cpp thread:
# on a busy 2-core machine two threads that wait for each other by spinning made these
# tests several times slower. The 4 slots share the context.
TINY = {"BIMO_N_CTX": "4096", "BIMO_THREADS": "1"}
#: what backtranslation rejects a model's answer for (the runner's own, then the step's)
BACKTRANSLATE_REJECTS = ("unparseable output", "empty output", "low quality", "output ", "input ",
                         "instruction missing", "near-duplicate instruction")


def test_backtranslate_cli_tiny_model_and_resume(bimo_cli, tiny_path, work):
    from bimo.synth.backtranslate import plan_path

    docs = work / "docs.jsonl"
    keep = ("tang-jingyesi", "dickens-two-cities", "thoreau-walden")  # Chinese and English
    docs.write_text("".join(line + "\n" for line in (DATA / "docs.jsonl").read_text().splitlines()
                            if json.loads(line)["id"] in keep))
    out = work / "bt.jsonl"
    args = ["synth", "backtranslate", str(docs), "-o", str(out), "--model", "local:tiny",
            "--tasks-per-doc", "1", "--examples", "1", "--max-tokens", "128", "--retries", "0", "-q"]
    r = bimo_cli(*args, env=TINY)
    plans, plan_errs = rows(plan_path(out)), rows(errors_path(plan_path(out)))
    assert {p["doc_id"] for p in plans} | {e["id"] for e in plan_errs} == set(keep)  # every document accounted for
    n_pairs = sum(len(p["tasks"]) for p in plans)
    assert len(rows(out)) + len(rows(errors_path(out))) == n_pairs  # and every chosen (document, task)
    assert all(e["reason"] and e["step"] == "backtranslate" and e["task"] for e in rows(errors_path(out)))
    if rows(out):
        assert r.returncode == 0, r.stderr.decode()[-800:]
        assert_trl_shape(out, "sft")
    else:  # the tiny model often keeps nothing: exit 1 with the top reasons
        assert r.returncode == 1 and b"nothing kept: " in r.stderr, r.stderr.decode()[-800:]
    for rec in rows(out):  # what passed is the human passage with its provenance
        assert rec["meta"]["score"] >= 0.85 and rec["messages"][-1]["content"] in docs.read_text()
    before = out.read_text() if out.exists() else "", errors_path(out).read_text()
    r2 = bimo_cli(*args, "--resume", env=TINY)
    assert r2.returncode == r.returncode and (out.read_text() if out.exists() else "",
                                               errors_path(out).read_text()) == before
    assert f"{n_pairs} skipped".encode() in r2.stderr and b"3 skipped" in r2.stderr
    r3 = bimo_cli(*args, env=TINY)
    assert r3.returncode == 2 and b"--resume" in r3.stderr
    if out.exists():
        r4 = bimo_cli("synth", "stats", str(out))  # the rejection reasons of a real run
        assert r4.returncode == 0, r4.stderr.decode()[-800:]
        assert (work / "bt.stats.md").exists()
        if rows(errors_path(out)):
            assert b"Kept rate by task" in r4.stdout


def test_backtranslate_cli_bad_input_exits_1_with_reasons(bimo_cli, tiny_path, tmp_path):
    """Documents that cannot give a pair are recorded one by one with the reason, and a run
    that kept nothing exits 1 naming the top reasons."""
    from bimo.synth.backtranslate import plan_path

    docs = tmp_path / "bad.jsonl"
    bad = [{"id": "empty", "text": ""}, {"id": "tags", "text": "<html><body><br/><img src='a.png'/></body></html>"},
           {"id": "ja", "text": "これは日本語の文章です。ひらがなとカタカナで書かれています。"},
           {"id": "tiny", "text": "Thanks!"}, {"id": "tiny2", "text": "Ok."}]
    docs.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in bad))
    out = tmp_path / "sft.jsonl"
    r = bimo_cli("synth", "backtranslate", str(docs), "-o", str(out), "--model", "local:tiny", "-q", env=TINY)
    assert r.returncode == 1, r.stderr.decode()[-800:]
    errs = {e["id"]: e["reason"] for e in rows(errors_path(plan_path(out)))}
    assert errs == {"empty": "no text", "tags": "only markup, no prose",
                    "ja": "unsupported language (other; bimo handles Chinese and English)",
                    "tiny": "too short for any task (1 < 20 length units)",
                    "tiny2": "too short for any task (1 < 20 length units)"}
    last = r.stderr.decode().strip().splitlines()[-1]
    assert last.startswith("nothing kept: too short for any task (2); ") and "Traceback" not in r.stderr.decode()


def test_constitution_cli_tiny_model(bimo_cli, tiny_path, work):
    out = work / "dpo.jsonl"
    r = bimo_cli("synth", "constitution", str(DATA / "sft.jsonl"), "-o", str(out), "--model", "local:tiny",
                 "--max-tokens", "96", "--max-principles", "4", "--retries", "0", "--min-score", "0.85", "-q", env=TINY)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert len(ids_in(out)) == 4
    ok = accounted(out, 4, ("below quality bar", "not minimal", "unparseable output", "output is not a JSON object",
                            "unknown principle", "no sentence", "empty rewritten sentence", "response has no sentence"))
    assert any("below quality bar" in e["reason"] for e in rows(errors_path(out)))
    for rec in ok:
        assert rec["meta"]["principle"] and 0.6 <= rec["meta"]["similarity"] <= 0.98


def test_rank_cli_tiny_model(bimo_cli, tiny_path, work):
    out = work / "rank.jsonl"
    r = bimo_cli("synth", "rank", str(DATA / "instructions.jsonl"), "--models", "local:tiny,local:tiny",
                 "--judge", "local:tiny", "-o", str(out), "--max-tokens", "32", "--judge-tokens", "48",
                 "--retries", "0", "-q", env=TINY)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert ids_in(out) == {"i1", "i2"}
    for rec in accounted(out, 2, ("no clear preference", "model output is not valid JSON", "no 'winner' field",
                                  "winner must be")):
        assert rec["meta"]["chosen_score"] > rec["meta"]["rejected_score"]


def test_backward_rag_tools_stats(bimo_cli, work):
    sft = DATA / "sft.jsonl"
    back = work / "back.jsonl"
    assert bimo_cli("synth", "backward-model", str(sft), "-o", str(back), "-q").returncode == 0
    b = rows(back)
    by_doc = {r["meta"]["doc_id"]: r for r in b}  # the runner writes in completion order
    assert len(b) == 4 and by_doc["dickens-two-cities"]["messages"][-1]["content"].startswith("Write the opening")
    rag = work / "rag.jsonl"
    r = bimo_cli("synth", "rag", str(sft), "-o", str(rag), "--refs", str(DATA / "docs.jsonl"), "--share", "1", "-q")
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert len(rows(rag)) == len(rows(sft)) == 4  # --share 1: every record gets a reference
    for rec in rows(rag):
        assert rec["meta"]["rag"] and "<reference>" in rec["messages"][0]["content"]
        assert not rec["meta"]["reference_id"].startswith(rec["meta"]["doc_id"] + ":")  # never its own doc
    # relevance floor: above 0.9 only the Chinese poem finds a (Chinese) reference; the rest pass through
    strict = work / "rag_strict.jsonl"
    r = bimo_cli("synth", "rag", str(sft), "-o", str(strict), "--refs", str(DATA / "docs.jsonl"), "--share", "1",
                 "--min-score", "0.9", "-q")
    assert r.returncode == 0, r.stderr.decode()[-800:]
    got = {rec["meta"]["doc_id"]: rec["meta"] for rec in rows(strict)}
    assert got["tang-jingyesi"]["rag"] and got["tang-jingyesi"]["reference_id"].startswith(("tang-", "luxun-"))
    assert not any(m["rag"] for d, m in got.items() if d != "tang-jingyesi")
    assert all("0.9" in m["rag_skipped"] for d, m in got.items() if d != "tang-jingyesi")
    with_ids = work / "sft_ids.jsonl"
    with_ids.write_text("".join(json.dumps({"id": f"r{i}", **rec}, ensure_ascii=False) + "\n"
                                for i, rec in enumerate(rows(sft))), encoding="utf-8")
    tools = work / "tools.jsonl"
    r = bimo_cli("synth", "tools", str(with_ids), "-o", str(tools), "--refs", str(DATA / "docs.jsonl"), "--share", "1",
                 "-q")
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert {rec["id"] for rec in rows(tools)} == {"r0", "r1", "r2", "r3"}  # the record id is kept
    for rec in rows(tools):
        names = {t["function"]["name"] for t in rec["tools"]}
        assert {"search_references", "count_length", "lookup_word"} <= names
        call = rec["messages"][1]["tool_calls"][0]["function"]
        assert call["name"] in names and rec["messages"][2]["role"] == "tool"
        if call["name"] == "count_length":  # measures what the assistant has already written
            assert rec["messages"][1]["content"] == call["arguments"]["text"]
            assert rec["messages"][3]["content"].startswith(call["arguments"]["text"])
    assert_trl_shape(tools, "sft")
    empty = work / "empty.jsonl"
    empty.write_text("")
    r = bimo_cli("synth", "tools", str(empty), "-o", str(work / "none.jsonl"), "--refs", str(DATA / "docs.jsonl"),
                 "-q")
    assert r.returncode == 1 and b"the input has no records" in r.stderr
    r = bimo_cli("synth", "tools", str(sft), "-o", str(work / "none2.jsonl"), "--refs", str(DATA / "docs.jsonl"),
                 "--share", "0", "-q")
    assert r.returncode == 1 and b"every record failed" in r.stderr
    shutil.copy(DATA / "sft.jsonl", work / "s.jsonl")
    r = bimo_cli("synth", "stats", str(work / "s.jsonl"))
    assert r.returncode == 0 and b"By task" in r.stdout
    assert (work / "s.stats.png").exists() and (work / "s.stats.md").exists()
    pref = work / "p.jsonl"
    pairs = [(40, 10), (30, 5), (5, 50)]
    pref.write_text("".join(json.dumps({
        "prompt": [{"role": "user", "content": "写一段话"}],
        "chosen": [{"role": "assistant", "content": "好" * c}],
        "rejected": [{"role": "assistant", "content": "坏" * rj}]}, ensure_ascii=False) + "\n" for c, rj in pairs))
    r = bimo_cli("synth", "stats", str(pref))
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert "chosen longer in 2 of 3 pairs (67%), shorter in 1" in r.stdout.decode()


def test_longform_cli_tiny_model(bimo_cli, tiny_path, work):
    src = work / "long_in.jsonl"
    src.write_text(json.dumps({"id": "l1", "instruction": "Write a 60-word story about a lighthouse."}) + "\n")
    out = work / "long.jsonl"
    r = bimo_cli("synth", "longform", str(src), "-o", str(out), "--model", "local:tiny", "--retries", "0",
                 "-q", env=TINY)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    assert ids_in(out) == {"l1"}
    # The tiny model's text differs across CPUs: it may miss the length or repeat itself, and
    # either must end as a named rejection, never as kept data.
    for rec in accounted(out, 1, ("length score", "integrity: ")):
        assert rec["meta"]["length_score"] >= 80


def test_longform_rejects_repeated_text_with_reason(work):
    """A length reached by pasting the same paragraph again is never kept as training data."""
    from bimo.synth.longform import LongformStep

    para = ("The lighthouse keeper counted the ships every night and wrote their names in a blue book. "
            "When the storm came in March, a whale lay stranded on the rocks below the tower. ")
    out = work / "loop.jsonl"
    recs = [{"id": "loop", "instruction": "Write a 100-word story about a lighthouse.", "length": 100}]
    run_step(LongformStep(ScriptedBackend(lambda msg, seed: para * 3)), recs, out,
             RunConfig(progress=False, retries=1))
    assert rows(out) == []
    errs = rows(errors_path(out))
    assert [e["id"] for e in errs] == ["loop"]
    assert "integrity" in errs[0]["reason"] or "effective" in errs[0]["reason"]


def test_self_curation_reads_real_llama_cpp_probabilities(tiny_backend):
    """The self-curation call through the embedded llama.cpp, in both languages: one token with
    its alternatives' probabilities, read into a share in [0, 1], or, when the tiny model names
    neither word, the error that says so."""
    step = BacktranslateStep(tiny_backend, BacktranslateConfig())
    from bimo.synth.backtranslate import SCORE_PARAMS, yes_share
    from bimo.synth.common import prompts

    for lang, fits in (("en", {"instruction": "Write a short scene about Mrs. Hale relighting the lighthouse lamp.",
                                "input": "", "output": LIGHTHOUSE}),
                       ("zh", {"instruction": "写一段回忆母亲每晚点亮灯塔的散文。", "input": "", "output": MEMOIR})):
        words = prompts("score", lang)
        seen: list[float] = []
        comp = tiny_backend.chat(step.score_prompt(fits, lang), SCORE_PARAMS)
        assert comp.first_token_logprobs() and len(comp.text) <= 8  # one token, with its alternatives
        try:
            seen.append(yes_share(comp, words["yes_words"], words["no_words"]))
        except ValueError as exc:  # the tiny model may name neither word: then the reason says so
            assert "neither yes nor no" in str(exc)
        assert all(0.0 <= s <= 1.0 for s in seen)
