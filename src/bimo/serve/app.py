"""Assemble the ASGI app: routes, pages, limits and key checks around one backend.

`create_app(config)` opens the backend named by `config.model` unless one is
given (tests pass their own), resumes unfinished long-form jobs, and sets up the
arena. Middleware order matters: security headers wrap everything, CORS answers
browser preflights (which never carry a key), then the key check runs before the
body limit, so an unauthenticated client cannot even make the server read a large body.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from bimo.llm.base import Backend
from bimo.serve import arena_api, errors, openai_api, writing
from bimo.serve.arena import Arena, load_pairs, load_prompts
from bimo.serve.config import ServeConfig
from bimo.serve.jobs import JobManager, JobWork
from bimo.serve.security import AuthMiddleware, BodyLimitMiddleware, SecurityHeadersMiddleware
from bimo.serve.slots import SlotPool
from bimo.serve.state import ServerState

STATIC = Path(str(files("bimo.serve") / "static"))


def _arena(config: ServeConfig, backend: Backend, slots: SlotPool) -> Arena:
    from bimo.evaluate.store import BattleStore

    store = BattleStore(config.arena_db or config.data_dir / "arena.sqlite")
    pairs = load_pairs(config.arena_pairs) if config.arena_pairs else []
    pools: dict[str, SlotPool] = {}
    prompts: list[str] = []
    if config.arena_models:
        from bimo.llm import get_backend

        if config.arena_models[0] == config.arena_models[1]:
            from bimo.errors import BimoError

            raise BimoError("--arena-models needs two different model URIs")
        prompts = load_prompts(config.arena_prompts)
        for uri in config.arena_models:
            if uri == backend.uri:
                pools[uri] = slots
                continue
            other = get_backend(uri)
            # Another URI for the model already loaded in-process (gguf:PATH of local:NAME)
            # shares its slots, so it must share their queue too.
            same = getattr(other, "server", None) is not None and other.server is getattr(backend, "server", None)
            pools[uri] = slots.sharing(other) if same else SlotPool(other)
    return Arena(store, pairs=pairs, prompts=prompts, pools=pools, max_tokens=config.arena_max_tokens,
                 cache_path=config.data_dir / "arena_pairs.jsonl" if pools else None,
                 max_pending_per_client=config.arena_max_pending_per_client, max_pending=config.arena_max_pending)


def create_app(config: ServeConfig, backend: Backend | None = None, *, job_work: JobWork | None = None,
               resume_jobs: bool = True) -> FastAPI:
    if backend is None:
        from bimo.llm import get_backend

        backend = get_backend(config.model)
    slots = SlotPool(backend)
    state = ServerState(config=config, backend=backend, slots=slots)
    state.jobs = JobManager(backend, config.data_dir, work=job_work, max_jobs=config.max_jobs, slots=slots,
                            max_queued=config.max_queued)
    state.arena = _arena(config, backend, slots)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        slots.bind(asyncio.get_running_loop())  # from here on, job threads queue on the loop
        if resume_jobs:
            state.jobs.resume()
        yield

    app = FastAPI(title="bimo", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.bimo = state
    errors.install(app)
    app.include_router(openai_api.router)
    app.include_router(writing.router)
    app.include_router(arena_api.router)

    @app.get("/api/info")
    def info() -> dict:
        return {"model": state.model_name, "slots": slots.size, "active": slots.active, "waiting": slots.waiting,
                "jobs": state.jobs.counts(), "arena": state.arena.enabled}

    @app.get("/")
    def writing_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    @app.get("/arena")
    def arena_page() -> FileResponse:
        return FileResponse(STATIC / "arena.html", headers={"cache-control": "no-store"})

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", media_type="text/plain")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Each add_middleware wraps the previous ones: the last added runs first.
    # The key check runs before anything reads the body.
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    app.add_middleware(AuthMiddleware, api_key=config.api_key)
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        # Outside the key check: a browser's preflight (OPTIONS) never carries the key,
        # and CORS answers it without reaching the app; the real request then needs
        # the key, and its 401 still carries CORS headers so the page can read it.
        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type"])
    app.add_middleware(SecurityHeadersMiddleware)
    return app
