"""The console's statements page (admins): statements of reasons the DSA Transparency
Database rejected, with its message for each, and those whose sending keeps failing;
a rejected one can be sent again. Anyone else gets the 403 page, and the service has
put the attempt in the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from takedown.api.deps import System, client_of
from takedown.api.schemas import Text
from takedown.errors import Forbidden, TakedownError
from takedown.web.pages import ConsoleRoute, back_to, render, to_login
from takedown.web.session import form_sender, who

router = APIRouter(route_class=ConsoleRoute)
# The database's own rule for a puid (and the outbox column's length).
Puid = Annotated[str, Path(max_length=100, pattern=r"^[a-zA-Z0-9_-]+$")]
PAGE = "/console/statements"


@router.get("/statements", response_class=HTMLResponse)
def statements(request: Request, system: System, done: str | None = None,
               error: str | None = None) -> Response:
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    try:
        found = system.statement_problems(reviewer, client_of(request))
    except Forbidden as exc:
        return render(request, "refused.html", reviewer, csrf, exc.status,
                      message=exc.message)
    return render(request, "statements.html", reviewer, csrf, done=done, error=error,
                  **found)


@router.post("/statements/{puid}/resend")
def resend(request: Request, system: System, puid: Puid,
           csrf: Annotated[Text, Form()]) -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    try:
        system.requeue_statement(puid, reviewer, client_of(request))
    except TakedownError as exc:
        return back_to(PAGE, error=exc.message)
    return back_to(PAGE, done=f"statement {puid} will be sent again")
