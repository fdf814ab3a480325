"""A case is its append-only event log; everything else about it is derived here.

`fold` turns the events into a `CaseState`; `decide` turns a reviewer's decision
into the events to append (or refuses it). Neither touches storage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from takedown.domain.policy import Policy
from takedown.domain.vocabulary import (
    CHILD_SAFETY_ROLES,
    CaseStatus,
    Category,
    Outcome,
    Relation,
    Role,
)


class EventType(StrEnum):
    REPORTED = "reported"
    REOPENED = "reopened"
    REACH_OBSERVED = "reach_observed"
    HASH_MATCHED = "hash_matched"
    RESTRICTED = "restricted"
    ESCALATED = "escalated"
    CLAIMED = "claimed"
    INFORMATION_REQUESTED = "information_requested"
    DISMISSAL_PROPOSED = "dismissal_proposed"
    DECIDED = "decided"
    ACTIONED = "actioned"
    RESTORED = "restored"
    NOTIFIED = "notified"


@dataclass(frozen=True)
class CaseEvent:
    type: EventType
    at: datetime
    actor: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True)
class NewEvent:
    """An event a rule wants appended; storage stamps time and sequence."""

    type: EventType
    data: Mapping[str, Any]
    actor: str | None = None


@dataclass
class CaseState:
    status: CaseStatus = CaseStatus.OPEN
    category: Category | None = None
    opened_at: datetime | None = None
    deadline: datetime | None = None
    deadline_rule: str | None = None
    report_count: int = 0
    reporters: set[str] = field(default_factory=set)
    relations: set[Relation] = field(default_factory=set)
    case_numbers: set[str] = field(default_factory=set)
    minor: bool = False
    hash_match: bool = False
    views: int = 0
    shares: int = 0
    views_per_hour: float = 0.0
    restricted: bool = False
    dismissal_proposed_by: str | None = None
    decided_outcome: Outcome | None = None
    decided_by: tuple[str, ...] = ()
    decided_at: datetime | None = None
    escalations: int = 0
    information_requested: bool = False
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    events: int = 0


def _more_severe(policy: Policy, current: Category | None, new: Category) -> Category:
    if current is None:
        return new
    severity = policy.for_category
    return new if severity(new).severity > severity(current).severity else current


def _on_reported(state: CaseState, event: CaseEvent, policy: Policy) -> None:
    data = event.data
    category = Category(data["category"])
    relation = Relation(data["relation"])
    state.category = _more_severe(policy, state.category, category)
    state.report_count += 1
    state.reporters.add(str(data["reporter_key"]))
    state.relations.add(relation)
    state.case_numbers.update(data.get("case_numbers", []))
    state.minor = state.minor or bool(data.get("minor"))
    if state.opened_at is None:
        state.opened_at = event.at
    rule, within = policy.deadline_for(category, relation)
    due = event.at + within
    if not state.status.is_closed and (state.deadline is None or due < state.deadline):
        state.deadline, state.deadline_rule = due, rule


def _on_hash_matched(state: CaseState, event: CaseEvent, policy: Policy) -> None:
    """A bank match opens or strengthens a case like a report from a trusted flagger:
    the bank's category and that relation's deadline."""
    state.hash_match = True
    if "category" not in event.data:
        return
    category = Category(event.data["category"])
    state.category = _more_severe(policy, state.category, category)
    if state.opened_at is None:
        state.opened_at = event.at
    rule, within = policy.deadline_for(category, Relation.TRUSTED_FLAGGER)
    due = event.at + within
    if not state.status.is_closed and (state.deadline is None or due < state.deadline):
        state.deadline, state.deadline_rule = due, f"hash match: {rule}"


def _on_decided(state: CaseState, event: CaseEvent) -> None:
    outcome = Outcome(event.data["outcome"])
    state.decided_outcome = outcome
    state.decided_by = tuple(event.data.get("reviewers", [event.actor]))
    state.decided_at = event.at
    state.dismissal_proposed_by = None
    state.deadline = None
    state.claimed_by = state.claimed_until = None
    if outcome is Outcome.VIOLATION:
        state.status = CaseStatus.CLOSED_VIOLATION
        if event.data.get("category"):
            state.category = Category(event.data["category"])
    else:
        state.status = CaseStatus.CLOSED_NO_VIOLATION


def _apply(state: CaseState, event: CaseEvent, policy: Policy) -> None:
    kind = event.type
    if kind is EventType.REPORTED:
        _on_reported(state, event, policy)
    elif kind is EventType.REOPENED:
        state.status = CaseStatus.OPEN
        state.decided_outcome, state.decided_by, state.decided_at = None, (), None
        state.deadline = state.deadline_rule = None
        state.escalations = 0
    elif kind is EventType.REACH_OBSERVED:
        state.views = int(event.data["views"])
        state.shares = int(event.data["shares"])
        state.views_per_hour = float(event.data["views_per_hour"])
    elif kind is EventType.HASH_MATCHED:
        _on_hash_matched(state, event, policy)
    elif kind is EventType.RESTRICTED:
        state.restricted = True
    elif kind is EventType.ESCALATED:
        state.escalations += 1
    elif kind is EventType.INFORMATION_REQUESTED:
        state.information_requested = True
    elif kind is EventType.CLAIMED:
        state.claimed_by = event.actor
        state.claimed_until = datetime.fromisoformat(str(event.data["until"]))
    elif kind is EventType.RESTORED:
        state.restricted = False
    elif kind is EventType.DISMISSAL_PROPOSED:
        state.status = CaseStatus.AWAITING_SECOND_REVIEW
        state.dismissal_proposed_by = event.actor
    elif kind is EventType.DECIDED:
        _on_decided(state, event)


def fold(events: Iterable[CaseEvent], policy: Policy) -> CaseState:
    """Derive a case's current state from its whole history, oldest first."""
    state = CaseState()
    for event in events:
        _apply(state, event, policy)
        state.events += 1
    return state


