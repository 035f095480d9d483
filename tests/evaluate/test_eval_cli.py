import json
import subprocess
import sys

import pytest
from eval_fakes import FakeBackend, pair_by_quality
from typer.testing import CliRunner

from bimo.errors import BimoError
from bimo.evaluate import cli

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def one_line_error(res, pattern):
    assert res.exit_code != 0
    assert isinstance(res.exception, BimoError), res.output
    msg = str(res.exception)
    assert "\n" not in msg
    assert pattern in msg, msg


def test_length_command(tmp_path, jsonl):
    f = jsonl(tmp_path / "p.jsonl", [{"prompt": "p", "response": "字" * 500, "length": 1000},
                                     {"prompt": "p", "response": "word " * 100, "length": 100}])
    res = invoke("length", f, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["s_l"] == pytest.approx(75.0) and out["buckets"]["[500,2k)"]["s_l"] == pytest.approx(50.0)
    assert "S_l = 75.0" in invoke("length", f).output


def test_bad_inputs_give_one_line_errors(tmp_path, jsonl):
    one_line_error(invoke("length", tmp_path / "nope.jsonl"), "file not found")
    wrong = jsonl(tmp_path / "w.jsonl", [{"prompt": "p", "text": "x"}])
    one_line_error(invoke("length", wrong), "lacks field(s) response, length")
    one_line_error(invoke("judge", wrong, "--judge", "fake:x"), "lacks text field(s) response")
    one_line_error(invoke("judge", wrong, "--rubric", "stars"), "unknown rubric 'stars'")
    one_line_error(invoke("ratings", wrong), "battle 1: model_a")
    badwin = jsonl(tmp_path / "b.jsonl", [{"model_a": "x", "model_b": "y", "winner": "x"}])
    one_line_error(invoke("ratings", badwin), "battle 1: winner")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "p", "response": "r", "length": 3}\n{not json\n')
    one_line_error(invoke("length", broken), "broken.jsonl:2: invalid JSON")
    good = jsonl(tmp_path / "g.jsonl", [{"prompt": "p", "response": "r"}])
    one_line_error(invoke("compare", good, "--judge", "fake:x"), "at least two")
    one_line_error(invoke("report", tmp_path / "missing_dir"), "not a folder")


def test_standalone_entry_exit_code_and_single_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "bimo.evaluate.cli", "length", str(tmp_path / "missing.jsonl")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "file not found" in res.stderr


def test_compare_and_ratings_commands(tmp_path, jsonl, monkeypatch):
    monkeypatch.setattr(cli, "_backend", lambda uri: FakeBackend(pair_by_quality))
    recs = lambda q: [{"id": k, "prompt": f"Write {k}", "response": f"{q} text {k}"} for k in range(8)]  # noqa: E731
    a = jsonl(tmp_path / "alpha.jsonl", recs("good"))
    b = jsonl(tmp_path / "beta.jsonl", recs("meh"))
    out = tmp_path / "battles.jsonl"
    res = invoke("compare", a, b, "--judge", "fake:fair", "-o", out, "--store", tmp_path / "s.sqlite", "--json")
    assert res.exit_code == 0, res.output
    pair = json.loads(res.output)["pairs"][0]
    assert pair["model_a"] == "alpha" and pair["win_rate"] == 1.0 and pair["band"] == "better"
    res = invoke("ratings", tmp_path / "s.sqlite", "--baseline", "beta", "--json", "--rounds", "50")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["baseline"] == "beta" and r["ratings"][0]["model"] == "alpha" and r["n_battles"] == 8
    text = invoke("ratings", out, "--rounds", "20").output
    assert "alpha" in text and "1000.0" in text
