"""The real long-form writer behind the jobs API, with the tiny model (slow-ish: marked)."""

from __future__ import annotations

import time

import pytest

from bimo.serve.jobs import JobManager


@pytest.mark.slow
def test_real_longform_job(tiny_backend, tmp_path) -> None:
    jm = JobManager(tiny_backend, tmp_path)  # default runner: bimo.write.longform
    job_id = jm.submit("Write a short essay about rivers.", 300)
    deadline = time.monotonic() + 240
    while (job := jm.store.get(job_id))["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job["status"] == "done", job["error"]
    assert job["result"].strip() and job["result_length"] > 0
    types = [e["type"] for _, e in jm.store.events(job_id)]
    assert "plan" in types and "section" in types and "done" in types
    assert (tmp_path / "jobs" / job_id / "state.json").exists()
