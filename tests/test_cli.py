"""The `bimo` entry point's error contract: usage errors, bad input and the version flag."""

from __future__ import annotations


def test_version(bimo_cli):
    proc = bimo_cli("--version")
    assert proc.returncode == 0 and proc.stdout.decode().strip()


def test_usage_errors_are_short_and_exit_2(bimo_cli, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "hi"}\n', encoding="utf-8")
    cases = [(["nosuchcmd"], "No such command 'nosuchcmd'"),
             (["bench", "run", str(prompts)], "Missing option '--out'"),
             (["bench", "run", str(prompts), "-o", str(tmp_path / "o.jsonl"), "--concurrency", "0"],
              "Invalid value for '--concurrency'")]
    for args, expected in cases:
        proc = bimo_cli(*args)
        err = proc.stderr.decode()
        assert proc.returncode == 2, (args, err)
        assert expected in err and "Traceback" not in err and "internal error" not in err, (args, err)
