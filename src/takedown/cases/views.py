"""Read models: what the moderator, platform and reporter APIs show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.access import digest
from takedown.cases.graph import ContentGraph, chunks
from takedown.clock import utcnow
from takedown.domain.vocabulary import CaseStatus
from takedown.errors import NotFound
from takedown.store.tables import (
    ActionRow,
    CaseEventRow,
    CaseRow,
    ContentMediaRow,
    ContentRow,
    MediaRow,
    PlatformRow,
    ReportRow,
)

CONTENT_LISTED = 1000

# What a reporter is told, per case status: plain and true, never a form letter.
REPORTER_MESSAGES = {
    "received": "Your report is stored and waiting for a human reviewer.",
    "restricted": "The content is hidden while a human reviewer looks at your report.",
    "awaiting_second_review": "A reviewer found no violation; a second, senior reviewer must "
                              "confirm that before anything is closed. The content stays hidden.",
    "action_taken": "The content and its copies were removed.",
    "no_violation": "Two reviewers found that the content does not break the rules or the law.",
}


def case_summary(row: CaseRow, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "id": row.id, "status": row.status, "category": row.category,
        "priority": row.priority, "deadline": row.deadline,
        "seconds_left": None if row.deadline is None
        else int((row.deadline - now).total_seconds()),
        "restricted": row.restricted, "escalations": row.escalations,
        "claimed_by": row.claimed_by if row.claimed_until and row.claimed_until > now else None,
        "claimed_until": row.claimed_until if row.claimed_until and row.claimed_until > now
        else None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def queue(session: Session, *, statuses: list[str], category: str | None,
          limit: int, claimed_by: str | None = None,
          language: str | None = None) -> list[dict[str, Any]]:
    query = (select(CaseRow).where(CaseRow.status.in_(statuses))
             .order_by(CaseRow.priority.desc(), CaseRow.deadline.asc(), CaseRow.id)
             .limit(limit))
    now = utcnow()
    if category:
        query = query.where(CaseRow.category == category)
    if claimed_by:
        query = query.where(CaseRow.claimed_by == claimed_by, CaseRow.claimed_until > now)
    if language:  # cases with a report in that language (its primary subtag)
        query = query.where(CaseRow.id.in_(select(ReportRow.case_id).where(
            func.lower(ReportRow.language).like(f"{language.lower()}%"))))
    return [case_summary(r, now) for r in session.scalars(query)]


def case_detail(session: Session, case_id: int) -> dict[str, Any]:
    row = session.get(CaseRow, case_id)
    if row is None:
        raise NotFound(f"no case {case_id}", code="unknown_case")
    graph = ContentGraph(session)
    subjects = graph.case_subjects(case_id)
    cluster = graph.rows(graph.cluster(subjects))
    platforms = {pid: name for pid, name in session.execute(
        select(PlatformRow.id, PlatformRow.name))}
    parents = {r.id: r.external_id for r in cluster}
    detail = case_summary(row)
    detail["reports"] = [_report(r) for r in session.scalars(
        select(ReportRow).where(ReportRow.case_id == case_id).order_by(ReportRow.created_at))]
    detail["content_total"] = len(cluster)
    detail["content"] = [_content(r, platforms, parents, r.id in subjects)
                         for r in sorted(cluster, key=lambda r: r.id)[:CONTENT_LISTED]]
    media_items: dict[int, int] = {}
    for batch in chunks([r.id for r in cluster]):
        for media_id in session.scalars(select(ContentMediaRow.media_id)
                                        .where(ContentMediaRow.content_id.in_(batch))):
            media_items[media_id] = media_items.get(media_id, 0) + 1
    detail["media"] = [{"sha256": m.sha256, "mime": m.mime, "item_count": media_items[m.id]}
                       for m in session.scalars(select(MediaRow).where(
                           MediaRow.id.in_(list(media_items))).order_by(MediaRow.id))]
    detail["events"] = [{"seq": e.seq, "type": e.type, "at": e.at, "actor": e.actor,
                         "data": e.data} for e in session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq))]
    detail["actions"] = [{"kind": k, "status": s, "count": n} for k, s, n in session.execute(
        select(ActionRow.kind, ActionRow.status, func.count()).where(ActionRow.case_id == case_id)
        .group_by(ActionRow.kind, ActionRow.status).order_by(ActionRow.kind, ActionRow.status))]
    return detail


def _report(r: ReportRow) -> dict[str, Any]:
    return {"id": r.id, "created_at": r.created_at, "category": r.category,
            "relation": r.relation, "depicted_minor": r.depicted_minor,
            "age_at_time": r.age_at_time, "age_now": r.age_now,
            "case_numbers": r.case_numbers, "text": r.text, "contact_email": r.contact_email,
            "language": r.language, "references": r.references}


def _content(r: ContentRow, platforms: dict[int, str], external: dict[int, str],
             subject: bool) -> dict[str, Any]:
    return {"content_id": r.external_id, "platform": platforms.get(r.platform_id),
            "author_id": r.author_id, "url": r.url, "parent_kind": r.parent_kind,
            "parent_id": external.get(r.parent_id) if r.parent_id else None,
            "views": r.views, "shares": r.shares, "moderation_state": r.moderation_state,
            "reported": subject}


def action_view(a: ActionRow) -> dict[str, Any]:
    return {"action_id": a.id, "case_id": a.case_id, "type": a.kind,
            "target": {"type": a.target_type, "id": a.target_id}, "status": a.status,
            "attempts": a.attempts, "last_error": a.last_error, "created_at": a.created_at,
            "next_attempt_at": a.next_attempt_at if a.status != "delivered" else None,
            "delivered_at": a.delivered_at}


def actions(session: Session, *, case_id: int | None, platform_id: int | None,
            status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    query = select(ActionRow).order_by(ActionRow.created_at, ActionRow.id)
    if case_id is not None:
        query = query.where(ActionRow.case_id == case_id)
    if platform_id is not None:
        query = query.where(ActionRow.platform_id == platform_id)
    if status:
        query = query.where(ActionRow.status == status)
    return [action_view(a) for a in session.scalars(query.limit(limit).offset(offset))]


def report_status(session: Session, report_id: str, token: str) -> dict[str, Any]:
    report = session.get(ReportRow, report_id)
    # The same answer for an unknown id and a wrong token: ids are not confirmed to guessers.
    if report is None or report.status_token_hash != digest(token):
        raise NotFound("no report with that id and status token", code="unknown_report")
    case = session.get(CaseRow, report.case_id)
    assert case is not None  # reports reference cases by foreign key
    status = _public_status(case)
    return {"report_id": report.id, "received_at": report.created_at, "status": status,
            "message": REPORTER_MESSAGES[status], "updated_at": case.updated_at}


def _public_status(case: CaseRow) -> str:
    status = CaseStatus(case.status)
    if status is CaseStatus.CLOSED_VIOLATION:
        return "action_taken"
    if status is CaseStatus.CLOSED_NO_VIOLATION:
        return "no_violation"
    if status is CaseStatus.AWAITING_SECOND_REVIEW:
        return "awaiting_second_review"
    return "restricted" if case.restricted else "received"

