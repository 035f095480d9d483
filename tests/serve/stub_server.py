"""A real uvicorn process around the real app, with the fake backend and stub writer.

Run as `python tests/serve/stub_server.py PORT DATA_DIR [API_KEY]`; the job restart
test kills it with SIGKILL and starts it again on the same data folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the suite root, where fakes.py lives

from bimo.serve.app import create_app  # noqa: E402
from bimo.serve.config import ServeConfig  # noqa: E402
from fakes import ScriptedBackend, stub_runner  # noqa: E402

if __name__ == "__main__":
    port, data = int(sys.argv[1]), Path(sys.argv[2])
    key = sys.argv[3] if len(sys.argv) > 3 else None
    app = create_app(ServeConfig(port=port, data_dir=data, api_key=key), backend=ScriptedBackend(delay=0.01),
                     job_runner=stub_runner)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
