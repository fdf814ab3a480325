"""The law's side of a case: CyberTipline reports (child-safety specialists and admins),
the evidence vault (liaisons and admins), and the account details a platform sends
when asked to preserve an account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from takedown.api.deps import CurrentReviewer, Platform, System, client_of
from takedown.api.errors import documented
from takedown.api.schemas import (
    AccountIn,
    HoldIn,
    Id,
    RetractIn,
    RowId,
    Text,
    TiplineEditIn,
)
from takedown.service.legal import discard_export

router = APIRouter(prefix="/v1", tags=["legal"])
CaseId = Annotated[RowId, Path(description="The case id.")]
Reason = Annotated[Text, Query(max_length=500, description="Why you open the evidence: "
                                                          "goes in the audit log.")]


@router.get("/cybertipline", summary="CyberTipline reports waiting for a person",
            responses=documented(401, 403))
def tipline_queue(request: Request, system: System,
                  reviewer: CurrentReviewer) -> list[dict[str, Any]]:
    """Drafts, stopped and sending reports, oldest decision first, each with its deadline
    (`due_at`, `overdue`). Child-safety specialists and admins."""
    return system.tipline_queue(reviewer, client_of(request))


@router.get("/cases/{case_id}/cybertipline", summary="A case's CyberTipline report",
            responses={**documented(401, 403, 404, 422),
                       200: {"content": {"application/json": {},
                                         "application/xml": {}}}})
def tipline_report(request: Request, system: System, reviewer: CurrentReviewer,
                   case_id: CaseId) -> Any:
    """Its stage, NCMEC report id, files and file ids, what waits and why; with
    `Accept: application/xml`, the report XML that will be (or was) sent."""
    report, xml = system.tipline_report(case_id, reviewer, client_of(request))
    if "application/xml" in request.headers.get("accept", ""):
        return Response(xml, media_type="application/xml")
    return report


@router.patch("/cases/{case_id}/cybertipline", summary="Edit a CyberTipline draft",
              responses=documented(400, 401, 403, 404, 409, 413, 422))
def tipline_edit(request: Request, body: TiplineEditIn, system: System,
                 reviewer: CurrentReviewer, case_id: CaseId) -> dict[str, Any]:
    """The incident type, annotations, free-text summary and escalation reason."""
    changes = body.model_dump(exclude_unset=True)
    return system.tipline_edit(case_id, reviewer, changes, client_of(request))


@router.post("/cases/{case_id}/cybertipline/submit", summary="Submit to NCMEC",
             responses=documented(401, 403, 404, 409, 422))
def tipline_submit(request: Request, system: System, reviewer: CurrentReviewer,
                   case_id: CaseId) -> dict[str, Any]:
    """Freezes the XML (checked against NCMEC's schema first: 422 naming what is wrong)
    and hands it to the legal worker, which sends it step by step and resumes after any
    failure. A stopped report is submitted again the same way."""
    return system.tipline_submit(case_id, reviewer, client_of(request))


@router.post("/cases/{case_id}/cybertipline/retract", summary="Retract an unfinished report",
             responses=documented(400, 401, 403, 404, 409, 413, 422))
def tipline_retract(request: Request, body: RetractIn, system: System,
                    reviewer: CurrentReviewer, case_id: CaseId) -> dict[str, Any]:
    """Only a report opened at NCMEC and not yet finished; a finished one must be
    corrected with NCMEC by other means."""
    return system.tipline_retract(case_id, reviewer, body.reason, client_of(request))


@router.get("/cases/{case_id}/evidence", summary="A case's preserved evidence",
            responses=documented(401, 403, 404, 422))
def evidence(request: Request, system: System, reviewer: CurrentReviewer, case_id: CaseId,
             reason: Reason = "") -> dict[str, Any]:
    """What is kept (name, kind, SHA-256, MD5, size), until when, and any legal hold.
    Liaisons and admins, with `?reason=`."""
    return system.evidence(case_id, reviewer, reason, client_of(request))


@router.get("/cases/{case_id}/evidence/items/{item_id}", summary="Open one evidence item",
            responses=documented(401, 403, 404, 409, 422))
def evidence_item(request: Request, system: System, reviewer: CurrentReviewer,
                  case_id: CaseId,
                  item_id: Annotated[RowId, Path(description="The item's id, from the list.")],
                  reason: Reason = "") -> Response:
    """The item's bytes, checked against the digest taken when it was sealed."""
    item, data = system.evidence_item(case_id, item_id, reviewer, reason, client_of(request))
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{item.name.rsplit("/", 1)[-1]}"',
        "X-Content-SHA256": item.sha256})


@router.get("/cases/{case_id}/evidence/export", summary="The signed law-enforcement bundle",
            responses={**documented(401, 403, 404, 422),
                       200: {"content": {"application/zip": {}}}})
def evidence_export(request: Request, system: System, reviewer: CurrentReviewer,
                    case_id: CaseId, reason: Reason = "") -> FileResponse:
    """A zip of the media, manifest.json (SHA-256 and MD5 of each file) signed with
    Ed25519, the case summary, the CyberTipline XML, the event log and the chain of
    custody (`takedown evidence verify` checks it)."""
    out = system.export_for_download(case_id, reviewer, reason, client_of(request))
    return FileResponse(out, media_type="application/zip", filename=out.name,
                        background=BackgroundTask(discard_export, out))


@router.put("/cases/{case_id}/evidence/hold", summary="Set a legal hold",
            responses=documented(400, 401, 403, 404, 413, 422))
def set_hold(request: Request, body: HoldIn, system: System, reviewer: CurrentReviewer,
             case_id: CaseId) -> dict[str, Any]:
    """The evidence is kept past its retention until the hold is lifted."""
    return system.set_hold(case_id, reviewer, body.agency, body.legal_process,
                           client_of(request))


@router.delete("/cases/{case_id}/evidence/hold", summary="Lift the legal hold",
               responses=documented(401, 403, 404, 409, 422))
def lift_hold(request: Request, system: System, reviewer: CurrentReviewer,
              case_id: CaseId) -> dict[str, Any]:
    """The evidence is then kept until its retention ends (and purged after)."""
    return system.lift_hold(case_id, reviewer, client_of(request))


@router.put("/accounts/{author_id}", summary="Details of an account asked to be preserved",
            tags=["platform"], responses=documented(400, 401, 404, 413, 422))
def account(body: AccountIn, system: System, platform: Platform,
            author_id: Annotated[Id, Path(description="The account id, as in content.")],
            ) -> dict[str, Any]:
    """The platform's answer to a `preserve_account` action: what it keeps about the
    account. It goes into the CyberTipline report and the evidence vault, never to
    anyone else. Sending it again replaces it. 404 `account_not_requested` for an
    account takedown did not ask about: it keeps no personal data it did not need."""
    return system.record_account(platform, author_id, body.model_dump(mode="json"))
