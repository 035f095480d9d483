"""OpenAI-shaped error bodies, so SDK clients raise their usual exception types."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bimo.errors import BackendError, BimoError, ContextOverflow


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "invalid_request", param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def error_body(message: str, code: str, etype: str = "invalid_request_error", param: str | None = None) -> dict:
    return {"error": {"message": message, "type": etype, "code": code, "param": param}}


def status_for(exc: BaseException) -> tuple[int, str, str]:
    """HTTP status, code and message for anything a handler may raise."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, ContextOverflow):
        return 400, "context_length_exceeded", str(exc)
    if isinstance(exc, BackendError):
        return 502, "backend_error", str(exc)
    if isinstance(exc, BimoError):
        return 400, "invalid_request", str(exc)
    return 500, "internal_error", f"internal error: {type(exc).__name__}"


def install(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        status, code, message = status_for(exc)
        etype = "server_error" if status >= 500 else "invalid_request_error"
        return JSONResponse(error_body(message, code, etype, getattr(exc, "param", None)), status_code=status)

    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        return JSONResponse(error_body(f"{where}: {err['msg']}", "invalid_request"), status_code=400)

    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(BimoError, on_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_error)
