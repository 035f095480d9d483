"""`bimo bench run`: benchmark records (instruction + source text) through the tiny model."""

from __future__ import annotations

import json

from bimo.io import errors_path
from bimo.write.bench import bench_messages


def test_bench_messages_carry_the_source_text_and_pick_the_system_prompt():
    polish = bench_messages({"prompt": "Polish the text below.", "input": "This sentence are bad.", "task": "polish",
                             "lang": "en"})
    assert polish[-1]["content"] == "Polish the text below.\n\nThis sentence are bad."
    assert "Give the piece itself" in polish[0]["content"]  # the writer's system prompt
    review = bench_messages({"prompt": "请点评下面这段文字。", "input": "春天来了。", "task": "review", "lang": "zh"})
    assert review[-1]["content"].endswith("春天来了。") and "笔墨" in review[0]["content"]  # writing partner
    plain = bench_messages({"prompt": "Write a haiku.", "input": None})
    assert plain[-1]["content"] == "Write a haiku."


def test_bench_run_writes_resumes_and_records_failures(bimo_cli, tiny_path, tmp_path):
    prompts = tmp_path / "p.jsonl"
    rows = [{"id": "t1", "prompt": "Suggest a title for the text below.", "task": "title", "lang": "en",
             "input": "The lighthouse keeper counted ships every night."},
            {"id": "t2", "prompt": "Write one sentence about rain.", "task": "write", "lang": "en"},
            {"id": "huge", "prompt": "Summarise: " + "word " * 9000, "task": "condense", "lang": "en"}]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "tiny.jsonl"
    args = ("bench", "run", str(prompts), "-m", "local:tiny", "-o", str(out), "--max-tokens", "24")
    proc = bimo_cli(*args)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "2 written, 0 already done, 1 failed" in proc.stderr.decode()
    recs = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert sorted(recs) == ["t1", "t2"]
    assert all(r["response"].strip() and 0 < r["tokens"] <= 24 and r["model"] == "local:tiny" for r in recs.values())
    assert recs["t1"]["input"] == rows[0]["input"] and recs["t1"]["task"] == "title"  # kept for the judges
    errs = [json.loads(x) for x in errors_path(out).read_text(encoding="utf-8").splitlines()]
    assert [e["id"] for e in errs] == ["huge"] and "context" in errs[0]["reason"]

    again = bimo_cli(*args)  # resume: the two answers are kept, the failed prompt is tried again
    assert again.returncode == 0 and "0 written, 2 already done, 1 failed" in again.stderr.decode()
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert len(errors_path(out).read_text(encoding="utf-8").splitlines()) == 1

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n', encoding="utf-8")
    proc = bimo_cli("bench", "run", str(bad), "-m", "local:tiny", "-o", str(tmp_path / "x.jsonl"))
    err = proc.stderr.decode().strip()
    assert proc.returncode != 0 and "record 1 has no 'prompt'" in err and "Traceback" not in err


def _read(path):
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_long_form_checkpoints_belong_to_their_output_and_model(tiny_path, tmp_path, capsys):
    from bimo.write.bench import run_bench

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "r1", "prompt": "Write about the sea.", "length": 60, "lang": "en"}) + "\n",
                       encoding="utf-8")
    a, b = tmp_path / "a" / "pred.jsonl", tmp_path / "b" / "pred.jsonl"  # same file name, two folders
    run_bench(prompts, a, model="local:tiny", seed=1)
    run_bench(prompts, b, model=f"gguf:{tiny_path}", seed=2)
    ra, rb = _read(a)["r1"], _read(b)["r1"]
    assert ra["model"] == "local:tiny" and rb["model"] == f"gguf:{tiny_path}"
    assert ra["response"].strip() and rb["response"].strip() and ra["response"] != rb["response"]
    for out, model in ((a, ra["model"]), (b, rb["model"])):  # checkpoints under OUT.runs/, bound to the model
        state = json.loads((out.parent / "pred.runs" / "r1" / "state.json").read_text(encoding="utf-8"))
        assert state["binding"]["model"] == model and state["binding"]["instruction"] == "Write about the sea."

    # The same id with another prompt: the old checkpoint is not reused, and the run says so.
    prompts.write_text(json.dumps({"id": "r1", "prompt": "Write about the mountains.", "length": 60,
                                   "lang": "en"}) + "\n", encoding="utf-8")
    a.unlink()
    capsys.readouterr()
    run_bench(prompts, a, model="local:tiny", seed=1)
    assert "checkpoint made with other settings (instruction" in capsys.readouterr().err
    again = _read(a)["r1"]
    assert again["prompt"] == "Write about the mountains." and again["response"] != ra["response"]
    state = json.loads((a.parent / "pred.runs" / "r1" / "state.json").read_text(encoding="utf-8"))
    assert state["instruction"] == "Write about the mountains."


def test_bench_output_refuses_another_model(bimo_cli, tiny_path, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "s", "prompt": "Write one sentence about rain.", "lang": "en"}) + "\n",
                       encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    assert bimo_cli("bench", "run", str(prompts), "-m", "local:tiny", "-o", str(out), "--max-tokens", "16").returncode == 0
    proc = bimo_cli("bench", "run", str(prompts), "-m", f"gguf:{tiny_path}", "-o", str(out), "--max-tokens", "16")
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "model local:tiny → gguf:" in err, err
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1

