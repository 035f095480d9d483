import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bimo.errors import BimoError
from bimo.evaluate import cli
from fakes import ScriptedBackend
from scripted_judges import pair_by_quality

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


def test_length_command_shows_integrity(tmp_path, jsonl):
    story = ("The lighthouse keeper counted the ships every night and wrote their names in a blue book. "
             "When the storm came in March, a whale lay stranded on the rocks below the tower. ")
    f = jsonl(tmp_path / "p.jsonl", [{"id": "loop", "prompt": "p", "response": story * 3, "length": 100},
                                     {"id": "clean", "prompt": "p", "response": story, "length": 32}])
    res = invoke("length", f, "--per-record")
    assert res.exit_code == 0, res.output
    lines = {ln.split("\t")[0]: ln for ln in res.output.splitlines() if "\t" in ln}
    assert "FLAGGED" in lines["loop"] and "repeats 64% of its 8-grams" in lines["loop"]
    assert "FLAGGED" not in lines["clean"]
    assert "flagged 1" in res.output
    out = json.loads(invoke("length", f, "--json", "--per-record").output)
    loop = out["records"][0]
    assert loop["s_l"] > 95 and loop["s_l_eff"] < 5 and loop["effective_length"] == 32


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
    monkeypatch.setattr(cli, "_backend", lambda uri: ScriptedBackend(pair_by_quality))
    recs = lambda q: [{"id": k, "prompt": f"Write {k}", "response": f"{q} text {k}"} for k in range(8)]  # noqa: E731
    a = jsonl(tmp_path / "alpha.jsonl", recs("good"))
    b = jsonl(tmp_path / "beta.jsonl", recs("meh"))
    out = tmp_path / "battles.jsonl"
    res = invoke("compare", a, b, "--judge", "fake:fair", "-o", out, "--store", tmp_path / "s.sqlite", "--json", "-q")
    assert res.exit_code == 0, res.output
    pair = json.loads(res.output)["pairs"][0]
    assert pair["model_a"] == "alpha" and pair["win_rate"] == 1.0 and pair["band"] == "better"
    res = invoke("ratings", tmp_path / "s.sqlite", "--baseline", "beta", "--json", "--rounds", "50")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["baseline"] == "beta" and r["ratings"][0]["model"] == "alpha" and r["n_battles"] == 8
    text = invoke("ratings", out, "--rounds", "20").output
    assert "alpha" in text and "1000.0" in text
    # again, as text: nothing new to judge, nothing new for the store; LC with its interval
    res = invoke("compare", a, b, "--judge", "fake:fair", "-o", out, "--store", tmp_path / "s.sqlite", "-q",
                 "--rounds", "100")
    assert res.exit_code == 0, res.output
    assert "alpha vs beta: win rate 100.0% [100.0%, 100.0%]  LC 100.0% [100.0%, 100.0%]" in res.output
    assert "8 battles in" in res.output and "0 new in" in res.output
    assert invoke("ratings", tmp_path / "s.sqlite", "--json", "--rounds", "5").output.count('"model"') == 2
    assert json.loads(invoke("ratings", tmp_path / "s.sqlite", "--json", "--rounds", "5").stdout)["n_battles"] == 8


