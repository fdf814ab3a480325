"""Console sessions and CSRF. A session is a random cookie token whose hash is stored;
every form carries the session's CSRF token; sign-in carries a double-submit token.
Cookies are HttpOnly, SameSite=Strict, and Secure whenever the request came over HTTPS
(directly, or through a trusted proxy's X-Forwarded-Proto: see api.proxies)."""

from __future__ import annotations

import hmac

from fastapi import Request, Response

from takedown.api.deps import get_system
from takedown.domain.case import Reviewer
from takedown.errors import Forbidden, Unauthorized

SESSION_COOKIE = "td_session"
LOGIN_COOKIE = "td_login_csrf"


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


def who(request: Request) -> tuple[Reviewer, str] | None:
    """(reviewer, CSRF token) of the request's session; None when not signed in."""
    try:
        return get_system(request).session_reviewer(request.cookies.get(SESSION_COOKIE))
    except Unauthorized:
        return None


def check_csrf(expected: str, given: str) -> None:
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Forbidden("the form's CSRF token does not match; reload the page", code="csrf")


def form_sender(request: Request, csrf: str) -> Reviewer | None:
    """Who sent this form (None: not signed in); 403 without the session's token."""
    session = who(request)
    if session is None:
        return None
    check_csrf(session[1], csrf)
    return session[0]
