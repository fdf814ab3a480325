"""The US TAKE IT DOWN Act's 48 hours, accounted in each case's log.

For every valid request (domain.takeitdown.assess: received when the report was, as its
status page says) the clock (run by the escalation worker, pipeline.escalation) appends
to the case of the report:

- `take_it_down_escalated` `{"report_id", "hours", "deadline"}` once per step of
  `[dsa] take_it_down_escalate_at` (24 h and 40 h by default) reached while the request
  is not yet removed and its 48 hours run, and tells on-call as an overdue case is told
  (e-mail and/or the signed webhook): the case, the hours left, never who reported. No
  step is taken while the case is closed as no violation or the request was set aside
  as abusive (a person has decided): the deadline's record below still is.
- `take_it_down_met` with `met: false`, `missed_at` (the deadline), `removed_at: null`
  and `within_s: null` once, when the 48 hours run out unremoved — and on-call is told.
- `take_it_down_met` `{"report_id", "received_at", "deadline", "removed_at",
  "within_s", "met"}` once, when the depiction and its known identical copies are
  removed — whenever that is: after a miss it follows the record above with the real
  time and `met: false`. A request's outcome is therefore its last `take_it_down_met`;
  the one with a `removed_at` is final, and nothing is appended for it afterwards.

Removed means: the case is closed as a violation, and every `remove` action of the case
that the violation decision requested (its step's actions) or that came before it (a
verified bank's removal before anyone looked) has been acknowledged by the platform;
`removed_at` is the last acknowledgement (`delivered_at`), or the decision itself when
there was nothing left to remove. Copies that join after the decision are not the
request's "known identical copies" and do not hold its clock.

Each request is decided under the lock of its case (CaseBook.lock) from what the log
already holds, so however many workers run, and across crashes, each event is appended
once; the on-call messages carry the event's dedupe key and are queued in the same
transaction. Only candidates are read: intimate-imagery reports from the depicted
person or a guardian, with a signature and a good-faith statement, received within
`lookback` (30 days), whose removal is not yet accounted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook
from takedown.clock import utcnow
from takedown.config import Settings
from takedown.domain.case import EventType, NewEvent
from takedown.domain.policy import Policy
from takedown.domain.takeitdown import (
    APPLIES_TO,
    CLOCK,
    ON_THEIR_BEHALF,
    Recorded,
    TakeItDownRequest,
    assess,
    clock_events,
    removal_outcome,
    step_hours,
)
from takedown.domain.vocabulary import ActionKind, CaseStatus, Category, Relation
from takedown.notify.outbox import tell_on_call
from takedown.store.batches import chunks
from takedown.store.db import Database
from takedown.store.tables import ActionRow, CaseEventRow, CaseRow, ReportRow

LOOKBACK = timedelta(days=30)
_MET = EventType.TAKE_IT_DOWN_MET.value
_ESCALATED = EventType.TAKE_IT_DOWN_ESCALATED.value


def request_of(report: ReportRow) -> TakeItDownRequest | None:
    """The request a stored report makes, as its status page shows it (None where the
    Act does not apply)."""
    try:
        category, relation = Category(report.category), Relation(report.relation)
    except ValueError:
        return None
    return assess(category, relation, signature=report.signature,
                  good_faith_statement=report.good_faith_statement,
                  names_content=bool(report.references), contact_email=report.contact_email,
                  received_at=report.created_at)


@dataclass(frozen=True)
class Record:
    """A request's clock as its case log holds it."""

    escalations: tuple[float, ...]  # hours, in the order taken
    missed_at: datetime | None
    final: Mapping[str, Any] | None  # the `take_it_down_met` with a removal
    set_aside: bool  # the report is set aside (its reporter marked abusive)

    @property
    def recorded(self) -> Recorded:
        return Recorded(frozenset(self.escalations), self.missed_at is not None,
                        self.final is not None)


_READ = (_MET, _ESCALATED, EventType.REPORT_INVALIDATED.value,
         EventType.REPORT_REINSTATED.value)


def _record(events: list[tuple[str, Mapping[str, Any]]], report_id: str) -> Record:
    escalations: list[float] = []
    missed_at: datetime | None = None
    final: Mapping[str, Any] | None = None
    set_aside = False
    for kind, data in events:
        if str(data.get("report_id")) != report_id:
            continue
        if kind == _ESCALATED:
            escalations.append(float(data["hours"]))
        elif kind != _MET:
            set_aside = kind == EventType.REPORT_INVALIDATED.value
        elif data.get("removed_at") is not None:
            final = final or data
        elif data.get("missed_at"):
            missed_at = missed_at or datetime.fromisoformat(str(data["missed_at"]))
    return Record(tuple(escalations), missed_at, final, set_aside)


