"""Signing in and out of the console, with the failed-attempt limits of web.throttle."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.api.deps import System, client_of
from takedown.api.schemas import Text
from takedown.clock import utcnow
from takedown.errors import Unauthorized
from takedown.web.pages import ConsoleRoute, render, to_login
from takedown.web.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    clear_cookie,
    set_cookie,
    who,
)
from takedown.web.throttle import SignInLimiter, Throttled

router = APIRouter(route_class=ConsoleRoute)


def limiter_of(request: Request) -> SignInLimiter:
    limiter: SignInLimiter = request.app.state.signin_limiter
    return limiter


def login_page(request: Request, http_status: int = 200, headers: dict[str, str] | None = None,
               **context: object) -> HTMLResponse:
    """The sign-in form, with a fresh double-submit token in its cookie and field."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, token, http_status, headers, **context)
    set_cookie(response, request, LOGIN_COOKIE, token)
    return response


def try_again_at(retry_after: int) -> str:
    minutes = -(-retry_after // 60)
    at = (utcnow() + timedelta(seconds=retry_after)).strftime("%H:%M")
    return f"in {minutes} minute{'s' if minutes > 1 else ''} (after {at} UTC)"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    return login_page(request, error=error)


@router.post("/login")
def login(request: Request, system: System, name: Annotated[Text, Form()],
          password: Annotated[Text, Form()], csrf: Annotated[Text, Form()]) -> Response:
    check_csrf(request.cookies.get(LOGIN_COOKIE, ""), csrf)
    source = client_of(request)
    try:
        _, token, _ = limiter_of(request).guard(
            name, source, lambda: system.sign_in(name, password, source))
    except Unauthorized:
        return RedirectResponse("/console/login?error=1", status_code=303)
    except Throttled as exc:
        system.audit(name[:200], "sign_in_throttled", f"user:{name[:200]}", source,
                     {"retry_after_s": exc.retry_after})
        return login_page(request, 429, {"Retry-After": str(exc.retry_after)},
                          throttled=try_again_at(exc.retry_after))
    response = RedirectResponse("/console/", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token)
    clear_cookie(response, request, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, system: System, csrf: Annotated[Text, Form()]) -> Response:
    session = who(request)
    if session is not None:
        check_csrf(session[1], csrf)
        system.sign_out(request.cookies.get(SESSION_COOKIE), session[0], client_of(request))
    response = to_login()
    clear_cookie(response, request, SESSION_COOKIE)
    return response
