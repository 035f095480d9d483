"""Where bimo keeps its things: models, caches, runs.

`BIMO_HOME` overrides everything; otherwise the user cache dir from platformdirs.
"""

import os
from pathlib import Path

import platformdirs


def home() -> Path:
    env = os.environ.get("BIMO_HOME")
    path = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("bimo"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_db() -> Path:
    return home() / "cache.sqlite"