def _logs(session: Session, case_ids: list[int]) -> dict[int, list[tuple[str, Any]]]:
    """The events of these cases that a request's clock reads, oldest first."""
    found: dict[int, list[tuple[str, Any]]] = {}
    for batch in chunks(sorted(set(case_ids))):
        for case_id, kind, data in session.execute(
                select(CaseEventRow.case_id, CaseEventRow.type, CaseEventRow.data)
                .where(CaseEventRow.case_id.in_(batch), CaseEventRow.type.in_(_READ))
                .order_by(CaseEventRow.case_id, CaseEventRow.seq)):
            found.setdefault(case_id, []).append((kind, data))
    return found


def _escalates(status: str, record: Record) -> bool:
    """No step once a person decided there is nothing to remove, or set the request
    aside as abusive: the 48 hours' record is still kept."""
    return status != CaseStatus.CLOSED_NO_VIOLATION.value and not record.set_aside


def removed_at(session: Session, case_id: int) -> datetime | None:
    """When the case's depiction and its known identical copies were removed (the last
    acknowledgement), or None while they are not (see the module's docstring)."""
    case = session.get(CaseRow, case_id)
    if case is None or case.status != CaseStatus.CLOSED_VIOLATION.value:
        return None
    decided = session.execute(
        select(CaseEventRow.seq, CaseEventRow.at)
        .where(CaseEventRow.case_id == case_id,
               CaseEventRow.type == EventType.DECIDED.value)
        .order_by(CaseEventRow.seq.desc()).limit(1)).first()
    if decided is None:
        return None
    # The decision's actions carry its step (cases.decisions, platform.actions).
    step = f"{ActionKind.REMOVE.value}:case:{case_id}:event:{decided.seq}:"
    last: datetime | None = None
    for status, delivered in session.execute(
            select(ActionRow.status, ActionRow.delivered_at)
            .where(ActionRow.case_id == case_id,
                   ActionRow.kind == ActionKind.REMOVE.value,
                   or_(ActionRow.created_at <= decided.at,
                       ActionRow.dedupe_key.startswith(step, autoescape=True)))):
        if status != "delivered" or delivered is None:
            return None
        last = delivered if last is None else max(last, delivered)
    return last if last is not None else decided.at


