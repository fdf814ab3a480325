"""The console, assembled under /console: signing in (web.signin), the pages a reviewer
reads (web.review) and the forms they send (web.forms), with its stylesheet and
script served from /console/static (the pages' Content-Security-Policy allows no
inline code: see api.security)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from takedown.web import appeals, forms, legal, reporting, review, signin, statements, transparency
from takedown.web.pages import time_left
from takedown.web.session import LOGIN_COOKIE, SESSION_COOKIE
from takedown.web.throttle import SignInLimiter

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "console_router", "install", "time_left"]

STATIC = "/console/static"


def console_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    for part in (signin.router, review.router, forms.router, legal.router,
                 statements.router, transparency.router, appeals.router):
        router.include_router(part)
    return router


def install(app: FastAPI) -> None:
    """The console's routes, its static files, and its sign-in limits (one set of
    counters per application; settings from the app's `state.takedown`)."""
    app.state.signin_limiter = SignInLimiter.from_settings(app.state.takedown.settings)
    static = resources.files("takedown.web") / "static"
    app.mount(STATIC, StaticFiles(directory=str(static)), name="console-static")
    app.include_router(console_router())
    reporting.install(app)  # the public pages for reporters, /report