def test_store_import_export_through_the_real_cli(tmp_path, jsonl, bimo_cli):
    def run(*args):
        proc = bimo_cli("eval", *[str(a) for a in args], timeout=120)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def one_line(proc, pattern):
        code, _, err = proc
        assert code == 2, err
        assert err.startswith("bimo: error: ") and err.count("\n") == 1 and pattern in err, err

    db = tmp_path / "s.sqlite"
    votes = [{"prompt": f"p{k}", "model_a": "x", "model_b": "y", "winner": ["model_a", "model_b", "tie"][k % 3],
              "judge": "human:ann"} for k in range(6)]
    a = jsonl(tmp_path / "a.jsonl", votes)
    b = jsonl(tmp_path / "b.jsonl", votes[3:] + [{"id": "z1", "model_a": "y", "model_b": "z", "winner": "model_a"}])
    code, out, err = run("store", "import", a, "--db", db)
    assert code == 0 and "added 6" in out and "skipped 0" in out, err
    code, out, err = run("store", "import", a, b, "--db", db, "--json")   # a again + half of it in b: one new
    assert code == 0, err
    assert json.loads(out) == {"store": str(db), "read": 10, "added": 1, "skipped": 9, "total": 7}

    exported = tmp_path / "sub" / "all.jsonl"
    code, out, err = run("store", "export", db, "-o", exported)
    assert code == 0 and "wrote 7 battles" in out, err
    rows = [json.loads(x) for x in exported.read_text().splitlines()]
    assert len(rows) == 7 and len({r["id"] for r in rows}) == 7 and not list(exported.parent.glob(".*.tmp"))
    code, out, _ = run("ratings", db, "--rounds", "20", "--json")          # ratings reads the store as before
    assert code == 0 and json.loads(out)["n_battles"] == 7
    db2 = tmp_path / "copy.sqlite"
    code, out, _ = run("store", "import", exported, "--db", db2, "--json")
    assert code == 0 and json.loads(out)["added"] == 7
    code, out, _ = run("store", "import", exported, "--db", db2, "--json")
    assert code == 0 and json.loads(out)["added"] == 0

    # bad input: one line naming the problem, exit 2, and nothing written
    one_line(run("store", "import", tmp_path / "missing.jsonl", "--db", db), "file not found")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(votes[0]) + "\n\n" + '{"model_a": "x", "model_b": \n')
    one_line(run("store", "import", broken, "--db", db), "broken.jsonl:3: invalid JSON")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({**votes[0], "prompt": "new"}) + "\n" + json.dumps({"model_a": "x", "model_b": "y"}) + "\n")
    one_line(run("store", "import", wrong, "--db", db), "wrong.jsonl:2: battle 2: winner")
    one_line(run("store", "import", a, wrong, "--db", db), "wrong.jsonl:2")
    code, out, _ = run("store", "export", db, "-o", exported)
    assert code == 0 and "wrote 7 battles" in out                          # the failed imports added nothing
    one_line(run("store", "export", tmp_path / "nope.sqlite", "-o", tmp_path / "x.jsonl"), "file not found")
    assert not (tmp_path / "nope.sqlite").exists()
    notdb = tmp_path / "text.sqlite"
    notdb.write_text("not a database " * 50)
    one_line(run("store", "export", notdb, "-o", tmp_path / "x.jsonl"), "not a usable battle store")
    one_line(run("ratings", broken), "broken.jsonl:3: invalid JSON")


def test_judge_options_left_unset_take_the_settings_defaults(tmp_path, jsonl, monkeypatch):
    """The defaults live on JudgeSettings only; the command line passes what was given."""
    import bimo.evaluate.pairwise
    from bimo.evaluate.judge_step import JudgeSettings

    seen = []
    monkeypatch.setattr(cli, "_backend", lambda uri: ScriptedBackend(pair_by_quality))
    monkeypatch.setattr(bimo.evaluate.pairwise, "compare_files", lambda *a, **k: seen.append(a[3]) or [])
    a = jsonl(tmp_path / "a.jsonl", [{"id": 1, "prompt": "p", "response": "r"}])
    assert invoke("compare", a, a, "--judge", "fake:j", "-o", tmp_path / "b.jsonl", "-q").exit_code == 0
    assert invoke("compare", a, a, "--judge", "fake:j", "-o", tmp_path / "b.jsonl", "-q", "--max-tokens", "100",
                  "--retries", "0").exit_code == 0
    assert seen[0] == JudgeSettings(judge="fake:j") and seen[0].max_tokens == 768
    assert seen[1] == JudgeSettings(judge="fake:j", max_tokens=100, retries=0)
