"""Reject oversized request bodies with 413 before they are read into memory.

Every body is small JSON (or a small console form) except where media is uploaded:
those routes get `max_bytes`, every other one `max_json_bytes`, so that a flood of
large bodies to the public report form costs the server no more than 1 MiB each.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]

# Bodies that carry media: base64 files to content registration, the demo platform's
# posts (mounted under /demo when it runs) and files sent to the demo's stand-in NCMEC.
UPLOAD_ROUTES = frozenset({("POST", "/v1/content")})
UPLOAD_PREFIXES = ("/demo/", "/demo-ncmec/")


class BodyTooLarge(Exception):
    """Raised to the app when it reads past the limit; the 413 has been sent by then."""


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length, then counts streamed bytes."""

    def __init__(self, app: Any, max_bytes: int, max_json_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_bytes = max_bytes if max_json_bytes is None else max_json_bytes

    def limit_for(self, method: str, path: str) -> int:
        if (method, path) in UPLOAD_ROUTES or path.startswith(UPLOAD_PREFIXES):
            return self.max_bytes
        return self.max_json_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("method", ""), scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        guard = _Guard(receive, send, limit)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            # The app failed because its body was cut off; the client has its 413.
            if not guard.rejected:
                raise


class _Guard:
    """Counts the body as the app reads it. Past the limit it answers 413 itself, at
    once, then fails the app's read: frameworks turn a failed read into an answer of
    their own (FastAPI: 400 "error parsing the body"), which is dropped."""

    def __init__(self, receive: Any, send: Any, limit: int) -> None:
        self._receive, self._send, self.limit = receive, send, limit
        self.received = 0
        self.started = False  # the app has started its answer
        self.rejected = False  # the 413 is sent; nothing of the app's goes out

    async def receive(self) -> Message:
        if self.rejected:
            raise BodyTooLarge
        message: Message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                if not self.started:
                    self.rejected = True
                    await _reject(self._send, self.limit)
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.rejected:
            return
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


async def _reject(send: Any, limit: int) -> None:
    body = json.dumps({"error": {"code": "too_large", "fields": [], "message":
                                 f"the request body is over {limit} bytes"}}).encode()
    # Connection: close, so that the server stops reading a body nobody wants.
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