def credibility(state: CaseState, policy: Policy) -> float:
    rules = policy.credibility
    score = max((rules.relation_weight[r] for r in state.relations), default=1.0)
    if state.case_numbers:
        score += rules.case_number_bonus
    if state.minor:
        score += rules.minor_bonus
    if state.hash_match:
        score += rules.hash_match_bonus
    score += rules.per_additional_reporter * max(0, len(state.reporters) - 1)
    score += rules.per_additional_report * max(0, state.report_count - 1)
    return score


def reach_factor(state: CaseState, policy: Policy) -> float:
    w = policy.reach
    return (
        1.0
        + w.views * math.log10(1 + max(0, state.views))
        + w.shares * math.log10(1 + max(0, state.shares))
        + w.growth * math.log10(1 + max(0.0, state.views_per_hour))
    )


def priority(state: CaseState, policy: Policy) -> float:
    """severity x credibility x reach; higher is more urgent."""
    if state.category is None:
        return 0.0
    severity = policy.for_category(state.category).severity
    overdue = 1 + policy.escalation.priority_boost * state.escalations
    return round(severity * credibility(state, policy) * reach_factor(state, policy) * overdue, 3)


def reach_tier(views: int, shares: int, views_per_hour: float) -> tuple[int, int, int]:
    """Coarse buckets: a reach change is recorded as an event only when a bucket moves."""

    def bucket(x: float) -> int:
        return int(math.log2(1 + max(0.0, x)))

    return (bucket(views), bucket(shares), bucket(views_per_hour))


# --- Reviewers and decisions -------------------------------------------------------


@dataclass(frozen=True)
class Reviewer:
    id: str
    role: Role

    @property
    def is_child_safety(self) -> bool:
        return self.role in CHILD_SAFETY_ROLES


