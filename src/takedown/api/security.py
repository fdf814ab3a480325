"""Security headers on every answer, by kind of page.

* The console (/console): a Content-Security-Policy that allows only takedown's own
  scripts, styles and media (no inline code: the templates load /console/static), no
  framing, and `Cache-Control: no-store`, since its pages and media show reporters'
  e-mail addresses and abuse media that must not stay in a browser's or a proxy's cache.
* The reporters' pages (/report: the form, the receipt with its status link, the status
  page, hashing on the reporter's device): the console's policy and `no-store`.
* The API and anything else takedown answers: JSON needs nothing loaded, so
  `default-src 'none'`, and `no-store` unless the route set its own Cache-Control.
* Swagger UI and ReDoc (/docs, /redoc) and the demo platform (/demo) run their own
  inline code and assets: they only may not be framed.

Everywhere: `X-Content-Type-Options: nosniff` (media are sent under the type sniffed
from their bytes, and never re-sniffed by a browser), `X-Frame-Options: DENY` for old
browsers, and `Referrer-Policy: no-referrer` (console URLs name cases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
FRAMING_CSP = "frame-ancestors 'none'"
OWN_CODE = ("/docs", "/redoc", "/demo")  # pages that bring their own inline code
COMMON = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
          (b"referrer-policy", b"no-referrer"))


@dataclass(frozen=True)
class Policy:
    csp: str
    no_store: bool  # Cache-Control: no-store
    force: bool  # ... even where the route set its own


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def policy_for(path: str) -> Policy:
    if under(path, "/console/static") or under(path, "/report/static"):
        return Policy(CONSOLE_CSP, no_store=False, force=False)  # cacheable, harmless
    if under(path, "/console") or under(path, "/report"):  # a receipt carries its token
        return Policy(CONSOLE_CSP, no_store=True, force=True)
    if any(under(path, prefix) for prefix in OWN_CODE):
        return Policy(FRAMING_CSP, no_store=False, force=False)
    return Policy(API_CSP, no_store=True, force=False)


def with_headers(headers: list[tuple[bytes, bytes]], policy: Policy) -> list[tuple[bytes, bytes]]:
    added = [*COMMON, (b"content-security-policy", policy.csp.encode())]
    has_cache = any(name.lower() == b"cache-control" for name, _ in headers)
    if policy.no_store and (policy.force or not has_cache):
        added.append((b"cache-control", b"no-store"))
    replaced = {name for name, _ in added}
    return [(n, v) for n, v in headers if n.lower() not in replaced] + added


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers to each response's start message."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope.get("path", ""))

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message,
                           "headers": with_headers(list(message.get("headers", [])), policy)}
            await send(message)

        await self.app(scope, receive, send_with_headers)
