"""Synthesis and evaluation through an external OpenAI-compatible server, as a user with a
vLLM or llama.cpp server runs them: `--model openai:URL#NAME`, here llama.cpp's own server
(the one xllamacpp runs for the tiny model) on loopback, driven by the real `bimo` CLI."""

from __future__ import annotations

import json
from pathlib import Path

from bimo.io import errors_path


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_synth_and_eval_against_a_server_on_loopback(tiny_backend, tmp_path, bimo_cli):
    assert tiny_backend.http_url.startswith("http://127.0.0.1:")
    uri = f"openai:{tiny_backend.http_url}/v1#tiny"
    env = {"BIMO_API_KEY": tiny_backend.api_key}

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "l1", "instruction": "Write a 60-word story about a lighthouse."}) + "\n")
    out = tmp_path / "long.jsonl"
    r = bimo_cli("synth", "longform", str(src), "-o", str(out), "--model", uri, "--retries", "0", "-q", env=env)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    made, failed = _rows(out), _rows(errors_path(out))
    # written by the server's model, or rejected for its length or its integrity (the unseeded tiny
    # model sometimes loops): either way the server answered and the verdict is recorded
    assert len(made) + len(failed) == 1
    assert all(e["kind"] == "reject" and e["reason"].startswith(("length score", "integrity:")) for e in failed), failed
    for rec in made:
        assert rec["meta"]["length_score"] >= 80 and rec["messages"][-1]["content"].strip()

    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(p) + "\n" for p in [
        {"id": 0, "prompt": "Write a one-line slogan for a bakery.", "response": "Fresh bread, warm hearts.", "lang": "en"},
        {"id": 1, "prompt": "Give a title for a story about a lighthouse keeper.", "response": "The Last Light",
         "lang": "en"}]))
    judged = tmp_path / "judged.jsonl"
    r = bimo_cli("eval", "judge", str(preds), "-o", str(judged), "--judge", uri, "--max-tokens", "100",
                 "--retries", "0", "--json", "-q", env=env)
    assert r.returncode == 0, r.stderr.decode()[-800:]
    s = json.loads(r.stdout)
    ok, errs = _rows(judged), _rows(errors_path(judged))
    assert (len(ok), len(errs)) == (s["judged_now"], s["failed_now"]) and len(ok) + len(errs) == 2
    for rec in ok:
        assert rec["judge"] == uri and all(1 <= v <= 10 for v in rec["scores"].values())
    for e in errs:  # the server answered; the verdict parser rejected the answer, kept raw
        assert e["kind"] == "reject" and e["judge"] == uri and e.get("detail"), e
        assert not e["reason"].startswith("backend error"), e
