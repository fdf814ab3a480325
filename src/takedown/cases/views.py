"""Read models: what the moderator, platform and reporter APIs show."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, not_, or_, select, tuple_
from sqlalchemy.orm import Session

from takedown.access import digest, report_for_token
from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import confirmed_removal, credible, suggested
from takedown.cases.graph import ContentGraph
from takedown.cases.intake import submission_from_json
from takedown.clock import utcnow
from takedown.domain.case import (
    CaseState,
    EventType,
    Reviewer,
    in_specialists_queue,
    may_view_category,
)
from takedown.domain.policy import Policy
from takedown.domain.takeitdown import TakeItDownRequest, assess
from takedown.domain.vocabulary import ActionKind, CaseStatus, Category, Relation
from takedown.errors import NotFound
from takedown.legal.takeitdown import accounting
from takedown.notify.i18n import gettext_for, negotiate
from takedown.notify.reporter import Tally, reporter_status, timeline
from takedown.store.batches import chunks
from takedown.store.tables import (
    ActionRow,
    AppealRow,
    CaseEventRow,
    CaseRow,
    ContentRow,
    MediaRow,
    PlatformRow,
    ReportContentRow,
    ReporterMarkRow,
    ReportInboxRow,
    ReportRow,
    TiplineReportRow,
)

CONTENT_LISTED = 1000


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
          limit: int, claimed_by: str | None = None, language: str | None = None,
          specialists: bool | None = None,
          specialist_categories: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """`specialists` True: only the specialists' queue; False: only the general one (see
    domain.case.in_specialists_queue, which this SQL mirrors)."""
    query = (select(CaseRow).where(CaseRow.status.in_(statuses))
             .order_by(CaseRow.priority.desc(), CaseRow.deadline.asc(), CaseRow.id)
             .limit(limit))
    now = utcnow()
    in_specialists = or_(CaseRow.escalations > 0,
                         CaseRow.category.in_(sorted(specialist_categories)))
    if specialists is not None:
        query = query.where(in_specialists if specialists else not_(in_specialists))
    if category:
        query = query.where(CaseRow.category == category)
    if claimed_by:
        query = query.where(CaseRow.claimed_by == claimed_by, CaseRow.claimed_until > now)
    if language:  # cases with a report in that language (its primary subtag)
        query = query.where(CaseRow.id.in_(select(ReportRow.case_id).where(
            func.lower(ReportRow.language).like(f"{language.lower()}%"))))
    return [case_summary(r, now) for r in session.scalars(query)]


def case_detail(session: Session, policy: Policy, case_id: int,
                state: CaseState) -> dict[str, Any]:
    """Everything about a case; `state` is its fold, which the caller has at hand."""
    row = session.get(CaseRow, case_id)
    if row is None:
        raise NotFound(f"no case {case_id}", code="unknown_case")
    graph = ContentGraph(session)
    subjects = graph.case_subjects(case_id)
    reached = graph.rows(graph.case_items(case_id))
    platforms = {pid: name for pid, name in session.execute(
        select(PlatformRow.id, PlatformRow.name))}
    parents = {r.id: r.external_id for r in reached}
    detail = case_summary(row)
    detail["specialists_queue"] = in_specialists_queue(state, policy)
    detail["information_requested"] = state.information_requested
    detail["question"] = state.question if state.information_requested else None
    detail["content_total"] = len(reached)
    detail["content"] = [_content(r, platforms, parents, r.id in subjects)
                         for r in sorted(reached, key=lambda r: r.id)[:CONTENT_LISTED]]
    detail["media"] = _media(session, graph, case_id, reached, state,
                             suggested(session, policy, case_id, state))
    detail["events"] = [{"seq": e.seq, "type": e.type, "at": e.at, "actor": e.actor,
                         "data": e.data} for e in session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq))]
    detail["reports"] = _reports(session, case_id, state, detail["events"])
    detail["actions"] = [{"kind": k, "status": s, "count": n} for k, s, n in session.execute(
        select(ActionRow.kind, ActionRow.status, func.count()).where(ActionRow.case_id == case_id)
        .group_by(ActionRow.kind, ActionRow.status).order_by(ActionRow.kind, ActionRow.status))]
    return detail


def _media(session: Session, graph: ContentGraph, case_id: int, reached: list[ContentRow],
           state: CaseState, default: set[int]) -> list[dict[str, Any]]:
    """Every file of every item the case reaches, how it joined the case (None: it
    did not, e.g. an album's other picture), and whether a violation confirmed it."""
    counts: dict[int, int] = {}
    for files in graph.files(r.id for r in reached).values():
        for media_id in files:
            counts[media_id] = counts.get(media_id, 0) + 1
    linked = graph.case_media(case_id)
    rows = {m.id: m for batch in chunks(counts) for m in session.scalars(
        select(MediaRow).where(MediaRow.id.in_(batch)))}
    confirmed = set(state.confirmed_media or ())
    sha = {m.id: m.sha256 for m in rows.values()}
    listed = []
    for media in sorted(rows.values(), key=lambda m: m.id):
        link = linked.get(media.id)
        listed.append({
            "sha256": media.sha256, "mime": media.mime, "item_count": counts[media.id],
            "via": link.via if link else None,
            "copy_of": sha.get(link.copy_of) if link and link.copy_of else None,
            "distance": link.distance if link else None,
            "bank": link.bank if link else None, "confirmed": media.sha256 in confirmed,
            "suggested": media.id in default})
    return listed


def _reports(session: Session, case_id: int, state: CaseState,
             events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each report, whether it was set aside, the reporter's answers to questions, and
    the reporter's record (to spot floods)."""
    rows = list(session.scalars(select(ReportRow).where(ReportRow.case_id == case_id)
                                .order_by(ReportRow.created_at)))
    counts: dict[str, int] = {}
    marked: set[str] = set()
    for keys in chunks(sorted({r.reporter_key for r in rows})):
        counts.update((key, int(n)) for key, n in session.execute(
            select(ReportRow.reporter_key, func.count())
            .where(ReportRow.reporter_key.in_(keys)).group_by(ReportRow.reporter_key)))
        marked.update(session.scalars(select(ReporterMarkRow.reporter_key).where(
            ReporterMarkRow.reporter_key.in_(keys))))
    answers: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["type"] == EventType.INFORMATION_PROVIDED.value:
            answers.setdefault(e["data"]["report_id"], []).append(
                {"at": e["at"], "text": e["data"].get("text", ""),
                 "case_numbers": e["data"].get("case_numbers", [])})
    return [{"id": r.id, "created_at": r.created_at, "category": r.category,
             "relation": r.relation, "depicted_minor": r.depicted_minor,
             "age_at_time": r.age_at_time, "age_now": r.age_now,
             "case_numbers": r.case_numbers, "text": r.text, "contact_email": r.contact_email,
             "language": r.language, "references": r.references,
             "invalidated": state.invalid_reports.get(r.id), "answers": answers.get(r.id, []),
             "reporter": {"key": r.reporter_key, "abusive": r.reporter_key in marked,
                          "reports": counts.get(r.reporter_key, 0)}} for r in rows]


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


def categories_hidden_from(policy: Policy, reviewer: Reviewer) -> list[str]:
    """The case categories whose cases (and all that hangs on them) this reviewer may
    not see."""
    return [c.value for c in Category
            if not may_view_category(c, policy, reviewer)]


def actions(session: Session, *, case_id: int | None, platform_id: int | None,
            status: str | None, limit: int, offset: int,
            hidden_categories: Sequence[str] = ()) -> list[dict[str, Any]]:
    query = select(ActionRow).order_by(ActionRow.created_at, ActionRow.id)
    if hidden_categories:
        hidden = select(CaseRow.id).where(CaseRow.category.in_(hidden_categories))
        query = query.where(or_(ActionRow.case_id.is_(None), ActionRow.case_id.not_in(hidden)))
    if case_id is not None:
        query = query.where(ActionRow.case_id == case_id)
    if platform_id is not None:
        query = query.where(ActionRow.platform_id == platform_id)
    if status:
        query = query.where(ActionRow.status == status)
    return [action_view(a) for a in session.scalars(query.limit(limit).offset(offset))]


def tally(session: Session, policy: Policy, case_id: int, state: CaseState,
          report_id: str) -> Tally | None:
    """How far the platform has carried out the case's action: after a violation, the
    removal of every item the decision reaches; while restricted, the restriction of
    what the case hides. Whether this report's own items are among them."""
    own = set(session.scalars(select(ReportContentRow.content_id).where(
        ReportContentRow.report_id == report_id)))
    if state.status is CaseStatus.CLOSED_VIOLATION:
        removal = confirmed_removal(session, case_id, state)
        return Tally(len(removal.items), _acknowledged(session, removal.items, ActionKind.REMOVE),
                     blocked=bool(removal.media), reported_kept=bool(own - removal.items))
    if state.restricted and not state.status.is_closed:
        items = ContentGraph(session).reach_of(*credible(session, policy, case_id, state))
        return Tally(len(items), _acknowledged(session, items, ActionKind.RESTRICT),
                     reported_kept=bool(own - items))
    return None


def _acknowledged(session: Session, items: set[int], kind: ActionKind) -> int:
    """Items whose latest action is a `kind` (or a removal, which hides them as well)
    that the platform has acknowledged: a restriction later lifted does not count."""
    wanted = {kind.value, ActionKind.REMOVE.value}
    content = [ActionKind.RESTRICT.value, ActionKind.REMOVE.value, ActionKind.RESTORE.value]
    latest: dict[tuple[int, str], tuple[str, str]] = {}
    for batch in chunks(items):
        targets = select(ContentRow.platform_id, ContentRow.external_id).where(
            ContentRow.id.in_(batch))
        for platform_id, target, action, status in session.execute(
                select(ActionRow.platform_id, ActionRow.target_id, ActionRow.kind,
                       ActionRow.status)
                .where(ActionRow.target_type == "content", ActionRow.kind.in_(content),
                       tuple_(ActionRow.platform_id, ActionRow.target_id).in_(targets))
                .order_by(ActionRow.created_at)):
            latest[(platform_id, target)] = (action, status)
    return sum(1 for action, status in latest.values()
               if action in wanted and status == "delivered")


def report_status(session: Session, policy: Policy, report_id: str, token: str,
                  language: str | None = None) -> dict[str, Any]:
    """A report as its reporter sees it, in `language` (else the report's own)."""
    received = session.get(ReportInboxRow, report_id)
    if received is not None and received.status != "delivered":
        return _received(received, token, language)
    report = report_for_token(session, report_id, token)
    case = session.get(CaseRow, report.case_id)
    assert case is not None  # reports reference cases by foreign key
    book = CaseBook(session, policy)
    state = book.state(case.id)
    speak = negotiate(language, report.language)
    counted = tally(session, policy, case.id, state, report.id)
    if counted is not None and state.status is CaseStatus.CLOSED_VIOLATION:
        counted = replace(counted, reported_to_ncmec=_reported_to_ncmec(session, case.id))
    told = reporter_status(state, report.id, counted, speak)
    return {"report_id": report.id, "received_at": report.created_at, "status": told.status,
            "message": told.message, "question": told.question, "updated_at": case.updated_at,
            "language": speak, "category": report.category,
            "references": list(report.references),
            "timeline": timeline(book.events(case.id), report.id, report.created_at, speak),
            "can_answer": not state.status.is_closed and report.id not in state.invalid_reports,
            "appeals": [{"appeal_id": a.id, "status": a.status, "created_at": a.created_at,
                         "decided_at": a.decided_at,
                         "reason": a.reason if a.decided_at else None}
                        for a in session.scalars(select(AppealRow).where(
                            AppealRow.report_id == report.id).order_by(AppealRow.created_at))],
            "appeal_until": state.decided_at + policy.dsa.appeal_window
            if state.status is CaseStatus.CLOSED_NO_VIOLATION and state.decided_at else None,
            "take_it_down": _take_it_down(assess(
                Category(report.category), Relation(report.relation),
                signature=report.signature, good_faith_statement=report.good_faith_statement,
                names_content=bool(report.references), contact_email=report.contact_email,
                received_at=report.created_at), accounting(session, policy, report.id))}


def _reported_to_ncmec(session: Session, case_id: int) -> bool:
    return session.scalar(select(TiplineReportRow.id).where(
        TiplineReportRow.case_id == case_id, TiplineReportRow.finished_at.is_not(None),
        TiplineReportRow.overturned_at.is_(None))) is not None


def _received(row: ReportInboxRow, token: str, language: str | None) -> dict[str, Any]:
    """A report stored but not yet worked into its case (milliseconds, as a rule)."""
    if not secrets.compare_digest(row.status_token_hash, digest(token)):
        raise NotFound("no report with that id and status token", code="unknown_report")
    sub = submission_from_json(row.submission)
    speak = negotiate(language, sub.language)
    _ = gettext_for(speak)
    return {"report_id": row.id, "received_at": row.created_at, "status": "received",
            "message": _("We received your report and are adding it to the review queue."),
            "question": None, "updated_at": row.created_at, "language": speak,
            "category": sub.category.value, "references": list(row.references),
            "timeline": [{"at": row.created_at, "text": _("We received your report.")}],
            "can_answer": False,
            "take_it_down": _take_it_down(assess(
                sub.category, sub.relation, signature=sub.signature,
                good_faith_statement=sub.good_faith_statement,
                names_content=bool(sub.content_ids or sub.urls),
                contact_email=sub.contact_email, received_at=row.created_at))}


def _take_it_down(request: TakeItDownRequest | None,
                  clock: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {"valid": request.valid, "missing": list(request.missing),
            "deadline": request.deadline,
            "removed_at": clock["removed_at"] if clock else None,
            "met": clock["met"] if clock else None}
