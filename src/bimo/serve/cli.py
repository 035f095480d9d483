"""`bimo serve`: argument parsing and uvicorn start-up only; the app lives in bimo.serve.app."""

from __future__ import annotations

from pathlib import Path

import typer


def app(
    model: str = typer.Option(None, "--model", "-m", help="Model URI (default: $BIMO_MODEL or local:default)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback needs an API key."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    api_key: str = typer.Option(None, "--api-key", help="Key every request must carry (default: $BIMO_API_KEY)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Jobs, arena votes and generated pairs "
                                  "(default: <bimo home>/serve)."),
    arena_pairs: Path = typer.Option(None, "--arena-pairs", help="JSONL of ready pairs to vote on: prompt, "
                                     "model_a, model_b, response_a, response_b."),
    arena_models: str = typer.Option(None, "--arena-models", help="Two model URIs, URI,URI, answering "
                                     "--arena-prompts for the voting page."),
    arena_prompts: Path = typer.Option(None, "--arena-prompts", help="Prompts for --arena-models: one a line, "
                                       "or JSONL with 'prompt'."),
    arena_db: Path = typer.Option(None, "--arena-db", help="Battle store for votes (default: <data-dir>/arena.sqlite)."),
    cors_origin: list[str] = typer.Option(None, "--cors-origin", help="Allow this browser origin (repeatable); "
                                          "CORS is off by default."),
    max_body: int = typer.Option(1 << 20, "--max-body", help="Largest request body in bytes."),
    max_prompt: int = typer.Option(200_000, "--max-prompt", help="Largest prompt in characters."),
    max_jobs: int = typer.Option(None, "--max-jobs", min=1, help="Long-form jobs running at once; the rest "
                                 "wait in order (default: half the backend's slots, at least 1)."),
    max_queued: int = typer.Option(100, "--max-queued", min=0, help="Long-form jobs allowed to wait; "
                                   "more get HTTP 429."),
    tool_calls: str = typer.Option("auto", "--tool-calls", help="Requests that force a tool call: 'native' "
                                   "(the backend's own), 'schema' (constrained by JSON schema here), or "
                                   "'auto' (schema for local:, gguf:, hf:; native otherwise)."),
    arena_max_tokens: int = typer.Option(512, "--arena-max-tokens", min=1, help="Length of each answer "
                                         "generated for --arena-models, in tokens."),
    arena_max_pending: int = typer.Option(4, "--arena-max-pending", min=1, help="Arena pairs generated at "
                                          "once for all clients; more get HTTP 429."),
    arena_max_pending_per_client: int = typer.Option(2, "--arena-max-pending-per-client", min=1,
                                                     help="Arena pairs generated at once for one client "
                                                     "address; more get HTTP 429."),
) -> None:
    """Serve an OpenAI-compatible API, the writing page (/) and the voting page (/arena)."""
    from bimo.extras import require

    require("serve", "bimo serve")
    import uvicorn

    from bimo.serve.app import create_app
    from bimo.serve.config import ServeConfig

    config = ServeConfig(
        model=model, host=host, port=port, api_key=api_key, data_dir=data_dir, arena_pairs=arena_pairs,
        arena_models=[u.strip() for u in arena_models.split(",") if u.strip()] if arena_models else [],
        arena_prompts=arena_prompts, arena_db=arena_db, cors_origins=list(cor for cor in cors_origin or []),
        max_body_bytes=max_body, max_prompt_chars=max_prompt, max_jobs=max_jobs, max_queued=max_queued,
        tool_calls=tool_calls, arena_max_tokens=arena_max_tokens, arena_max_pending=arena_max_pending,
        arena_max_pending_per_client=arena_max_pending_per_client,
    )
    application = create_app(config)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"bimo serve: {application.state.bimo.model_name} on http://{shown}:{port}/ "
               f"(API /v1, voting /arena)", err=True)
    uvicorn.run(application, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
