"""`bimo write` end to end through the real console entry and the tiny model."""

from __future__ import annotations

import socket


def _err(proc) -> str:
    return proc.stderr.decode("utf-8").strip()


def test_write_streams_to_stdout(bimo_cli, tiny_path):
    proc = bimo_cli("write", "--model", "local:tiny", "--task", "title", "--seed", "1", "--max-tokens", "30",
                    "A short story about a lighthouse keeper.")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip()


def test_write_from_stdin_to_file(bimo_cli, tiny_path, tmp_path):
    out = tmp_path / "out.md"
    proc = bimo_cli("write", "-m", "local:tiny", "-t", "polish", "--seed", "2", "--max-tokens", "30",
                    "-o", str(out), input=b"This sentence are bad written.")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8").strip() and proc.stdout == b""


def test_bad_inputs_get_one_line_errors(bimo_cli, tiny_path, tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("中文内容".encode("gbk"))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    cases = [
        (["write", "--task", "poem", "x"], "unknown task 'poem'; valid tasks:"),
        (["write", "--model", "local:nosuch", "x"], "unknown model 'nosuch'; known models:"),
        (["write", "--model", "zzz:x", "x"], "unknown model scheme 'zzz'"),
        (["write", "--model", "local:tiny", "-i", str(gbk)], "is not valid UTF-8"),
        (["write", "--model", "local:tiny", "-i", str(tmp_path / "missing.txt")], "file not found"),
        (["write", "--model", "local:tiny", "   "], "empty input"),
        (["write", "--model", "local:tiny", "--max-tokens", "8", "word " * 9000], "longer than the context"),
        (["write", "--model", f"openai:http://127.0.0.1:{dead_port}/v1#m", "hi"], "cannot reach the server"),
        (["models", "pull", "nosuch"], "unknown model 'nosuch'"),
    ]
    for args, expected in cases:
        proc = bimo_cli(*args, env={"BIMO_N_CTX": "2048"})
        err = _err(proc)
        assert proc.returncode == 2, (args, err)
        assert expected in err, (args, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_not_pulled_model_names_pull_command(bimo_cli, tmp_path):
    proc = bimo_cli("write", "--model", "local:small", "x", env={"BIMO_HOME": str(tmp_path)})
    assert proc.returncode == 2 and "run: bimo models pull small" in _err(proc)


def test_models_list_and_path(bimo_cli, tiny_path):
    proc = bimo_cli("models", "list")
    assert proc.returncode == 0 and "tiny" in proc.stdout.decode() and "Apache-2.0" in proc.stdout.decode()
    proc = bimo_cli("models", "path", "tiny")
    assert proc.stdout.decode().strip() == str(tiny_path)
