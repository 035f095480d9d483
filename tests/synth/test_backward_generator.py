"""A trained backward model as the instruction generator of backtranslation (Ziya): the prompt
it gets at use is the one its training records showed it, the checks of the prompted path
apply to what it writes, and bad settings are one-line errors. The real model (a tiny random
Llama trained, exported and loaded by llama.cpp) runs in tests/train/test_backward_model.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bimo.errors import BimoError
from bimo.runner import RunConfig, errors_path
from bimo.synth.backtranslate import (
    BACKWARD,
    BacktranslateConfig,
    BackwardStep,
    backward_messages,
    plan_path,
    run_backtranslate,
)
from bimo.synth.records import split_request, user_prompt
from fakes import ScriptedBackend

LIGHTHOUSE = ("Mrs. Hale climbed the ninety steps of the lighthouse every evening. The lamp had been dark since "
              "the storm took the keeper, but the fishing boats still came home late. She cleaned the lens, trimmed "
              "the wick and struck a match. For the first time in a year, the beam swept across the harbour.")
MEMOIR = "那年冬天，母亲每晚都去海边点亮那座废弃的灯塔。她说，只要灯还亮着，出海的人就认得回家的路。我站在礁石上，看光一圈一圈扫过黑色的海面。"
GARDEN = ("Every spring my grandmother planted tomatoes along the south wall of the garden. She tied each stem to "
          "a bamboo cane with strips of old cotton, and in August the whole wall smelled of leaves and sun.")
MARKET = ("The night market opens when the shops close. Stalls of grilled squid, sugar cane juice and cheap "
          "sandals fill the street, and the owners call out prices over the noise of the generators.")
BRIDGE = ("The old stone bridge over the river was built without mortar. Each stone was cut to lean on its "
          "neighbours, and the arch has carried carts, cars and floods for three hundred years.")

#: what the scripted backward model writes for each passage (keyed by a phrase of it)
REQUESTS = {
    "Mrs. Hale": "Write a scene in which Mrs. Hale climbs the lighthouse steps and cleans the lens after the storm. "
                 "About 999 words.",
    "那年冬天": "写一首关于母亲和灯塔的诗。",
    "grandmother": "Turn my notes into a memory of the garden.\n\n" + GARDEN,
    "night market": "Write a story about a dragon who guards a princess on a spaceship.",
    "stone bridge": "",
}


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


class Scorer(ScriptedBackend):
    """The general model: describes every passage and accepts every pair (P(yes) 0.9)."""

    def __init__(self):
        super().__init__(logprobs=lambda messages: {"Yes": math.log(0.9), " no": math.log(0.1),
                                                    "是": math.log(0.9), "否": math.log(0.1)})

    def text(self, request):
        joined = "\n".join(str(m.get("content") or "") for m in request["messages"])
        if "Answer yes or no" in joined or "回答“是”或“否”" in joined:
            return "yes"
        return json.dumps({"topic": "t", "key_content": "k", "tone": "calm", "audience": "all"})


def backward_answer(messages, seed):
    return next(v for k, v in REQUESTS.items() if k in messages[-1]["content"])


def test_backward_generator_prompt_checks_and_clause(tmp_path):
    """One call per document with the training prompt; the prompted path's checks reject with
    their reasons; the model's own length clause is replaced by the measured one."""
    docs = [{"id": "lh", "text": LIGHTHOUSE}, {"id": "memo", "text": MEMOIR}, {"id": "garden", "text": GARDEN},
            {"id": "market", "text": MARKET}, {"id": "bridge", "text": BRIDGE}, {"id": "empty", "text": " "}]
    writer = ScriptedBackend(backward_answer, uri="test:backward")
    scorer = Scorer()
    cfg = BacktranslateConfig(generator="gguf:/models/back.gguf")
    out = tmp_path / "sft.jsonl"
    described, pairs = run_backtranslate(scorer, docs, out, cfg, RunConfig(progress=False, concurrency=1, retries=0),
                                         writer)
    plans = {p["doc_id"]: p for p in rows(plan_path(out))}
    assert all(p["tasks"] == [BACKWARD] for p in plans.values()) and len(plans) == 5
    assert {e["id"]: e["reason"] for e in rows(errors_path(plan_path(out)))} == {"empty": "no text"}
    # the backward model: one free-text call per document, exactly the prompt of its training records
    assert len(writer.requests) == 5 and not any(r.get("response_format") for r in writer.requests)
    for req in writer.requests:
        source = next(p["source"] for p in plans.values() if p["source"] in req["messages"][-1]["content"])
        trained = BackwardStep(None).process({"messages": [{"role": "user", "content": "any request"},
                                                           {"role": "assistant", "content": source}]}, 0)[0]
        assert req["messages"] == trained["messages"][:-1] == backward_messages(source)
    kept = rows(out)
    assert [r["meta"]["source_id"] for r in kept] == ["lh#backward"] and pairs.ok == 1 and pairs.failed == 4
    rec = kept[0]
    assert rec["messages"][-1]["content"] == LIGHTHOUSE  # the passage is the answer, verbatim
    assert rec["messages"][0]["content"] == ("Write a scene in which Mrs. Hale climbs the lighthouse steps and cleans "
                                             "the lens after the storm. About 50 words.")  # 999 was the model's
    assert rec["meta"]["task"] == BACKWARD and rec["meta"]["generator"] == "gguf:/models/back.gguf"
    assert rec["meta"]["score"] == 0.9 and rec["meta"]["grounding"] == 1.0
    errs = {e["id"]: e for e in rows(errors_path(out))}
    assert errs["memo#backward"]["reason"] == "instruction names the wrong form: a poem, but the passage is narrative"
    assert errs["garden#backward"]["reason"] == "input is a copy of the output"
    assert errs["market#backward"]["reason"].startswith("instruction not grounded in the passage")
    assert errs["bridge#backward"]["reason"] == "empty output"
    assert all(e["task"] == BACKWARD and e["step"] == "backtranslate" for e in errs.values())
    # the scorer described the five passages and scored the one pair that passed the checks
    assert len(scorer.requests) == 6


