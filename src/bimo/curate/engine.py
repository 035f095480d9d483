"""Engines: map a per-shard function over shards, locally or on Ray.

Both engines call the very same top-level functions with the same arguments,
and every shard's output depends only on its input, so results are identical.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from typing import Any

from bimo.extras import require

_TUNED = False


def keep_freed_memory() -> None:
    """Let glibc keep freed heap memory for reuse (Linux only; elsewhere a no-op).

    Sketching allocates numpy temporaries of a few MB per batch; by default glibc hands such
    blocks back to the kernel and page-faults them in again on the next batch, which costs
    about a quarter of the sketching time. Called once in each worker process; memory in use
    is unchanged, only up to 256 MB of already freed memory stays with the process.
    """
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def map_shards(fn: Callable[[dict], Any], jobs: list[dict], engine: str = "local", workers: int = 2,
               ray_address: str | None = None, progress: str = "") -> list[Any]:
    if not jobs:
        return []
    if engine == "ray":
        return _ray_map(fn, jobs, ray_address, progress)
    if workers <= 1 or len(jobs) == 1:
        return [fn(j) for j in _progress(jobs, progress)]
    # fork is fastest and safe here: workers only run pure-Python/numpy shard code.
    ctx = mp.get_context("fork")
    with ctx.Pool(min(workers, len(jobs))) as pool:
        return list(_progress(pool.imap(fn, jobs), progress, total=len(jobs)))


def _progress(it, desc: str, total: int | None = None):
    from bimo.progress import progress_bar

    return progress_bar(it, desc=desc, total=total, unit="shard", disable=not desc, leave=False)


def _ray_map(fn: Callable[[dict], Any], jobs: list[dict], address: str | None, desc: str) -> list[Any]:
    require("ray", "--engine ray")
    import ray

    if not ray.is_initialized():
        # Workers must import bimo even when it runs from a source tree (not installed).
        import os
        from pathlib import Path

        import bimo
        src = str(Path(bimo.__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
        env = {"env_vars": {"PYTHONPATH": path}}
        if address:
            ray.init(address=address, log_to_driver=False, runtime_env=env)
        else:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=env)
    remote = ray.remote(fn)
    refs = [remote.remote(j) for j in jobs]
    return [ray.get(r) for r in _progress(refs, desc)]
