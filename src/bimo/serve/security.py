"""Key checks and body limits as plain ASGI middleware, so they cover every route.

The key travels as `Authorization: Bearer KEY` for API clients. Browsers cannot add
headers to page loads or EventSource, so `?key=KEY` on any page sets an HttpOnly
cookie and redirects to the same URL without the key (it should not linger in
history). The cookie is SameSite=Strict, which keeps other sites from voting or
spending the model's time through a visitor's browser.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bimo.errors import BimoError

COOKIE = "bimo_key"


async def _send_json(send: Send, status: int, message: str, code: str, headers: list | None = None) -> None:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


#: sent with every response, including the 401s and 413s answered before the app runs
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


class SecurityHeadersMiddleware:
    """The outermost layer: every response, whoever answers it, carries the same headers."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def check_key(key: str) -> None:
    """A key must survive an HTTP header unchanged: printable ASCII, no spaces.

    Header bytes are Latin-1 on the wire and clients encode non-ASCII differently,
    so such a key could never be matched reliably; refuse it when the server starts.
    """
    bad = next((c for c in key if not (33 <= ord(c) <= 126)), None)
    if bad is not None:
        raise BimoError(f"the API key contains {bad!r}; use printable ASCII characters only "
                        "(letters, digits, punctuation; no spaces), as HTTP headers carry it")


class AuthMiddleware:
    """Every HTTP request carries the key (header, cookie or `?key=`), or gets 401."""

    def __init__(self, app: ASGIApp, api_key: str | None):
        self.app = app
        self.key = (api_key or "").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.key:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        qkey = next((v for k, v in query if k == "key"), None)
        if qkey is not None and self._ok(qkey) and scope["method"] == "GET":
            rest = urlencode([(k, v) for k, v in query if k != "key"])
            location = scope["path"] + (f"?{rest}" if rest else "")
            cookie = f"{COOKIE}={qkey}; Path=/; HttpOnly; SameSite=Strict"
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", location.encode()), (b"set-cookie", cookie.encode()),
                                    (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token is None:
            jar = SimpleCookie()
            try:
                jar.load(headers.get("cookie", ""))
            except Exception:  # a malformed cookie header is just "no key"
                jar = SimpleCookie()
            token = jar[COOKIE].value if COOKIE in jar else None
        if token is not None and self._ok(token):
            await self.app(scope, receive, send)
            return
        await _send_json(send, 401, "missing or wrong API key: send 'Authorization: Bearer KEY' "
                         "(pages: open them once with ?key=KEY)", "invalid_api_key",
                         [(b"www-authenticate", b"Bearer")])

    def _ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.key)


class BodyLimitMiddleware:
    """413 for bodies over the limit: by Content-Length up front, or counted while chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        msg = f"request body too large: the limit is {limit} bytes"
        for k, v in scope["headers"]:
            if k.lower() == b"content-length":
                try:
                    too_big = int(v) > limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _send_json(send, 413, msg, "body_too_large")
                    return
        seen = 0
        started = over = replaced = False

        async def limited_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Frameworks may turn a failed body read into their own 400; once the limit
            # is hit, whatever the app answers is replaced by one clear 413.
            nonlocal started, replaced
            if over and not started:
                if not replaced:
                    replaced = True
                    await _send_json(send, 413, msg, "body_too_large")
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        if over and not started and not replaced:
            await _send_json(send, 413, msg, "body_too_large")


class _TooLarge(Exception):
    pass
