"""Rendering console pages: the templates, redirects with a notice, and HTML pages (not
the API's JSON) for console URLs that do not parse, such as a case number too large
for the database."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from takedown.api.deps import get_system
from takedown.api.schemas import MAX_ID
from takedown.domain.case import Reviewer

# Case ids are 32-bit in the database (MAX_ID, as in the API): a larger number is no
# case, not a database error (PostgreSQL refuses to compare an integer column with it).
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
Sha256 = Annotated[str, Path(pattern="^[0-9a-f]{64}$")]


def time_left(seconds: int | None) -> str:
    if seconds is None:
        return "no deadline"
    minutes = abs(seconds) // 60
    text = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"{text} left" if seconds >= 0 else f"overdue by {text}"


templates = Jinja2Templates(directory=str(resources.files("takedown.web") / "templates"))
def stamp(value: datetime | str | None) -> str:
    """A time as the console shows it: minutes, UTC (holds keep theirs as ISO text)."""
    if value is None or value == "":
        return "—"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["time_left"] = time_left
templates.env.filters["stamp"] = stamp


def render(request: Request, name: str, reviewer: Reviewer | None, csrf: str | None,
           http_status: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    views = get_system(request).media_views_today(reviewer) if reviewer else 0
    return templates.TemplateResponse(request, name, {
        "reviewer": reviewer, "csrf": csrf, "media_views_today": views, **context},
        status_code=http_status, headers=headers)


def back_to(path: str, **query: str) -> RedirectResponse:
    """Back to a page with a notice (`done`) or an error, safely encoded."""
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


def to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def unparsable(request: Request, exc: RequestValidationError) -> HTMLResponse:
    """404 for a path that names nothing (`/cases/abc`, `/cases/99999999999`); 422 for
    a bad query or form field."""
    in_path = any(e.get("loc", ("",))[0] == "path" for e in exc.errors())
    message = "There is no such page." if in_path else "The request was not understood."
    return templates.TemplateResponse(request, "refused.html", {
        "reviewer": None, "csrf": None, "media_views_today": 0, "message": message,
        "recorded": False}, status_code=404 if in_path else 422)


class ConsoleRoute(APIRoute):
    """A console route: validation errors become a page rather than the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                return unparsable(request, exc)

        return handler
