"""The pages a reviewer reads: the queue, a case, and its media (blurred and grey by
default; clear, counted in the reviewer's media viewed today, only on request).
Child-safety cases, their media and reporters are for specialists, liaisons and
admins: anyone else gets a 403 page, and the attempt is in the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from takedown.api.deps import System, client_of
from takedown.domain.vocabulary import CaseStatus, Category, Role
from takedown.errors import Forbidden, NotFound
from takedown.media.decode import MediaRejected
from takedown.media.thumbnails import blurred_preview, thumbnail
from takedown.web.pages import CaseId, ConsoleRoute, Sha256, render, to_login
from takedown.web.session import who

router = APIRouter(route_class=ConsoleRoute)


def chosen_queue(role: Role, queue: str | None) -> str:
    """'' (both queues), 'general' or 'specialists'; moderators have the general one."""
    return queue if queue in ("general", "specialists") and role is not Role.MODERATOR else ""


@router.get("/", response_class=HTMLResponse)
def queue(request: Request, system: System, category: str | None = None,
          status: str | None = None, mine: bool = False, language: str | None = None,
          done: str | None = None, queue: str | None = None) -> Response:
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    statuses = [CaseStatus(status)] if status in {s.value for s in CaseStatus} else None
    chosen = Category(category) if category in {c.value for c in Category} else None
    queue = chosen_queue(reviewer.role, queue)
    cases = system.queue(reviewer, statuses=statuses, category=chosen, limit=200, mine=mine,
                         language=language or None,
                         specialists={"": None, "general": False}.get(queue, True))
    counts = system.media_views_by_reviewer() if reviewer.role is Role.ADMIN else {}
    return render(request, "queue.html", reviewer, csrf, cases=cases,
                  categories=[c.value for c in Category],
                  statuses=[s.value for s in CaseStatus], category=category or "",
                  status=status or "", mine=mine, language=language or "", done=done,
                  queue=queue, reasons=system.policy.reasons, view_counts=counts)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case(request: Request, system: System, case_id: CaseId, done: str | None = None,
         error: str | None = None) -> Response:
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    try:
        detail = system.case_detail(case_id, reviewer, client_of(request))
    except (Forbidden, NotFound) as exc:
        return render(request, "refused.html", reviewer, csrf, exc.status, message=exc.message)
    proposer = next((e["actor"] for e in reversed(detail["events"])
                     if e["type"] == "dismissal_proposed"), None)
    return render(request, "case.html", reviewer, csrf, case=detail, done=done,
                  error=error, proposer=proposer, categories=[c.value for c in Category],
                  reasons=system.policy.reasons,
                  matches=[e for e in detail["events"] if e["type"] == "hash_matched"])


def media_answer(request: Request, system: System, case_id: int, sha256: str,
                 clear: bool) -> Response:
    session = who(request)
    if session is None:
        return Response(status_code=401)
    try:
        data, mime = system.case_media(case_id, sha256, session[0], client_of(request),
                                       clear=clear)
    except (Forbidden, NotFound) as exc:
        return Response(exc.message, status_code=exc.status)
    if clear and (mime or "").startswith("video/"):
        return Response(data, media_type=mime)
    try:
        preview = thumbnail(data) if clear else blurred_preview(data, mime)
    except MediaRejected as exc:
        return Response(str(exc), status_code=422)
    return Response(preview, media_type="image/jpeg")


@router.get("/cases/{case_id}/media/{sha256}")
def media(request: Request, system: System, case_id: CaseId, sha256: Sha256) -> Response:
    """The default: a grey, blurred preview (a video's first frame); audited, not
    counted as a media view."""
    return media_answer(request, system, case_id, sha256, clear=False)


@router.get("/cases/{case_id}/media/{sha256}/clear")
def clear_media(request: Request, system: System, case_id: CaseId,
                sha256: Sha256) -> Response:
    """The clear preview, or the video itself: only when the reviewer asks to see more;
    audited and counted in their media viewed today."""
    return media_answer(request, system, case_id, sha256, clear=True)
