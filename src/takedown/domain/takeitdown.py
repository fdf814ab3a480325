"""The US TAKE IT DOWN Act (47 U.S.C. 223a): when a removal request is a valid one,
which starts the Act's 48-hour clock. Pure rules, no I/O.

A valid request, as the Act lists it, carries: a physical or electronic signature of
the depicted person (or of someone authorised to act for them); an identification of
the intimate depiction and where it is; a brief statement of good faith that it was
published without consent; and contact information. A request missing any of them is
still a report, reviewed under the policy's deadline; only a complete one starts the
Act's clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from takedown.domain.case import EventType, NewEvent
from takedown.domain.vocabulary import Category, Relation

CLOCK = timedelta(hours=48)
# Intimate imagery: the Act's "intimate visual depictions". Child sexual abuse material
# is removed under shorter deadlines and reported to NCMEC whatever the request holds.
APPLIES_TO = frozenset({Category.NON_CONSENSUAL_INTIMATE_IMAGERY})
# The depicted person, or someone acting for them.
ON_THEIR_BEHALF = frozenset({Relation.DEPICTED_PERSON, Relation.PARENT_GUARDIAN})


@dataclass(frozen=True)
class TakeItDownRequest:
    valid: bool
    missing: tuple[str, ...]  # the API's field names, in the order the form asks them
    deadline: datetime | None  # received + 48 h, only for a valid request


def assess(category: Category, relation: Relation, *, signature: str | None,
           good_faith_statement: bool | None, names_content: bool,
           contact_email: str | None, received_at: datetime) -> TakeItDownRequest | None:
    """None where the Act does not apply (other categories)."""
    if category not in APPLIES_TO:
        return None
    missing = [name for name, present in (
        ("reporter_relation", relation in ON_THEIR_BEHALF),
        ("content", names_content),
        ("good_faith_statement", good_faith_statement is True),
        ("signature", bool(signature and signature.strip())),
        ("contact_email", bool(contact_email)),
    ) if not present]
    valid = not missing
    return TakeItDownRequest(valid, tuple(missing), received_at + CLOCK if valid else None)


# --- The clock after a valid request (legal.takeitdown applies it) -------------------


def step_hours(step: timedelta) -> float:
    """A policy step as the events name it: hours, e.g. 24.0 or 0.5."""
    return round(step.total_seconds() / 3600, 4)


@dataclass(frozen=True)
class Recorded:
    """What a request's case log already says about its clock."""

    escalated: frozenset[float] = frozenset()  # the steps appended (hours)
    missed: bool = False  # the 48 hours ran out unremoved (`met: false`, no removal)
    removed: bool = False  # the removal accounted (`take_it_down_met` with `removed_at`)


def escalations_due(received_at: datetime, now: datetime, steps: Iterable[timedelta],
                    done: Iterable[float] = ()) -> list[timedelta]:
    """The escalation steps reached by `now` and not yet taken, while the 48 hours have
    not run out: a step at or past them is the deadline's business, and a step missed
    while no worker ran is still taken late, so long as there is time left."""
    taken = set(done)
    if now >= received_at + CLOCK:
        return []
    return [s for s in sorted(set(steps))
            if timedelta(0) < s < CLOCK and received_at + s <= now
            and step_hours(s) not in taken]


def removal_outcome(received_at: datetime, removed_at: datetime) -> tuple[float, bool]:
    """(seconds from the request to the removal, whether within the 48 hours)."""
    within = round((removed_at - received_at).total_seconds(), 3)
    return within, within <= CLOCK.total_seconds()


def clock_events(report_id: str, received_at: datetime, now: datetime,
                 steps: Iterable[timedelta], recorded: Recorded,
                 removed_at: datetime | None, *, escalate: bool = True) -> list[NewEvent]:
    """What a valid request's case log needs appended now (see legal.takeitdown):

    - removed (`removed_at`), not yet accounted: one `take_it_down_met` with the time it
      took, `met` whether within 48 hours (nothing more is escalated or missed);
    - not removed, the 48 hours running: a `take_it_down_escalated` per step reached and
      not yet taken, unless `escalate` is False (a person decided there was nothing to
      remove, or the request was set aside as abusive);
    - not removed, the 48 hours over, not yet recorded: a `take_it_down_met` with
      `met: false`, `missed_at` (the deadline) and `removed_at: null`.
    """
    deadline = received_at + CLOCK
    base = {"report_id": report_id, "received_at": received_at.isoformat(),
            "deadline": deadline.isoformat()}
    if recorded.removed:
        return []
    if removed_at is not None:
        within, met = removal_outcome(received_at, removed_at)
        return [NewEvent(EventType.TAKE_IT_DOWN_MET, {
            **base, "removed_at": removed_at.isoformat(), "within_s": within, "met": met})]
    if now >= deadline:
        if recorded.missed:
            return []
        return [NewEvent(EventType.TAKE_IT_DOWN_MET, {
            **base, "missed_at": deadline.isoformat(), "removed_at": None, "within_s": None,
            "met": False})]
    if not escalate:
        return []
    return [NewEvent(EventType.TAKE_IT_DOWN_ESCALATED, {
        "report_id": report_id, "hours": step_hours(step), "deadline": deadline.isoformat()})
        for step in escalations_due(received_at, now, steps, recorded.escalated)]