class TakeItDownClock:
    """One pass: account each candidate request; see the module's docstring."""

    def __init__(self, db: Database, policy: Policy, settings: Settings,
                 lookback: timedelta = LOOKBACK) -> None:
        self.db = db
        self.policy = policy
        self.settings = settings
        self.lookback = lookback

    def run_once(self, now: datetime | None = None) -> int:
        """Append what is due; returns the events appended."""
        now = now or utcnow()
        with self.db.transaction() as session:
            due = self._due(session, now)
        return sum(self._account(report_id, now) for report_id in due)

    def candidates(self, session: Session, now: datetime) -> list[tuple[ReportRow, str]]:
        """(report, its case's status) of the requests the clock may still have to
        append for: what could be a valid request, received within `lookback`, whose
        removal is not yet accounted. Newest first: their steps are the ones still to
        come."""
        accounted = exists().where(
            CaseEventRow.case_id == ReportRow.case_id, CaseEventRow.type == _MET,
            CaseEventRow.data["report_id"].as_string() == ReportRow.id,
            CaseEventRow.data["removed_at"].as_string().is_not(None))
        return [(report, status) for report, status in session.execute(
            select(ReportRow, CaseRow.status).join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(ReportRow.category.in_([c.value for c in APPLIES_TO]),
                   ReportRow.relation.in_([r.value for r in ON_THEIR_BEHALF]),
                   ReportRow.created_at >= now - self.lookback,
                   ReportRow.signature.is_not(None),
                   ReportRow.good_faith_statement.is_(True),
                   ReportRow.contact_email.is_not(None), ~accounted)
            .order_by(ReportRow.created_at.desc()).limit(1000))]

    def _due(self, session: Session, now: datetime) -> list[str]:
        """Candidates with something to append, read without locks (then re-read under
        the case's lock): cheap enough to run every few seconds."""
        rows = self.candidates(session, now)
        logs = _logs(session, [report.case_id for report, _ in rows])
        due = []
        for report, status in rows:
            request = request_of(report)
            if request is None or not request.valid:
                continue
            record = _record(logs.get(report.case_id, []), report.id)
            # Only a case closed as a violation may be removed: read its actions then.
            removed = removed_at(session, report.case_id) \
                if status == CaseStatus.CLOSED_VIOLATION.value else None
            if clock_events(report.id, report.created_at, now,
                            self.policy.dsa.take_it_down_escalate_at, record.recorded,
                            removed, escalate=_escalates(status, record)):
                due.append(report.id)
        return due

    def _account(self, report_id: str, now: datetime) -> int:
        with self.db.transaction() as session:
            report = session.get(ReportRow, report_id)
            if report is None:
                return 0
            book = CaseBook(session, self.policy)
            case = book.lock(report.case_id)
            request = request_of(report)
            if request is None or not request.valid:
                return 0
            record = _record(_logs(session, [case.id]).get(case.id, []), report.id)
            escalate = _escalates(case.status, record)
            events = clock_events(report.id, report.created_at, now,
                                  self.policy.dsa.take_it_down_escalate_at, record.recorded,
                                  removed_at(session, case.id), escalate=escalate)
            if not events:
                return 0
            _, seq = book.append(case.id, events)
            self._tell_on_call(session, case, events, seq, escalate, now)
            return len(events)

    def _tell_on_call(self, session: Session, case: CaseRow, events: list[NewEvent],
                      seq: int, escalate: bool, now: datetime) -> None:
        """One message per pass that escalated or missed (the latest step, when a late
        pass took several): the case and the time left, never who asked."""
        last = events[-1]
        deadline = datetime.fromisoformat(str(last.data["deadline"]))
        if last.type is EventType.TAKE_IT_DOWN_ESCALATED:
            left = max(0.0, (deadline - now).total_seconds() / 3600)
            subject = (f"[takedown] case {case.id}: TAKE IT DOWN Act request not yet "
                       f"removed, {left:.1f} h left")
            kind = f"escalated:{last.data['hours']}"
        elif last.data.get("removed_at") is None and escalate:
            left = 0.0
            subject = (f"[takedown] case {case.id}: TAKE IT DOWN Act request missed its "
                       f"48 hours")
            kind = "missed"
        else:
            return
        stage = ("awaiting the platform's acknowledgement of the removal"
                 if case.status == CaseStatus.CLOSED_VIOLATION.value else "awaiting a decision")
        body = {"type": "take_it_down", "case_id": case.id, "category": case.category,
                "priority": case.priority, "deadline": deadline.isoformat(),
                "hours_left": round(left, 2), "stage": stage,
                "step_hours": last.data.get("hours"), "console": f"/console/cases/{case.id}"}
        tell_on_call(session, self.settings, subject=subject, body=body,
                     priority=case.priority,
                     dedupe_key=f"take-it-down:{case.id}:{seq}:{kind}")


def accounting(session: Session, policy: Policy, report_id: str,
               now: datetime | None = None) -> dict[str, Any] | None:
    """A request's clock for the reporter's status page and the console: None unless the
    report is a valid TAKE IT DOWN request. `removed_at`/`within_s` come from the log once
    accounted, else from the case's actions as they stand; `met` is None while the 48
    hours run and nothing is removed."""
    report = session.get(ReportRow, report_id)
    if report is None:
        return None
    request = request_of(report)
    if request is None or not request.valid or request.deadline is None:
        return None
    now = now or utcnow()
    record = _record(_logs(session, [report.case_id]).get(report.case_id, []), report.id)
    removed: datetime | None
    if record.final is not None:
        removed = datetime.fromisoformat(str(record.final["removed_at"]))
    else:
        removed = removed_at(session, report.case_id)
    within: float | None = None
    met: bool | None = None
    following: datetime | None = None
    if removed is not None:
        within, met = removal_outcome(report.created_at, removed)
    elif now >= request.deadline:
        met = False
    else:
        taken = set(record.escalations)
        following = min((report.created_at + s for s in policy.dsa.take_it_down_escalate_at
                         if s < CLOCK and step_hours(s) not in taken), default=None)
    return {"received_at": report.created_at, "deadline": request.deadline,
            "removed_at": removed, "within_s": within, "met": met,
            "missed_at": request.deadline if met is False else None,
            "escalations": list(record.escalations), "next_escalation_at": following}


__all__ = ["LOOKBACK", "TakeItDownClock", "accounting", "removed_at", "request_of",
           "step_hours"]
