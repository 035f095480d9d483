"""The long-output recipe's stages hand real data to each other (scaled down: tiny models):
long human documents → long-output SFT with code-written length clauses → SFT → GGUF →
single-pass answers to prompts with a length."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_util import BROWN, write_recipe

from bimo.text import count_length
from bimo.write.lengthreq import detect_length

REPO = Path(__file__).resolve().parents[2]


def _long_docs(path: Path) -> list[str]:
    """Real Brown corpus excerpts joined three at a time into ~750-word documents."""
    docs = [json.loads(x)["text"] for x in BROWN.read_text().splitlines()]
    texts = ["\n\n".join(docs[i:i + 3]) for i in range(0, 9, 3)]
    rows = [{"id": f"long{i}", "text": t, "metadata": {"source": "brown", "license": "MIT"}}
            for i, t in enumerate(texts)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return texts


def test_longwriter_stages_hand_over_real_data(bimo_cli, tmp_path, tiny_llama, home_env):
    texts = _long_docs(tmp_path / "long.jsonl")
    assert all(count_length(t) >= 500 for t in texts)
    recipe = {
        "name": "lw-tiny", "base": str(tiny_llama), "stages": ["curate", "synth", "sft", "export", "eval"],
        "curate": {"inputs": [str(tmp_path / "long.jsonl")], "workers": 1,
                   "steps": [{"normalize": {}}, {"langid": {"keep": ["en"]}}, {"length": {"min_len": {"en": 500}}}]},
        "synth": {"method": "longdoc", "model": "local:tiny", "docs": 3, "retries": 3,
                  "longdoc": {"max_tokens": 160, "head_units": 150, "tail_units": 60}},
        "train": {"max_length": 8192, "batch_size": 1, "save_steps": 1, "sft": {"max_steps": 1, "learning_rate": 1e-3}},
        "export": {"quant": "q8_0"},
        "eval": {"prompts": str(REPO / "benchmarks/prompts/longwriter_heldout.jsonl"), "langs": ["en"], "tasks": [],
                 "longform": True, "single_pass": True, "limit": 1, "max_tokens": 48, "judge": "local:tiny",
                 "judge_max_tokens": 64, "rounds": 50},
    }
    path = write_recipe(tmp_path / "lw.yaml", recipe)
    run = tmp_path / "run"
    res = bimo_cli("pipeline", "run", str(path), "-o", str(run), env=home_env, timeout=600)
    assert res.returncode == 0, res.stderr.decode()[-3000:]

    sft = [json.loads(x) for x in (run / "02-synth" / "sft.jsonl").read_text().splitlines()]
    assert sft, "no long-output SFT record made"
    for rec in sft:
        prompt, answer = rec["messages"][0]["content"], rec["messages"][-1]["content"]
        assert answer in texts  # the response is the human document itself
        assert rec["meta"]["task"] == "longdoc" and rec["meta"]["license"] == "MIT"
        assert detect_length(prompt) == rec["meta"]["required_length"]
        assert abs(rec["meta"]["required_length"] - count_length(answer)) <= 0.15 * count_length(answer)

    state = json.loads((run / "pipeline.json").read_text())["stages"]
    assert state["sft"]["figures"]["steps"] == 1
    preds = [json.loads(x) for x in (run / "05-eval" / "predictions" / "lw-tiny.jsonl").read_text().splitlines()]
    assert preds and all(p["mode"] == "single-pass" and p["length"] for p in preds)
