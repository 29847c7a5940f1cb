"""The API's edge: what happens to a request before any route reads its body.

`EdgeGuard` is a plain ASGI middleware, so it runs before FastAPI parses anything (JSON, multipart
spooled to a temporary file):

- a request with a body to a route that needs a user is authenticated first, from its header only;
  without valid credentials the answer is 401 and not one byte of the body is read;
- a declared `Content-Length` over the route's limit is answered 413 at once (nothing read);
- a body without a declared length (chunked) is counted while the app reads it and stopped at the
  limit with 413.

The verified caller is kept in the request's state, so the route's own dependency does not verify the
token a second time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.tokens import Unauthenticated, Verifier
from taskkit.bearer import bearer_token

# JSON bodies of this API are a few hundred bytes; anything near this is not a real client.
JSON_BODY_LIMIT = 64 * 1024
# A multipart upload carries the file plus boundaries and part headers.
MULTIPART_SLACK = 64 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes that do not need a signed-in user: local sign-in (its body is the uid), signed blob URLs
# (the signature is their credential) and health.
PUBLIC_PREFIXES = ("/v1/auth/", "/_blobs/", "/healthz")
CALLER_STATE = "caller"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its route's limit (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {limit} bytes this route accepts")


def needs_user(path: str) -> bool:
    """Whether `path` is served only to a signed-in user."""
    return path.startswith("/v1/") and not path.startswith(PUBLIC_PREFIXES)


class EdgeGuard:
    """Authenticate, then bound, every request body before the app reads it."""

    def __init__(self, app: ASGIApp, *, verify: Callable[[], Verifier], upload_limit: Callable[[], int]) -> None:
        self.app = app
        self._verify = verify
        self._upload_limit = upload_limit

    def limit_for(self, method: str, path: str) -> int:
        """The largest body a request to `path` may carry."""
        if method == "POST" and path.rstrip("/") == "/v1/uploads":
            return self._upload_limit() + MULTIPART_SLACK
        if method == "PUT" and path.startswith("/_blobs/"):
            return self._upload_limit()  # the signed grant may allow less; the route checks that
        return JSON_BODY_LIMIT

    async def _refusal(self, scope: Scope, limit: int) -> tuple[int, str, dict[str, str]] | None:
        """Why the request is refused before its body is read (status, detail, headers), or None."""
        method, path = scope["method"], scope["path"]
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        carries_body = chunked or (declared is not None and declared.strip() != "0") or method in BODY_METHODS
        if carries_body and needs_user(path):
            try:
                caller = await run_in_threadpool(self._verify(), bearer_token(headers.get("authorization")))
            except Unauthenticated as e:
                return 401, str(e), {"www-authenticate": "Bearer"}
            scope.setdefault("state", {})[CALLER_STATE] = caller
        if declared is not None:
            if not declared.strip().isdigit():
                return 400, "Content-Length is not a number", {}
            if int(declared) > limit:
                return 413, f"the request body is larger than the {limit} bytes this route accepts", {}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        refusal = await self._refusal(scope, limit)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        started = False
        received = 0

        async def counted_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counted_receive, counted_send)
        except BodyTooLarge as e:
            if started:
                raise
            await _answer(send, 413, str(e.detail))


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A JSON problem answer sent straight from the edge (the connection is closed after it)."""
    body = json.dumps({"detail": detail}).encode()
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def caller_from_state(state: Any) -> Any:
    """The caller the edge verified for this request, or None."""
    return getattr(state, CALLER_STATE, None)