class DecisionRefused(Exception):
    """A decision the rules do not allow. `code` is 'forbidden' or 'conflict'."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def may_view(state: CaseState, policy: Policy, reviewer: Reviewer) -> bool:
    if state.category is None or reviewer.role is Role.ADMIN:
        return True
    if policy.for_category(state.category).specialist_only:
        return reviewer.role in (Role.CHILD_SAFETY_SPECIALIST, Role.LIAISON)
    return True


def decide(
    state: CaseState,
    policy: Policy,
    reviewer: Reviewer,
    outcome: Outcome,
    notes: str,
    category: Category | None = None,
    reason: str | None = None,
) -> list[NewEvent]:
    """The events a decision appends, or DecisionRefused.

    A child-safety dismissal is never one person's: the first 'no violation' is only
    a proposal, the restriction stays, and a second specialist must confirm it.
    Escalating and asking the reporter keep the case open (and its deadline running).
    """
    if reason is not None and reason not in policy.reasons[outcome.value]:
        raise DecisionRefused("invalid", f"{reason!r} is not a reason the policy gives "
                                         f"for {outcome.value.replace('_', ' ')}")
    events = _decide(state, policy, reviewer, outcome, notes, category)
    return [NewEvent(e.type, {**e.data, "reason": reason}, e.actor) for e in events]


def _decide(state: CaseState, policy: Policy, reviewer: Reviewer, outcome: Outcome,
            notes: str, category: Category | None) -> list[NewEvent]:
    if state.status.is_closed:
        raise DecisionRefused("conflict", f"the case is already {state.status.value}")
    if state.category is None:
        raise DecisionRefused("conflict", "the case has no report to decide on")
    rules = policy.for_category(state.category)
    if rules.specialist_only and not reviewer.is_child_safety:
        raise DecisionRefused(
            "forbidden", "child-safety cases are decided by child-safety specialists"
        )
    if reviewer.role is Role.LIAISON:
        raise DecisionRefused("forbidden", "liaisons do not decide cases")
    if outcome is Outcome.ESCALATE:
        return [NewEvent(EventType.ESCALATED, {"step": state.escalations + 1,
                                               "manual": True, "notes": notes}, reviewer.id)]
    if outcome is Outcome.REQUEST_INFORMATION:
        return [NewEvent(EventType.INFORMATION_REQUESTED, {"notes": notes}, reviewer.id)]
    decided_category = category or state.category
    if outcome is Outcome.VIOLATION:
        reference = policy.for_category(decided_category).policy_reference
        data = {"outcome": outcome.value, "category": decided_category.value,
                "policy": reference, "notes": notes, "reviewers": [reviewer.id]}
        return [NewEvent(EventType.DECIDED, data, reviewer.id)]
    if not rules.two_person_dismissal:
        data = {"outcome": outcome.value, "notes": notes, "reviewers": [reviewer.id]}
        return [NewEvent(EventType.DECIDED, data, reviewer.id)]
    if state.status is not CaseStatus.AWAITING_SECOND_REVIEW:
        return [NewEvent(EventType.DISMISSAL_PROPOSED, {"notes": notes}, reviewer.id)]
    first = state.dismissal_proposed_by
    if first == reviewer.id:
        raise DecisionRefused(
            "conflict",
            "a child-safety dismissal needs a second child-safety specialist to confirm it",
        )
    data = {"outcome": outcome.value, "notes": notes, "reviewers": [first or "", reviewer.id]}
    return [NewEvent(EventType.DECIDED, data, reviewer.id)]


def claim(state: CaseState, reviewer: Reviewer, now: datetime,
          duration: timedelta) -> NewEvent:
    """Take (or renew) a case so no one else works on it meanwhile; claims expire."""
    if state.status.is_closed:
        raise DecisionRefused("conflict", f"the case is already {state.status.value}")
    held = state.claimed_by is not None and state.claimed_until is not None \
        and state.claimed_until > now
    if held and state.claimed_by != reviewer.id:
        raise DecisionRefused("conflict", f"{state.claimed_by} is working on this case "
                                          f"until {state.claimed_until:%H:%M} UTC")
    return NewEvent(EventType.CLAIMED, {"until": (now + duration).isoformat()}, reviewer.id)


def escalation_due(state: CaseState, policy: Policy, now: datetime) -> NewEvent | None:
    """The next escalation step, if one is due: step 1 at the deadline, step n one
    interval after step n-1. None once decided (the deadline is then cleared)."""
    if state.status.is_closed or state.deadline is None or now < state.deadline:
        return None
    interval = policy.escalation.interval.total_seconds()
    overdue = (now - state.deadline).total_seconds()
    due_steps = 1 + int(overdue // interval) if interval > 0 else 1
    if state.escalations >= due_steps:
        return None
    return NewEvent(EventType.ESCALATED, {"step": state.escalations + 1,
                                          "overdue_s": int(overdue),
                                          "deadline_rule": state.deadline_rule})
