"""Per-request context: a request id, one access log line, and the request's duration.

The id is the client's (or the proxy's) `X-Request-Id` when it is usable, else a new
one; it is echoed in the response's X-Request-Id and put on every log line written
while the request is handled (takedown.logs). Durations go to
takedown_http_request_duration_seconds by route template (`/v1/cases/{case_id}`, never
the raw path, so that ids do not make a series each).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.routing import Mount

from takedown.logs import REQUEST_ID
from takedown.metrics import HTTP_SECONDS

MAX_ID_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@/+=-]")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes and scrapes every few seconds would drown the log; they are logged at DEBUG.
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = logging.getLogger("takedown.access")
log = logging.getLogger(__name__)


def request_id(given: str | None) -> str:
    """The caller's id, kept to safe characters (it lands in logs and headers) and to
    MAX_ID_LENGTH; a fresh one when nothing usable is left."""
    cleaned = _UNSAFE.sub("", given or "")[:MAX_ID_LENGTH]
    return cleaned or uuid.uuid4().hex


def route_template(scope: dict[str, Any], app_root: str) -> str:
    """The matched route's path template, with the path of the mounts it is under."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    prefix = str(scope.get("root_path", ""))[len(app_root):]
    if isinstance(route, Mount):  # a mounted app that is not a router (static files)
        return f"{prefix}/{{path}}"
    return prefix + str(getattr(route, "path", ""))


class RequestContext:
    """Pure ASGI middleware (it must see every response, 413s included)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        rid = request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        token = REQUEST_ID.set(rid)
        app_root = str(scope.get("root_path", ""))
        status = 500  # what the client gets if the app fails before answering
        start = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-Id", rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error")  # here, where the request id is known
            raise
        finally:
            self._record(scope, app_root, status, time.perf_counter() - start)
            REQUEST_ID.reset(token)

    @staticmethod
    def _record(scope: dict[str, Any], app_root: str, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        route = route_template(scope, app_root)
        HTTP_SECONDS.labels(method, route, str(status)).observe(seconds)
        # The path without its query string, which may carry a reporter's status token;
        # no client address either: reporters' addresses are not kept in logs.
        path = scope.get("path", "")
        access_log.log(logging.DEBUG if path in QUIET else logging.INFO,
                       "%s %s %d", method, path, status,
                       extra={"method": method, "path": path, "route": route,
                              "status": status, "duration_ms": round(seconds * 1000, 1)})
