"""The console's transparency report (admins): the figures for a period of UTC days, its
charts (SVG drawn on the server by matplotlib, each from its own URL: the console's
Content-Security-Policy allows no inline style, which an SVG written into the page
would need), and the report to download as JSON, CSV or a standalone HTML page. Anyone
else gets the 403 page, and the service has put the attempt in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from takedown.api.deps import System, client_of
from takedown.clock import utcnow
from takedown.domain.case import Reviewer
from takedown.errors import Forbidden, Invalid, NotFound
from takedown.legal import charts
from takedown.legal.transparency import figures_html, to_csv, to_html, to_json
from takedown.web.pages import ConsoleRoute, render, to_login
from takedown.web.session import who

router = APIRouter(route_class=ConsoleRoute)

From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]
ChartName = Annotated[str, Path(pattern="^[a-z-]{1,40}$")]
FORMATS = {"json": ("application/json", to_json), "csv": ("text/csv; charset=utf-8", to_csv),
           "html": ("text/html; charset=utf-8", to_html)}


def last_month() -> tuple[date, date]:
    """The default period: the last whole calendar month (UTC)."""
    first_of_this = utcnow().date().replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1), last


def chosen(first: date | None, last: date | None) -> tuple[date, date]:
    default_first, default_last = last_month()
    return first or default_first, last or default_last


def answer(request: Request, first: date | None, last: date | None,
           produce: Callable[[Reviewer, str, date, date], Response]) -> Response:
    """Sign-in, the period, and the refused page for what the service refuses."""
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    try:
        return produce(reviewer, csrf, *chosen(first, last))
    except (Forbidden, Invalid, NotFound) as exc:
        return render(request, "refused.html", reviewer, csrf, exc.status,
                      message=exc.message, recorded=isinstance(exc, Forbidden))


@router.get("/transparency", response_class=HTMLResponse)
def transparency(request: Request, system: System, first: From = None,
                 last: To = None) -> Response:
    def page(reviewer: Reviewer, csrf: str, first: date, last: date) -> Response:
        report = system.transparency(reviewer, first, last, client_of(request))
        query = urlencode({"from": first.isoformat(), "to": last.isoformat()})
        urls = {name: f"/console/transparency/charts/{name}.svg?{query}"
                for name in charts.CHARTS}
        return render(request, "transparency.html", reviewer, csrf, first=first, last=last,
                      query=query, figures=figures_html(report, urls))

    return answer(request, first, last, page)


@router.get("/transparency/charts/{name}.svg")
def chart(request: Request, system: System, name: ChartName, first: From = None,
          last: To = None) -> Response:
    def svg(reviewer: Reviewer, csrf: str, first: date, last: date) -> Response:
        try:
            drawn = system.transparency_chart(reviewer, name, first, last, client_of(request))
        except KeyError:
            raise NotFound("There is no such chart.", code="unknown_chart") from None
        return Response(drawn, media_type="image/svg+xml")

    return answer(request, first, last, svg)


@router.get("/transparency/report.{kind}")
def download(request: Request, system: System, kind: Literal["json", "csv", "html"],
             first: From = None, last: To = None) -> Response:
    def attachment(reviewer: Reviewer, csrf: str, first: date, last: date) -> Response:
        report = system.transparency(reviewer, first, last, client_of(request))
        media_type, write = FORMATS[kind]
        filename = f"transparency-{first.isoformat()}-{last.isoformat()}.{kind}"
        return Response(write(report), media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    return answer(request, first, last, attachment)