def test_split_request_inverts_user_prompt():
    assert split_request(user_prompt("Polish my draft.", "the draft\n\nsecond paragraph")) == \
        ("Polish my draft.", "the draft\n\nsecond paragraph")
    assert split_request("  Write a poem.  ") == ("Write a poem.", "")


def test_backward_settings_are_checked():
    with pytest.raises(ValueError, match="neither 'prompted' nor a model URI"):
        BacktranslateConfig(generator="backward")
    with pytest.raises(ValueError, match="tasks_per_doc: only the prompted generator"):
        BacktranslateConfig(generator="gguf:/b.gguf", tasks_per_doc=3)
    assert BacktranslateConfig(tasks_per_doc=3).generator == "prompted"
    from bimo.synth.backtranslate import BacktranslateStep

    with pytest.raises(BimoError, match="needs its backend"):
        BacktranslateStep(Scorer(), BacktranslateConfig(generator="gguf:/b.gguf"))


@pytest.mark.parametrize(("args", "message"), [
    (["--generator", "backward"], "--generator: 'backward' is neither 'prompted' nor a model URI"),
    (["--generator", "gguf:/nonexistent/back.gguf"], "no GGUF file at /nonexistent/back.gguf"),
    (["--generator", "gguf:/nonexistent/back.gguf", "--examples", "1"], "--examples: only the prompted generator"),
    (["--generator", "nope:x"], "unknown model scheme 'nope'"),
])
def test_backward_cli_bad_settings_one_line(bimo_cli, tmp_path, args, message):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": LIGHTHOUSE}) + "\n")
    out = tmp_path / "out.jsonl"
    r = bimo_cli("synth", "backtranslate", str(docs), "-o", str(out), "--model", "local:nonexistent", *args)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists() and not plan_path(out).exists()
