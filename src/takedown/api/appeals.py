"""Appeals (DSA Art. 20) and statements of reasons (Art. 17).

The uploader appeals through their platform (the platform's API key); a reporter from
their report's status page (the status token); reviewers decide, never the machine."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from takedown.api.deps import (
    CurrentReviewer,
    Platform,
    System,
    bearer,
    client_of,
    platform_key,
)
from takedown.api.errors import documented
from takedown.api.schemas import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    Id,
    Key,
    ReporterAppealIn,
    ReportIdText,
)
from takedown.errors import Unauthorized

router = APIRouter(prefix="/v1", tags=["appeals"])
AppealId = Annotated[Id, Path(description="The appeal id.")]


@router.post("/appeals", status_code=201, response_model=AppealOut,
             summary="An uploader appeals a decision",
             responses=documented(400, 401, 403, 404, 409, 422))
def lodge_appeal(body: AppealIn, system: System, platform: Platform) -> JSONResponse:
    """The uploader contests a removal or restriction, within six months (the policy's
    `dsa.appeal_window`). 201 with the appeal's id and status; 200 with the same appeal
    when one of this uploader on this case is still open. A person who did not take the
    decision reviews it. 409 `appeal_conflict` when there is no decision to appeal,
    `appeal_too_late` after the window; 403 `appeals_suspended` (DSA Art. 23)."""
    status, answer = system.lodge_appeal(platform, body.content_id, body.statement_puid,
                                         body.text, body.language)
    return JSONResponse(AppealOut(**answer).model_dump(mode="json"), status_code=status)


@router.get("/appeals/{appeal_id}", response_model=AppealOut, summary="An appeal's status",
            responses=documented(401, 404, 422))
def platform_appeal(appeal_id: AppealId, system: System, platform: Platform) -> AppealOut:
    """For the platform the appeal came through."""
    return AppealOut(**system.platform_appeal(appeal_id, platform))


@router.get("/appeals", summary="Appeals waiting for a person",
            responses=documented(401, 403, 422))
def appeals(system: System, reviewer: CurrentReviewer,
            status: Annotated[str | None, Query(
                pattern="^(open|reversal_proposed|upheld|reversed|refused)$",
                description="Default: those waiting (open, reversal_proposed).")] = None,
            ) -> list[dict[str, Any]]:
    """Reviewers: oldest first; only appeals of cases the reviewer may see. `may_decide`
    is false for the appeal's original deciders."""
    return system.appeals(reviewer, status)


@router.get("/appeals/{appeal_id}/review", summary="An appeal beside its case",
            responses=documented(401, 403, 404, 422))
def appeal_detail(request: Request, appeal_id: AppealId, system: System,
                  reviewer: CurrentReviewer) -> dict[str, Any]:
    """The appeal (its text, status, the decision under appeal and who took it) with
    `case`: the case as `GET /v1/cases/{id}` shows it. For reviewers who may see the
    case; the view is audited."""
    return system.appeal_detail(appeal_id, reviewer, client_of(request))


@router.post("/appeals/{appeal_id}/decision", summary="Decide an appeal",
             responses=documented(400, 401, 403, 404, 409, 422))
def decide_appeal(request: Request, appeal_id: AppealId, body: AppealDecisionIn,
                  system: System, reviewer: CurrentReviewer) -> dict[str, Any]:
    """`upheld`, `reversed` or `refused`, by someone who did not decide the case (409
    `appeal_conflict` otherwise); a child-safety specialist for child-safety cases.
    Reversing a removal restores every item it removed, disables its hashes in the
    `confirmed` bank, lifts its suspensions and withdraws or retracts its CyberTipline
    report where NCMEC still allows; reversing a child-safety removal takes two
    specialists (the first makes it `reversal_proposed`). Reversing a dismissal enforces
    as a violation would. Both sides are told."""
    return system.decide_appeal(appeal_id, reviewer, body.outcome, body.reason,
                                client_of(request))


@router.post("/reports/{report_id}/appeals", status_code=201, response_model=AppealOut,
             summary="A reporter appeals a dismissal",
             responses=documented(400, 401, 404, 409, 422))
def reporter_appeal(
    body: ReporterAppealIn, system: System,
    report_id: Annotated[ReportIdText, Path(description="The report id.")],
    x_status_token: Key | None = Header(None, description="The status token from the 202."),
) -> JSONResponse:
    """Within six months of a dismissal; the status page shows the appeal."""
    if not x_status_token:
        raise Unauthorized("send the status token in X-Status-Token", code="missing_token")
    status, answer = system.reporter_appeal(report_id, x_status_token, body.text)
    return JSONResponse(AppealOut(**answer).model_dump(mode="json"), status_code=status)


@router.get("/statements/{puid}", summary="A statement of reasons",
            responses=documented(401, 403, 404, 422))
def statement(puid: Annotated[Id, Path(description="The statement's puid.")], system: System,
              api_key: str | None = Security(platform_key),
              credentials: HTTPAuthorizationCredentials | None = Security(bearer),
              ) -> dict[str, Any]:
    """For the platform the statement concerns (its API key) and for reviewers who may
    see its case. With its Transparency Database delivery state."""
    if api_key:
        return system.statement(puid, platform=system.platform_for_key(api_key))
    reviewer = system.reviewer_for_token(credentials.credentials if credentials else None)
    return system.statement(puid, reviewer=reviewer)
