"""Ziya's backward model end to end on real parts: SFT pairs reversed by `bimo synth
backward-model`, a tiny random Llama trained on them (LoRA, a few steps), exported to GGUF,
loaded by llama.cpp as `bimo synth backtranslate --generator gguf:PATH`. Its requests are
noise; what is checked is that every document ends as a pair or a reason."""

from __future__ import annotations

import json
from pathlib import Path

from bimo.runner import errors_path
from bimo.synth.backtranslate import BACKWARD, backward_messages, plan_path

TINY = {"BIMO_N_CTX": "4096", "BIMO_THREADS": "1"}
#: what the checks reject a backward model's request for (the runner's own reasons, then the step's)
REJECTS = ("empty output", "instruction missing or too short", "instruction copies an annotated example",
           "instruction names the wrong form", "instruction not grounded in the passage", "input is a copy",
           "low quality", "near-duplicate instruction", "unparseable output")


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_trained_backward_model_as_generator(bimo_cli, tiny_base, toy_data, run_stage, tiny_path, tmp_path):
    from bimo.train.export import export_run
    from bimo.train.tiny import text_records

    back = tmp_path / "back.jsonl"
    r = bimo_cli("synth", "backward-model", str(toy_data["sft"]), "-o", str(back), "-q")
    assert r.returncode == 0, r.stderr.decode()[-800:]
    responses = [json.loads(x)["messages"][-1]["content"] for x in toy_data["sft"].read_text().splitlines()]
    # every training prompt is the generator's prompt for that response (written in completion order)
    assert sorted(json.dumps(rec["messages"][:-1]) for rec in rows(back)) == \
        sorted(json.dumps(backward_messages(x)) for x in responses)

    run = run_stage("sft", data=back, base=str(tiny_base), output_dir=tmp_path / "back-run", max_steps=3,
                    lora=True, learning_rate=2e-3)
    gguf = export_run(run.run_dir, "tiny-back", "f16", register=False, out_dir=tmp_path)
    assert gguf.read_bytes()[:4] == b"GGUF"

    docs = tmp_path / "docs.jsonl"
    picked = [*text_records(2), {"id": "empty", "text": ""}]
    docs.write_text("".join(json.dumps(d) + "\n" for d in picked))
    out = tmp_path / "sft.jsonl"
    args = ["synth", "backtranslate", str(docs), "-o", str(out), "--model", "local:tiny", "--max-tokens", "48",
            "--retries", "0", "-q"]
    r = bimo_cli(*args, "--generator", f"gguf:{gguf}", env=TINY)
    plans, plan_errs = rows(plan_path(out)), rows(errors_path(plan_path(out)))
    assert {p["doc_id"] for p in plans} | {e["id"] for e in plan_errs} == {"doc-0", "doc-1", "empty"}
    assert {e["id"]: e["reason"] for e in plan_errs}.get("empty") == "no text"
    assert plans and all(p["tasks"] == [BACKWARD] for p in plans)  # so the backward model was called
    kept, errs = rows(out), rows(errors_path(out))
    assert sorted([k["meta"]["source_id"] for k in kept] + [e["id"] for e in errs]) == \
        sorted(f"{p['doc_id']}#backward" for p in plans)  # one request per described document, each accounted for
    for e in errs:
        assert e["kind"] == "reject" and e["task"] == BACKWARD and e["reason"].startswith(REJECTS), e
    for rec in kept:
        assert rec["meta"]["generator"] == f"gguf:{gguf}" and rec["messages"][-1]["content"] in docs.read_text()
    if kept:
        assert r.returncode == 0, r.stderr.decode()[-800:]
    else:
        assert r.returncode == 1 and b"nothing kept: " in r.stderr, r.stderr.decode()[-800:]
    # a resume with another generator is refused (the output would mix two generators)
    r2 = bimo_cli(*args, "--generator", "prompted", "--resume", env=TINY)
    assert r2.returncode == 2 and r2.stderr.decode().count("\n") == 1, r2.stderr.decode()[-800:]
