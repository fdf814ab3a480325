"""Moderator API: the queue, cases, decisions and action delivery state."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from takedown.api.deps import CurrentReviewer, System, client_of
from takedown.api.errors import documented
from takedown.api.schemas import (
    MAX_ID,
    MAX_OFFSET,
    ActionOut,
    BulkDecisionIn,
    BulkDecisionResult,
    CaseDetailOut,
    CaseSummaryOut,
    ClaimOut,
    DecisionIn,
    DecisionOut,
    Key,
    Language,
)
from takedown.domain.vocabulary import CaseStatus, Category

router = APIRouter(prefix="/v1", tags=["moderation"])
CaseId = Path(ge=1, le=MAX_ID, description="The case id.")


@router.get("/cases", response_model=list[CaseSummaryOut], summary="The review queue",
            responses=documented(401, 422))
def case_queue(
    system: System, reviewer: CurrentReviewer,
    status: list[CaseStatus] | None = Query(None, description="Only these statuses; default: "
                                                               "every open status."),
    category: Category | None = Query(None, description="Only this category."),
    limit: int = Query(100, ge=1, le=1000, description="At most this many."),
    mine: bool = Query(False, description="Only cases you have claimed."),
    language: Language | None = Query(None, description="Only cases with a report in this "
                                                        "language."),
    queue: Literal["general", "specialists"] | None = Query(
        None, description="`specialists`: child-safety and escalated cases; `general`: the "
                          "rest. Default: both (moderators: general)."),
) -> list[CaseSummaryOut]:
    """Cases by priority (highest first), then deadline (soonest first). Child-safety
    cases, and cases that escalated, are in the specialists' queue, which moderators do
    not see (403 `specialists_only` if asked for)."""
    rows = system.queue(reviewer, statuses=status, category=category, limit=limit, mine=mine,
                        language=language,
                        specialists=None if queue is None else queue == "specialists")
    return [CaseSummaryOut(**r) for r in rows]


@router.get("/cases/{case_id}", response_model=CaseDetailOut, summary="One case, in full",
            responses=documented(401, 403, 404, 422))
def case_detail(request: Request, system: System, reviewer: CurrentReviewer,
                case_id: int = CaseId) -> CaseDetailOut:
    """Reports, content and copies, history and actions: all that is needed to decide.
    Every view, and every refusal, is in the audit log."""
    return CaseDetailOut(**system.case_detail(case_id, reviewer, client_of(request)))


@router.post("/cases/{case_id}/decisions", response_model=DecisionOut,
             summary="Decide a case",
             responses=documented(400, 401, 403, 404, 409, 413, 422))
def decide(
    request: Request, body: DecisionIn, system: System, reviewer: CurrentReviewer,
    case_id: int = CaseId,
    idempotency_key: Key | None = Header(None, description="Makes a retried decision safe."),
) -> JSONResponse:
    """`violation` removes every item carrying a confirmed file (`media`, by default the
    case's files) or a copy of one, exact or perceptual, with every repost and quote;
    banks those files so that they are blocked on upload; and acts on their uploaders as
    the policy says. Anything else the case had restricted is restored. A child-safety
    `no_violation` is only proposed until a second child-safety
    specialist confirms it; the content stays restricted until then."""
    status, payload = system.decide(case_id, reviewer, body.outcome, body.notes, body.category,
                                    idempotency_key, body.model_dump(mode="json"),
                                    client_of(request), body.reason, body.question, body.media)
    return JSONResponse(payload, status_code=status)


@router.post("/cases/decisions", response_model=list[BulkDecisionResult],
             summary="Decide many cases alike (floods)",
             responses=documented(400, 401, 413, 422))
def decide_many(request: Request, body: BulkDecisionIn, system: System,
                reviewer: CurrentReviewer) -> list[BulkDecisionResult]:
    """Apply one decision to many cases, each under the same rules as one by one (a
    child-safety dismissal is only proposed); each case's result or error is listed."""
    rows = system.decide_many(body.case_ids, reviewer, body.outcome, body.notes,
                              body.reason, client_of(request), body.question)
    return [BulkDecisionResult(**r) for r in rows]


@router.post("/cases/{case_id}/claim", response_model=ClaimOut,
             summary="Work on a case (others see it taken)",
             responses=documented(401, 403, 404, 409, 422))
def claim_case(request: Request, system: System, reviewer: CurrentReviewer,
               case_id: int = CaseId) -> ClaimOut:
    """Take the case for the policy's claim time (or renew your claim), so that two
    reviewers do not work on it at once. 409 `claimed` while someone else holds it; 403
    `specialists_queue` for a moderator on an escalated case."""
    return ClaimOut(**system.claim(case_id, reviewer, client_of(request)))


@router.get("/actions", response_model=list[ActionOut],
            summary="Platform actions and their delivery state",
            responses=documented(401, 404, 422))
def list_actions(
    system: System, reviewer: CurrentReviewer,
    case_id: int | None = Query(None, ge=1, le=MAX_ID, description="Only this case's actions."),
    status: Literal["pending", "delivered", "failing"] | None = Query(
        None, description="Only actions in this delivery state."),
    limit: int = Query(100, ge=1, le=1000, description="Page size."),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Rows to skip."),
) -> list[ActionOut]:
    """Each action, its attempts and its last error."""
    rows = system.actions(case_id=case_id, status=status, limit=limit, offset=offset,
                          reviewer=reviewer)
    return [ActionOut(**r) for r in rows]
