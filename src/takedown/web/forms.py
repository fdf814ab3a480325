"""The forms a reviewer sends: decisions (one case or many), claims, and marking a
reporter abusive. Each needs the session's CSRF token and goes back to a page with a
notice or an error."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from takedown.api.deps import System, client_of
from takedown.api.schemas import MAX_ID, Text
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Category, Outcome
from takedown.errors import TakedownError
from takedown.system import Takedown
from takedown.web.pages import CaseId, ConsoleRoute, back_to, to_login
from takedown.web.session import form_sender

router = APIRouter(route_class=ConsoleRoute)


def reason_text(reason: str) -> str | None:
    """The form's `outcome|reason` value, as the reason alone."""
    return reason.split("|", 1)[1] if "|" in reason else None


def ticks_problem(outcome: str, media: list[str], media_shown: str,
                  no_file: str) -> str | None:
    """What to tell a reviewer whose ticks on a violation's files contradict each other."""
    if outcome != Outcome.VIOLATION.value:
        return None
    if no_file and media:
        return "Either tick the abusive files, or “No file is abusive”, not both."
    if not no_file and not media and media_shown:
        return ("Tick the files that are abusive, or “No file is abusive” if the text is "
                "the violation.")
    return None


def files_chosen(outcome: str, media: list[str], no_file: str) -> list[str] | None:
    """The files a violation banks: None for the case's own, [] for none."""
    if outcome != Outcome.VIOLATION.value:
        return None
    return [] if no_file else media or None


@router.post("/cases/{case_id}/decide")
def decide(request: Request, system: System, case_id: CaseId,
           outcome: Annotated[Text, Form()], csrf: Annotated[Text, Form()],
           notes: Annotated[Text, Form()] = "", category: Annotated[Text, Form()] = "",
           reason: Annotated[Text, Form()] = "", question: Annotated[Text, Form()] = "",
           media: Annotated[list[Text], Form()] = [],  # noqa: B006 (FastAPI copies it)
           media_shown: Annotated[Text, Form()] = "",
           no_file: Annotated[Text, Form()] = "") -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    back = f"/console/cases/{case_id}"
    problem = ticks_problem(outcome, media, media_shown, no_file)
    if problem:
        return back_to(back, error=problem)
    try:
        _, result = system.decide(
            case_id, reviewer, Outcome(outcome), notes,
            Category(category) if category else None, None, {},  # no idempotency key
            client_of(request), reason_text(reason), question.strip() or None,
            files_chosen(outcome, media, no_file))
    except (TakedownError, ValueError) as exc:
        message = exc.message if isinstance(exc, TakedownError) else "unknown outcome"
        return back_to(back, error=message)
    return back_to(back, done=result["status"] if Outcome(outcome).closes else outcome)


@router.post("/decide-many")
async def decide_many(request: Request, system: System) -> Response:
    form = await request.form()
    reviewer = await run_in_threadpool(form_sender, request, str(form.get("csrf", "")))
    if reviewer is None:
        return to_login()
    outcome, reason = str(form.get("outcome", "")), str(form.get("reason", ""))
    ids = [int(v) for v in map(str, form.getlist("case"))
           if v.isdigit() and 1 <= int(v) <= MAX_ID]  # others name no case
    if outcome not in {o.value for o in Outcome} or not ids:
        return RedirectResponse("/console/?done=choose+cases+and+an+outcome",
                                status_code=303)
    results = await run_in_threadpool(
        system.decide_many, ids, reviewer, Outcome(outcome), str(form.get("notes", "")),
        reason_text(reason), client_of(request),
        str(form.get("question", "")).strip() or None)
    ok = sum(1 for r in results if r["error"] is None)
    return RedirectResponse(f"/console/?done={ok}+of+{len(results)}+decided",
                            status_code=303)


@router.post("/cases/{case_id}/claim")
def claim(request: Request, system: System, case_id: CaseId,
          csrf: Annotated[Text, Form()]) -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    back = f"/console/cases/{case_id}"
    try:
        system.claim(case_id, reviewer, client_of(request))
    except TakedownError as exc:
        return back_to(back, error=exc.message)
    return back_to(back, done="claimed")


@router.post("/reporters/{reporter_key}/{act}")
def reporter(request: Request, system: System, reporter_key: str, act: str,
             csrf: Annotated[Text, Form()], back: int = Form(..., ge=1, le=MAX_ID),
             reason: Annotated[Text, Form()] = "") -> Response:
    """Mark a reporter abusive (act 'abusive') or lift the mark ('unmark')."""
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    target = f"/console/cases/{back}"
    if act not in ("abusive", "unmark"):
        return Response(f"no such action {act!r}", status_code=404)
    if act == "abusive" and not reason.strip():
        return back_to(target, error="say why the reporter is abusive")
    try:
        done = mark(system, reviewer, client_of(request), reporter_key, act, reason)
    except TakedownError as exc:
        return back_to(target, error=exc.message)
    return back_to(target, done=done)


def mark(system: Takedown, reviewer: Reviewer, source: str, reporter_key: str, act: str,
         reason: str) -> str:
    """Mark or unmark; the notice to show."""
    if act == "abusive":
        r = system.mark_reporter(reporter_key, reviewer, reason.strip()[:500], source)
        return (f"reporter marked abusive: {r['reports_changed']} report(s) set aside, "
                f"{r['cases_set_aside']} case(s) closed")
    r = system.unmark_reporter(reporter_key, reviewer, source)
    return f"mark lifted: {r['reports_changed']} report(s) count again"
