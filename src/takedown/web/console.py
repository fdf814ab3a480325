"""Console routes. Sessions are server-side (a random cookie token, its hash stored);
every form carries the session's CSRF token; sign-in carries a double-submit token.
Child-safety cases, their media and reporters are for specialists, liaisons and
admins: anyone else gets a 403 page, and the attempt is in the audit log."""

from __future__ import annotations

import hmac
import secrets
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from takedown.api.deps import client_of
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import CaseStatus, Category, Outcome, Role
from takedown.errors import Forbidden, NotFound, TakedownError, Unauthorized
from takedown.media.decode import MediaRejected
from takedown.media.thumbnails import thumbnail
from takedown.system import Takedown

SESSION_COOKIE = "td_session"
LOGIN_COOKIE = "td_login_csrf"


def time_left(seconds: int | None) -> str:
    if seconds is None:
        return "no deadline"
    minutes = abs(seconds) // 60
    text = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"{text} left" if seconds >= 0 else f"overdue by {text}"


def back_to(path: str, **query: str) -> RedirectResponse:
    """Back to a page with a notice (`done`) or an error, safely encoded."""
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


def console_router(system: Takedown) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    folder = resources.files("takedown.web").joinpath("templates")
    templates = Jinja2Templates(directory=str(folder))
    templates.env.filters["time_left"] = time_left

    def who(request: Request) -> tuple[Reviewer, str] | None:
        try:
            return system.session_reviewer(request.cookies.get(SESSION_COOKIE))
        except Unauthorized:
            return None

    def page(request: Request, name: str, reviewer: Reviewer | None, csrf: str | None,
             http_status: int = 200, **context: Any) -> HTMLResponse:
        views = system.media_views_today(reviewer) if reviewer else 0
        return templates.TemplateResponse(request, name, {
            "reviewer": reviewer, "csrf": csrf, "media_views_today": views, **context},
            status_code=http_status)

    def check_csrf(expected: str, given: str) -> None:
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise Forbidden("the form's CSRF token does not match; reload the page",
                            code="csrf")

    def form_sender(request: Request, csrf: str) -> Reviewer | None:
        """Who sent this form (None: not signed in); 403 without the session's token."""
        session = who(request)
        if session is None:
            return None
        check_csrf(session[1], csrf)
        return session[0]

    def to_login() -> RedirectResponse:
        return RedirectResponse("/console/login", status_code=303)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, error: str | None = None) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", None, token, error=error)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @router.post("/login")
    def login(request: Request, name: str = Form(...), password: str = Form(...),
              csrf: str = Form(...)) -> Response:
        check_csrf(request.cookies.get(LOGIN_COOKIE, ""), csrf)
        try:
            _, token, _ = system.sign_in(name, password, client_of(request))
        except Unauthorized:
            return RedirectResponse("/console/login?error=1", status_code=303)
        response = RedirectResponse("/console/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @router.post("/logout")
    def logout(request: Request, csrf: str = Form(...)) -> Response:
        session = who(request)
        if session is not None:
            check_csrf(session[1], csrf)
            system.sign_out(request.cookies.get(SESSION_COOKIE), session[0], client_of(request))
        response = to_login()
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/", response_class=HTMLResponse)
    def queue(request: Request, category: str | None = None, status: str | None = None,
              mine: bool = False, language: str | None = None, done: str | None = None,
              queue: str | None = None) -> Response:
        session = who(request)
        if session is None:
            return to_login()
        reviewer, csrf = session
        statuses = [CaseStatus(status)] if status in {s.value for s in CaseStatus} else None
        chosen = Category(category) if category in {c.value for c in Category} else None
        queue = queue if queue in ("general", "specialists") else ""
        if reviewer.role is Role.MODERATOR:
            queue = ""  # moderators have the general queue only
        cases = system.queue(reviewer, statuses=statuses, category=chosen, limit=200, mine=mine,
                             language=language or None,
                             specialists={"": None, "general": False}.get(queue, True))
        counts = system.media_views_by_reviewer() if reviewer.role is Role.ADMIN else {}
        return page(request, "queue.html", reviewer, csrf, cases=cases,
                    categories=[c.value for c in Category],
                    statuses=[s.value for s in CaseStatus], category=category or "",
                    status=status or "", mine=mine, language=language or "", done=done,
                    queue=queue,
                    reasons=system.policy.reasons, view_counts=counts)

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    def case(request: Request, case_id: int, done: str | None = None,
             error: str | None = None) -> Response:
        session = who(request)
        if session is None:
            return to_login()
        reviewer, csrf = session
        try:
            detail = system.case_detail(case_id, reviewer, client_of(request))
        except (Forbidden, NotFound) as exc:
            return page(request, "refused.html", reviewer, csrf, http_status=exc.status,
                        message=exc.message)
        proposer = next((e["actor"] for e in reversed(detail["events"])
                         if e["type"] == "dismissal_proposed"), None)
        return page(request, "case.html", reviewer, csrf, case=detail, done=done,
                    error=error, proposer=proposer, categories=[c.value for c in Category],
                    reasons=system.policy.reasons,
                    matches=[e for e in detail["events"] if e["type"] == "hash_matched"])

    @router.post("/cases/{case_id}/decide")
    def decide(request: Request, case_id: int, outcome: str = Form(...),
               csrf: str = Form(...), notes: str = Form(""), category: str = Form(""),
               reason: str = Form(""), question: str = Form(""),
               media: list[str] = Form([]), media_shown: str = Form(""),
               no_file: str = Form("")) -> Response:
        reviewer = form_sender(request, csrf)
        if reviewer is None:
            return to_login()
        back = f"/console/cases/{case_id}"
        files: list[str] | None = [] if no_file else media or None
        if outcome != Outcome.VIOLATION.value:
            files = None
        elif no_file and media:
            return back_to(back, error="Either tick the abusive files, or “No file is "
                                       "abusive”, not both.")
        elif files is None and media_shown:
            return back_to(back, error="Tick the files that are abusive, or “No file is "
                                       "abusive” if the text is the violation.")
        try:
            _, result = system.decide(
                case_id, reviewer, Outcome(outcome), notes,
                Category(category) if category else None, None, {},  # no idempotency key
                client_of(request), reason.split("|", 1)[1] if "|" in reason else None,
                question.strip() or None, files)
        except (TakedownError, ValueError) as exc:
            message = exc.message if isinstance(exc, TakedownError) else "unknown outcome"
            return back_to(back, error=message)
        done = result["status"] if Outcome(outcome).closes else outcome
        return back_to(back, done=done)

    @router.post("/decide-many")
    async def decide_many(request: Request) -> Response:
        form = await request.form()
        reviewer = form_sender(request, str(form.get("csrf", "")))
        if reviewer is None:
            return to_login()
        outcome, reason = str(form.get("outcome", "")), str(form.get("reason", ""))
        ids = [int(str(v)) for v in form.getlist("case") if str(v).isdigit()]
        if outcome not in {o.value for o in Outcome} or not ids:
            return RedirectResponse("/console/?done=choose+cases+and+an+outcome",
                                    status_code=303)
        results = await run_in_threadpool(
            system.decide_many, ids, reviewer, Outcome(outcome),
            str(form.get("notes", "")), reason.split("|", 1)[1] if "|" in reason else None,
            client_of(request), str(form.get("question", "")).strip() or None)
        ok = sum(1 for r in results if r["error"] is None)
        return RedirectResponse(f"/console/?done={ok}+of+{len(results)}+decided",
                                status_code=303)

    @router.post("/cases/{case_id}/claim")
    def claim(request: Request, case_id: int, csrf: str = Form(...)) -> Response:
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
    def reporter(request: Request, reporter_key: str, act: str, csrf: str = Form(...),
                 back: int = Form(...), reason: str = Form("")) -> Response:
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
            if act == "abusive":
                r = system.mark_reporter(reporter_key, reviewer, reason.strip()[:500],
                                         client_of(request))
                done = (f"reporter marked abusive: {r['reports_changed']} report(s) set aside, "
                        f"{r['cases_set_aside']} case(s) closed")
            else:
                r = system.unmark_reporter(reporter_key, reviewer, client_of(request))
                done = f"mark lifted: {r['reports_changed']} report(s) count again"
        except TakedownError as exc:
            return back_to(target, error=exc.message)
        return back_to(target, done=done)

    @router.get("/cases/{case_id}/media/{sha256}")
    def media(request: Request, case_id: int, sha256: str) -> Response:
        session = who(request)
        if session is None:
            return Response(status_code=401)
        try:
            data, mime = system.case_media(case_id, sha256, session[0], client_of(request))
        except (Forbidden, NotFound) as exc:
            return Response(exc.message, status_code=exc.status)
        if (mime or "").startswith("video/"):
            return Response(data, media_type=mime)
        try:
            return Response(thumbnail(data), media_type="image/jpeg",
                            headers={"Cache-Control": "no-store"})
        except MediaRejected as exc:
            return Response(str(exc), status_code=422)

    return router
