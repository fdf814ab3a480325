"""The console's legal pages: the CyberTipline queue and a case's report (child-safety
specialists and admins: check, edit, submit, retract), and a case's evidence (liaisons
and admins: opened only with a reason, legal holds, the law-enforcement export). Who
may is the service's to say: anyone else gets the 403 page, and the service has put
the attempt in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask

from takedown.api.deps import System, client_of
from takedown.api.schemas import Text
from takedown.clock import utcnow
from takedown.domain.case import Reviewer
from takedown.errors import Forbidden, Invalid, NotFound, TakedownError
from takedown.legal.tipline import EDITABLE, Stage
from takedown.service.legal import discard_export
from takedown.web.pages import CaseId, ConsoleRoute, back_to, render, time_left, to_login
from takedown.web.session import form_sender, who

router = APIRouter(route_class=ConsoleRoute)

# With an NCMEC report id (legal.tipline's retract()); stages are str enums.
RETRACTABLE = (Stage.SENDING, Stage.STOPPED)
# The lengths the API allows for the same fields (api.schemas TiplineEditIn, RetractIn,
# HoldIn; api.legal's Reason): longer is a 422 page.
Reason = Annotated[Text, Query(max_length=500)]


def deadline(report: dict[str, Any]) -> str:
    """How the report stands against its deadline, in words (not only a colour)."""
    if report["stage"] not in (Stage.DRAFT, Stage.STOPPED):
        return ""
    return time_left(int((report["due_at"] - utcnow()).total_seconds()))


def refused(request: Request, reviewer: Reviewer, csrf: str,
            exc: TakedownError) -> HTMLResponse:
    return render(request, "refused.html", reviewer, csrf, exc.status, message=exc.message)


# --- CyberTipline --------------------------------------------------------------------


@router.get("/cybertipline", response_class=HTMLResponse)
def tipline_queue(request: Request, system: System) -> Response:
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    try:
        reports = system.tipline_queue(reviewer, client_of(request))
    except Forbidden as exc:
        return refused(request, reviewer, csrf, exc)
    for r in reports:
        r["deadline"] = deadline(r)
    notices = list(dict.fromkeys(r["notice"] for r in reports if r["notice"]))
    return render(request, "cybertipline_queue.html", reviewer, csrf, reports=reports,
                  notices=notices)


@router.get("/cases/{case_id}/cybertipline", response_class=HTMLResponse)
def tipline_report(request: Request, system: System, case_id: CaseId,
                   done: str | None = None, error: str | None = None) -> Response:
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    try:
        report, xml = system.tipline_report(case_id, reviewer, client_of(request))
    except (Forbidden, NotFound) as exc:
        return refused(request, reviewer, csrf, exc)
    report["deadline"] = deadline(report)
    return render(request, "cybertipline.html", reviewer, csrf, report=report,
                  xml=xml.decode("utf-8", "replace"), done=done, error=error,
                  editable=report["stage"] in EDITABLE,
                  retractable=bool(report["ncmec_report_id"])
                  and report["stage"] in RETRACTABLE)


@router.post("/cases/{case_id}/cybertipline/edit")
def tipline_edit(request: Request, system: System, case_id: CaseId,
                 csrf: Annotated[Text, Form()],
                 incident_type: Annotated[Text, Form(max_length=100)],
                 summary: Annotated[Text, Form(max_length=10_000)] = "",
                 escalate_reason: Annotated[Text, Form(max_length=2000)] = "",
                 annotations: Annotated[list[Text], Form(max_length=10)] = [],  # noqa: B006
                 ) -> Response:
    """The whole form at once: boxes left unticked are annotations taken off."""
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    changes = {"incident_type": incident_type, "annotations": annotations,
               "summary": summary.strip(), "escalate_reason": escalate_reason.strip()}
    return tipline_step(case_id, lambda: system.tipline_edit(
        case_id, reviewer, changes, client_of(request)), "changes saved")


@router.post("/cases/{case_id}/cybertipline/submit")
def tipline_submit(request: Request, system: System, case_id: CaseId,
                   csrf: Annotated[Text, Form()]) -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    return tipline_step(case_id, lambda: system.tipline_submit(
        case_id, reviewer, client_of(request)), "submitted: the report is being sent to NCMEC")


@router.post("/cases/{case_id}/cybertipline/retract")
def tipline_retract(request: Request, system: System, case_id: CaseId,
                    csrf: Annotated[Text, Form()],
                    reason: Annotated[Text, Form(max_length=2000)] = "") -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    if not reason.strip():
        return back_to(f"/console/cases/{case_id}/cybertipline",
                       error="say why the report is retracted")
    return tipline_step(case_id, lambda: system.tipline_retract(
        case_id, reviewer, reason.strip(), client_of(request)),
        "retraction queued: NCMEC is told next")


def tipline_step(case_id: int, step: Callable[[], object], done: str) -> Response:
    """Run one change to the report; back to it with a notice, or with the error."""
    back = f"/console/cases/{case_id}/cybertipline"
    try:
        step()
    except TakedownError as exc:
        return back_to(back, error=exc.message)
    return back_to(back, done=done)


# --- the evidence vault --------------------------------------------------------------


@router.get("/cases/{case_id}/evidence", response_class=HTMLResponse)
def evidence(request: Request, system: System, case_id: CaseId, reason: Reason = "",
             done: str | None = None, error: str | None = None) -> Response:
    """Asks the reason first: the service refuses to show anything without one (and
    says first whether this reviewer may at all)."""
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    summary: dict[str, Any] | None = None
    try:
        summary = system.evidence(case_id, reviewer, reason.strip(), client_of(request))
    except Invalid:
        pass  # no reason yet: the page asks for one
    except (Forbidden, NotFound) as exc:
        return refused(request, reviewer, csrf, exc)
    return render(request, "evidence.html", reviewer, csrf, case_id=case_id,
                  evidence=summary, reason=reason.strip() if summary else "", done=done,
                  error=error)


@router.post("/cases/{case_id}/evidence/hold")
def set_hold(request: Request, system: System, case_id: CaseId,
             csrf: Annotated[Text, Form()], reason: Annotated[Text, Form(max_length=500)],
             agency: Annotated[Text, Form(max_length=300)] = "",
             legal_process: Annotated[Text, Form(max_length=300)] = "") -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    back = f"/console/cases/{case_id}/evidence"
    if not agency.strip() or not legal_process.strip():
        return back_to(back, reason=reason, error="name the agency and the legal process")
    try:
        system.set_hold(case_id, reviewer, agency.strip(), legal_process.strip(),
                        client_of(request))
    except TakedownError as exc:
        return back_to(back, reason=reason, error=exc.message)
    return back_to(back, reason=reason, done="legal hold set")


@router.post("/cases/{case_id}/evidence/hold/lift")
def lift_hold(request: Request, system: System, case_id: CaseId,
              csrf: Annotated[Text, Form()],
              reason: Annotated[Text, Form(max_length=500)]) -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    back = f"/console/cases/{case_id}/evidence"
    try:
        system.lift_hold(case_id, reviewer, client_of(request))
    except TakedownError as exc:
        return back_to(back, reason=reason, error=exc.message)
    return back_to(back, reason=reason, done="legal hold lifted")


@router.post("/cases/{case_id}/evidence/export")
def export(request: Request, system: System, case_id: CaseId,
           csrf: Annotated[Text, Form()],
           reason: Annotated[Text, Form(max_length=500)] = "") -> Response:
    """The signed bundle as a download; built in a scratch folder removed once sent."""
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    try:
        out = system.export_for_download(case_id, reviewer, reason.strip(), client_of(request))
    except TakedownError as exc:
        return back_to(f"/console/cases/{case_id}/evidence", reason=reason,
                       error=exc.message)
    return FileResponse(out, media_type="application/zip", filename=out.name,
                        background=BackgroundTask(discard_export, out))
