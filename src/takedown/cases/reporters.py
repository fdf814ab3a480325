"""Reporters: marking one abusive invalidates their open reports, and their later
reports count for nothing (they are still stored: a report is never dropped)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import Enforcement
from takedown.cases.sweeps import Sweeper
from takedown.clock import utcnow
from takedown.domain.case import (
    CaseState,
    EventType,
    NewEvent,
    Reviewer,
    invalidate,
    may_mark_reporters,
    may_view_category,
    reinstate,
)
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import CaseStatus, Category
from takedown.errors import Forbidden, NotFound
from takedown.platform.actions import ActionLedger
from takedown.store.tables import CaseRow, ReporterMarkRow, ReportRow

OPEN_STATUSES = [s.value for s in CaseStatus if not s.is_closed]
AUTOMATIC = "takedown"  # the actor of invalidations made at intake
Rule = Callable[[CaseState, list[str]], list[NewEvent]]


@dataclass(frozen=True)
class MarkResult:
    reports_changed: int  # invalidated (mark) or reinstated (unmark)
    cases_touched: int
    cases_set_aside: int


class ReporterBook:
    def __init__(self, session: Session, policy: Policy, sweeper: Sweeper | None = None) -> None:
        self.session = session
        self.policy = policy
        self.book = CaseBook(session, policy)
        self.enforcement = Enforcement(session, policy, self.book, ActionLedger(session, policy),
                                       sweeper)

    def mark_of(self, reporter_key: str) -> ReporterMarkRow | None:
        return self.session.get(ReporterMarkRow, reporter_key)

    def record(self, reporter_key: str, reviewer: Reviewer | None = None) -> dict[str, Any]:
        """What reviewers see about a reporter: the mark, and how many reports. Someone
        who reported child-safety content is for those who may see such cases."""
        if reviewer is not None:
            self._check_may_see(reporter_key, reviewer)
        total, still_open = self.session.execute(
            select(func.count(ReportRow.id),
                   func.count(ReportRow.id).filter(CaseRow.status.in_(OPEN_STATUSES)))
            .join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(ReportRow.reporter_key == reporter_key)).one()
        if not total:
            raise NotFound("no reports from that reporter", code="unknown_reporter")
        mark = self.mark_of(reporter_key)
        return {"reporter_key": reporter_key, "abusive": mark is not None,
                "reason": mark.reason if mark else None,
                "marked_by": mark.marked_by if mark else None,
                "marked_at": mark.marked_at if mark else None,
                "reports": int(total), "open_reports": int(still_open)}

    def _check_may_see(self, reporter_key: str, reviewer: Reviewer) -> None:
        categories = set(self.session.scalars(select(CaseRow.category).distinct()
                         .join(ReportRow, ReportRow.case_id == CaseRow.id)
                         .where(ReportRow.reporter_key == reporter_key)))
        if any(c and not may_view_category(Category(c), self.policy, reviewer)
               for c in categories):
            raise Forbidden("this reporter reported child-safety content: their record is "
                            "open only to child-safety specialists, liaisons and admins",
                            code="child_safety_only")

    def mark(self, reporter_key: str, reviewer: Reviewer, reason: str) -> MarkResult:
        """Mark a reporter abusive and invalidate every report of theirs on an open case."""
        self._check(reviewer)
        self.record(reporter_key)  # 404 for a reporter takedown never heard from
        if self.mark_of(reporter_key) is None:
            self.session.add(ReporterMarkRow(reporter_key=reporter_key, reason=reason,
                                             marked_by=reviewer.id, marked_at=utcnow()))
        return self._each_open_case(
            reporter_key, lambda state, ids: invalidate(state, self.policy, ids, reviewer.id,
                                                        f"reporter marked abusive: {reason}"))

    def unmark(self, reporter_key: str, reviewer: Reviewer) -> MarkResult:
        """Lift the mark; their reports on cases still open count again."""
        self._check(reviewer)
        mark = self.mark_of(reporter_key)
        if mark is None:
            raise NotFound("that reporter is not marked abusive", code="not_marked")
        self.session.delete(mark)
        return self._each_open_case(reporter_key,
                                    lambda state, ids: reinstate(state, ids, reviewer.id))

    def invalidate_new(self, case_id: int, report_id: str, mark: ReporterMarkRow) -> CaseState:
        """At intake: a report from a marked reporter is set aside as it arrives."""
        state = self.book.state(case_id)
        events = invalidate(state, self.policy, [report_id], AUTOMATIC,
                            f"reporter marked abusive: {mark.reason}")
        return self._append(case_id, events) if events else state

    def _check(self, reviewer: Reviewer) -> None:
        if not may_mark_reporters(reviewer):
            raise Forbidden("only child-safety specialists and admins mark reporters abusive",
                            code="specialists_only")

    def _each_open_case(self, reporter_key: str, rule: Rule) -> MarkResult:
        by_case: dict[int, list[str]] = defaultdict(list)
        for report_id, case_id in self.session.execute(
                select(ReportRow.id, ReportRow.case_id)
                .join(CaseRow, CaseRow.id == ReportRow.case_id)
                .where(ReportRow.reporter_key == reporter_key,
                       CaseRow.status.in_(OPEN_STATUSES))
                .order_by(ReportRow.case_id, ReportRow.created_at)):
            by_case[case_id].append(report_id)
        changed = touched = set_aside = 0
        for case_id, report_ids in by_case.items():
            self.book.lock(case_id)
            events: list[NewEvent] = rule(self.book.state(case_id), report_ids)
            if not events:
                continue
            self._append(case_id, events)
            touched += 1
            changed += sum(1 for e in events if e.type is not EventType.DECIDED)
            set_aside += any(e.type is EventType.DECIDED for e in events)
        return MarkResult(changed, touched, set_aside)

    def _append(self, case_id: int, events: list[NewEvent]) -> CaseState:
        state, seq = self.book.append(case_id, events)
        step = f"case:{case_id}:event:{seq}"
        if any(e.type is EventType.DECIDED for e in events):
            # Set aside: lift any restriction the invalid reports had put in place.
            self.enforcement.carry_out(case_id, state, step=step)
            state = self.book.state(case_id)
        elif any(e.type is EventType.REPORT_INVALIDATED for e in events):
            self.enforcement.narrow(case_id, state, step)  # what only they had hidden
        return state
