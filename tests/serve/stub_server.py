"""A real uvicorn process around the real app, with the fake backend and stub writer.

Run as `python tests/serve/stub_server.py PORT DATA_DIR [API_KEY]`; the job restart
test kills it with SIGKILL and starts it again on the same data folder.

`BIMO_STUB_OPTIONS` (JSON) tunes it: `config` holds more ServeConfig fields,
`n_ctx` gives the fake backend a context size, `arena_delay` makes the arena
generate pairs with two fake models that take that many seconds per answer, and
`arena_busy_timeout` shortens how long a vote waits for a locked battle store.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the suite root, where fakes.py lives

from bimo.serve.app import create_app  # noqa: E402
from bimo.serve.config import ServeConfig  # noqa: E402
from bimo.serve.slots import SlotPool  # noqa: E402
from fakes import ScriptedBackend, stub_job  # noqa: E402

if __name__ == "__main__":
    port, data = int(sys.argv[1]), Path(sys.argv[2])
    key = sys.argv[3] if len(sys.argv) > 3 else None
    options = json.loads(os.environ.get("BIMO_STUB_OPTIONS") or "{}")
    fields = {k: Path(v) if k in ("arena_pairs", "arena_db") else v for k, v in options.get("config", {}).items()}
    config = ServeConfig(port=port, data_dir=data, api_key=key, **fields)
    backend = ScriptedBackend(delay=0.01)
    backend.n_ctx = options.get("n_ctx")
    app = create_app(config, backend=backend, job_work=stub_job)
    arena = app.state.bimo.arena
    if "arena_delay" in options:  # two slow fake models answering a fixed prompt list
        words = 4
        pools = {}
        for name in ("fake:a", "fake:b"):
            fake = ScriptedBackend(words=words, delay=options["arena_delay"] / words, parallel=8)
            fake.uri = name
            pools[name] = SlotPool(fake)
        arena.pools, arena.prompts = pools, ["Write a line about rain.", "Write a line about snow."]
    if "arena_busy_timeout" in options:
        arena.store.busy_timeout_s = options["arena_busy_timeout"]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
