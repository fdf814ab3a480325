"""Public report API: no account needed (the EU DSA allows anonymous notices)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Security
from fastapi.responses import JSONResponse

from takedown.api.deps import System, client_of, platform_key
from takedown.api.errors import documented
from takedown.api.schemas import (
    InformationIn,
    Key,
    ReportIdText,
    ReportIn,
    ReportReceiptOut,
    ReportStatusOut,
)
from takedown.errors import Unauthorized

router = APIRouter(prefix="/v1/reports", tags=["reports"])
ReportId = Annotated[ReportIdText, Path(description="The report id from the 202.")]


@router.post("", status_code=202, response_model=ReportReceiptOut,
             summary="Report content",
             responses=documented(400, 401, 404, 409, 413, 422, 429))
def submit_report(
    request: Request, body: ReportIn, system: System,
    idempotency_key: Key | None = Header(
        None, description="Send the same key when retrying: the report is stored once and "
                          "the same answer comes back."),
    api_key: str | None = Security(platform_key),
) -> JSONResponse:
    """Store a report and answer 202 only once it is committed. Reports about the same
    content, a repost of it or a copy of it join one case. Unknown items are listed in
    `references`; the report is kept if any item (or any URL) is usable, and refused
    with 404 `unknown_content` only when none is."""
    reporter_platform = None
    if body.reporter_account is not None and api_key is None:  # only a platform can say
        raise Unauthorized("`reporter_account` is accepted only with the platform's API "
                           "key (X-Api-Key): anyone could claim an account otherwise")
    if api_key is not None:  # a platform's report: its servers are not one reporter
        reporter_platform = system.platform_for_key(api_key).id
    system.report_limiter.admit(None if api_key else client_of(request),
                                [*body.content_ids, *body.urls])
    sub = body.submission(reporter_platform)
    status, payload = system.submit_report(sub, idempotency_key, body.model_dump(mode="json"))
    return JSONResponse(payload, status_code=status)


@router.get("/{report_id}/status", response_model=ReportStatusOut,
            summary="A report's status, for the reporter",
            responses=documented(401, 404, 422))
def report_status(
    system: System,
    report_id: ReportId,
    x_status_token: Key | None = Header(None, description="The status token from the 202."),
    token: Key | None = Query(None, description="The status token, for links in e-mails."),
) -> ReportStatusOut:
    """Where the report stands, in plain words; with `information_requested`, the
    reviewer's question."""
    return ReportStatusOut(**system.report_status(report_id, _secret(x_status_token, token)))


@router.post("/{report_id}/information", status_code=202, response_model=ReportStatusOut,
             summary="Answer a reviewer's question", responses=documented(400, 401, 404, 409,
                                                                          413, 422))
def provide_information(
    body: InformationIn, system: System,
    report_id: ReportId,
    x_status_token: Key | None = Header(None, description="The status token from the 202."),
    token: Key | None = Query(None, description="The status token, for links in e-mails."),
    idempotency_key: Key | None = Header(None, description="Makes a retried answer safe."),
) -> JSONResponse:
    """Add to a report while its case is open: the answer joins the case for the
    reviewers, and case numbers raise its priority. 409 `case_closed` once decided."""
    status, payload = system.provide_information(
        report_id, _secret(x_status_token, token), body.text, body.case_numbers,
        idempotency_key, {"report_id": report_id, **body.model_dump(mode="json")})
    # Stored (for replays) with str() datetimes, "2020-01-20 10:00:00+00:00": answered
    # as the document says, ISO 8601's "2020-01-20T10:00:00+00:00".
    answer = ReportStatusOut.model_validate(payload).model_dump(mode="json")
    return JSONResponse(answer, status_code=status)


def _secret(header: str | None, query: str | None) -> str:
    secret = header or query
    if not secret:
        raise Unauthorized("send the status token in X-Status-Token", code="missing_token")
    return secret
