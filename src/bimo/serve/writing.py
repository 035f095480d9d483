"""Writing endpoints behind the writing page: tasks, one streamed answer, long-form jobs.

`POST /api/write` streams one task's answer as SSE (`{"delta": ...}` events, then
`{"done": true, ...}`); closing the connection stops generation. Long-form writing
takes minutes, so it is a job: `POST /api/jobs` returns an id (429 when too many
wait already), `GET
/api/jobs/{id}/events` streams its events (replayed from the start, resumable with
Last-Event-ID), `GET /api/jobs/{id}` returns status and the finished text.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from bimo.serve.errors import ApiError, status_for
from bimo.serve.jobs import TERMINAL, QueueFull
from bimo.serve.openai_api import check_prompt
from bimo.serve.state import ServerState
from bimo.write.tasks import TaskOptions, build_messages, load_task, task_names

router = APIRouter(prefix="/api")
_JOB_ID = re.compile(r"^[0-9a-f]{16}$")


class WriteRequest(BaseModel):
    """One task run. `sample` is text, never a path: clients do not name server files."""

    task: str = "write"
    text: str = Field(min_length=1)
    lang: str | None = Field(None, pattern="^(zh|en)$")
    instruction: str = ""
    style: str = ""
    sample: str = ""
    target: str = ""
    max_tokens: int = Field(1024, ge=1, le=32768)
    temperature: float = Field(0.7, ge=0.0, le=2.0)


class JobRequest(BaseModel):
    prompt: str = Field(min_length=1)
    length: int | None = Field(None, ge=50, le=200_000)


@router.get("/tasks")
def tasks() -> dict:
    titles = {name: load_task(name).get("title") or {} for name in task_names()}
    return {"tasks": [{"name": n, "title": {"zh": t.get("zh", n), "en": t.get("en", n)}} for n, t in titles.items()]}


@router.post("/write")
async def write(body: WriteRequest, request: Request):
    state: ServerState = request.app.state.bimo
    check_prompt(state, len(body.text) + len(body.instruction) + len(body.sample) + len(body.style))
    if body.task not in task_names():
        raise ApiError(400, f"unknown task '{body.task}'; valid: {', '.join(task_names())}", "unknown_task")
    opts = TaskOptions(instruction=body.instruction, style=body.style, sample=body.sample, target=body.target)
    messages = build_messages(body.task, body.text, body.lang, opts)  # BimoError -> 400
    req = {"messages": messages, "max_tokens": body.max_tokens, "temperature": body.temperature}

    async def events() -> AsyncIterator[dict]:
        parts: list[str] = []
        try:
            async for delta in state.slots.stream(req):
                parts.append(delta)
                yield {"data": json.dumps({"delta": delta}, ensure_ascii=False)}
            yield {"data": json.dumps({"done": True, "text": "".join(parts)}, ensure_ascii=False)}
        except Exception as exc:
            yield {"data": json.dumps({"error": status_for(exc)[2]}, ensure_ascii=False)}

    return EventSourceResponse(events(), ping=15, send_timeout=60)


@router.post("/jobs")
def create_job(body: JobRequest, request: Request) -> dict:
    state: ServerState = request.app.state.bimo
    check_prompt(state, len(body.prompt))
    try:
        job_id = state.jobs.submit(body.prompt, body.length)
    except QueueFull as exc:
        raise ApiError(429, str(exc), "queue_full") from None
    return {"id": job_id, "status": "queued", "position": state.jobs.position(job_id)}


def _job(state: ServerState, job_id: str) -> dict:
    job = state.jobs.store.get(job_id) if _JOB_ID.match(job_id) else None
    if job is None:
        raise ApiError(404, f"no job {job_id!r}", "not_found")
    return job


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request) -> dict:
    state: ServerState = request.app.state.bimo
    job = _job(state, job_id)
    return {"id": job["id"], "status": job["status"], "position": state.jobs.position(job_id),
            "prompt": job["prompt"], "length_target": job["length"],
            "length": job["result_length"], "text": job["result"], "error": job["error"],
            "created": job["created"], "updated": job["updated"], "attempts": job["attempts"]}


@router.get("/jobs/{job_id}/events")
async def job_events(job_id: str, request: Request):
    state: ServerState = request.app.state.bimo
    _job(state, job_id)
    try:
        after = int(request.headers.get("last-event-id") or request.query_params.get("after") or 0)
    except ValueError:
        after = 0

    async def events() -> AsyncIterator[dict]:
        nonlocal after
        # Polling the database (not an in-memory queue) is what lets a client follow
        # a job across a server restart with nothing but its id and last event number.
        while True:
            batch = await asyncio.to_thread(state.jobs.store.events, job_id, after)
            for seq, event in batch:
                after = seq
                yield {"id": str(seq), "event": event.get("type", "message"),
                       "data": json.dumps(event, ensure_ascii=False)}
            if not batch:
                job = await asyncio.to_thread(state.jobs.store.get, job_id)
                if job is None or job["status"] in TERMINAL:
                    yield {"event": "end", "data": json.dumps({"status": job and job["status"]})}
                    return
                await asyncio.sleep(0.3)

    return EventSourceResponse(events(), ping=15, send_timeout=60)
