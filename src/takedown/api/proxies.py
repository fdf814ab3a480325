"""Believing X-Forwarded-For and X-Forwarded-Proto only from trusted reverse proxies.

The client address (the audit log's source, the console's per-address sign-in limit)
is the TCP peer, unless that peer is listed in `TAKEDOWN_TRUSTED_PROXIES`: then it is
the nearest address in X-Forwarded-For that is not itself a trusted proxy, and the
scheme is the proxy's X-Forwarded-Proto (so that cookies are marked Secure behind a
TLS-terminating proxy). From any other peer both headers are ignored, so a client
cannot rotate X-Forwarded-For to look like many.

uvicorn's ProxyHeadersMiddleware does exactly this given the list (addresses or
networks such as 10.0.0.0/8; "*" trusts every peer: only where nothing but the proxy
can reach the service). It is added here, in the application, so that `takedown
serve`, the background server and the tests' TestClient behave alike; `serve` turns
off uvicorn's own copy, which would trust 127.0.0.1 by default.
"""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trust_proxies(app: FastAPI, trusted: list[str]) -> None:
    """Add the middleware: outermost, so that everything inside sees the real client.
    With an empty list it changes nothing (no peer is trusted)."""
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted))
