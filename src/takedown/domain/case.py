"""A case is its append-only event log; everything else about it is derived here.

`fold` turns the events into a `CaseState`; `decide` turns a reviewer's decision
into the events to append (or refuses it). Neither touches storage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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
    COPY_JOINED = "copy_joined"  # an upload matched a file of the case under review
    RESTRICTED = "restricted"
    ESCALATED = "escalated"
    CLAIMED = "claimed"
    INFORMATION_REQUESTED = "information_requested"
    DISMISSAL_PROPOSED = "dismissal_proposed"
    DECIDED = "decided"
    REPORT_INVALIDATED = "report_invalidated"
    REPORT_REINSTATED = "report_reinstated"
    INFORMATION_PROVIDED = "information_provided"
    ACTIONED = "actioned"
    RESTORED = "restored"
    NOTIFIED = "notified"
    # The CyberTipline report and the evidence vault (takedown.legal); they record what
    # happened and change nothing the fold derives.
    CYBERTIPLINE_DRAFTED = "cybertipline_drafted"
    CYBERTIPLINE_SUBMITTED = "cybertipline_submitted"
    CYBERTIPLINE_ACCEPTED = "cybertipline_accepted"
    CYBERTIPLINE_STOPPED = "cybertipline_stopped"
    CYBERTIPLINE_RETRACTED = "cybertipline_retracted"
    CYBERTIPLINE_OVERTURNED = "cybertipline_overturned"
    EVIDENCE_PRESERVED = "evidence_preserved"
    EVIDENCE_HOLD_SET = "evidence_hold_set"
    EVIDENCE_HOLD_LIFTED = "evidence_hold_lifted"
    EVIDENCE_PURGED = "evidence_purged"
    # Appeals (DSA Art. 20; takedown.cases.appeals): an appeal lodged and its outcome.
    # A reversal also appends a `decided` event (with `appeal_id`), which the fold takes
    # as the case's decision from then on.
    APPEALED = "appealed"
    APPEAL_DECIDED = "appeal_decided"
    # The US TAKE IT DOWN Act's 48 hours (domain.takeitdown): a valid request's clock
    # escalated before it runs out, and met (the depiction and its known identical
    # copies acknowledged removed) or missed.
    TAKE_IT_DOWN_ESCALATED = "take_it_down_escalated"
    TAKE_IT_DOWN_MET = "take_it_down_met"


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


@dataclass(frozen=True)
class ReportFacts:
    """What one report contributes to a case's credibility."""

    relation: Relation
    reporter_key: str
    case_numbers: frozenset[str]
    minor: bool


@dataclass(frozen=True)
class Deadline:
    """A deadline a report (or hash match) set, and the one it would set coming from an
    ordinary user: what still applies if the report is set aside, so that a case
    never loses its deadline, however little its reports count."""

    due: datetime
    rule: str
    ordinary_due: datetime
    ordinary_rule: str

    def applying(self, set_aside: bool) -> tuple[datetime, str]:
        return (self.ordinary_due, self.ordinary_rule) if set_aside else (self.due, self.rule)


@dataclass
class CaseState:
    status: CaseStatus = CaseStatus.OPEN
    category: Category | None = None
    opened_at: datetime | None = None
    deadline: datetime | None = None
    deadline_rule: str | None = None
    # Every report, and those set aside (id -> why). Only valid reports count below.
    reports: dict[str, ReportFacts] = field(default_factory=dict)
    invalid_reports: dict[str, str] = field(default_factory=dict)
    # Deadlines set since the case last (re)opened, by the report (or match) that set
    # them; the case's deadline is the soonest of them.
    deadline_candidates: dict[str, Deadline] = field(default_factory=dict)
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
    # The files a violation confirmed (SHA-256), as the reviewer named them; None for
    # decisions recorded before reviewers named files.
    confirmed_media: tuple[str, ...] | None = None
    escalations: int = 0
    # A TAKE IT DOWN Act request's clock escalated (24 h, 40 h): raises priority like a
    # missed deadline, without moving the case to the specialists' queue.
    take_it_down_escalations: int = 0
    information_requested: bool = False
    question: str | None = None  # what the reporters were last asked
    set_aside: bool = False  # closed because every report was invalidated
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    events: int = 0

    def copy(self) -> CaseState:
        """A copy that folding more events into leaves this one as it is (what it holds
        is otherwise immutable: frozen facts, datetimes, strings)."""
        return replace(self, reports=dict(self.reports),
                       invalid_reports=dict(self.invalid_reports),
                       deadline_candidates=dict(self.deadline_candidates),
                       reporters=set(self.reporters), relations=set(self.relations),
                       case_numbers=set(self.case_numbers))


def _more_severe(policy: Policy, current: Category | None, new: Category) -> Category:
    if current is None:
        return new
    severity = policy.for_category
    return new if severity(new).severity > severity(current).severity else current


def _on_reported(state: CaseState, event: CaseEvent, policy: Policy) -> None:
    data = event.data
    category = Category(data["category"])
    relation = Relation(data["relation"])
    report_id = str(data["report_id"])
    # The category is the most severe ever reported, even by a report later set
    # aside: invalidating reports never takes a case out of child-safety hands.
    state.category = _more_severe(policy, state.category, category)
    state.reports[report_id] = ReportFacts(
        relation, str(data["reporter_key"]), frozenset(data.get("case_numbers", [])),
        bool(data.get("minor")))
    if state.opened_at is None:
        state.opened_at = event.at
    if not state.status.is_closed:
        rule, within = policy.deadline_for(category, relation)
        plain_rule, plain_within = policy.deadline_for(category, Relation.OTHER_USER)
        state.deadline_candidates[report_id] = Deadline(event.at + within, rule,
                                                        event.at + plain_within, plain_rule)


def _recount(state: CaseState) -> None:
    """Credibility inputs and the deadline, from the reports still valid."""
    valid = [f for r, f in state.reports.items() if r not in state.invalid_reports]
    state.report_count = len(valid)
    state.reporters = {f.reporter_key for f in valid}
    state.relations = {f.relation for f in valid}
    state.case_numbers = {n for f in valid for n in f.case_numbers}
    state.minor = any(f.minor for f in valid)
    dues = [d.applying(k in state.invalid_reports) for k, d in state.deadline_candidates.items()]
    state.deadline, state.deadline_rule = min(dues) if dues else (None, None)


def _on_information_provided(state: CaseState, event: CaseEvent) -> None:
    state.information_requested = False
    report_id = str(event.data["report_id"])
    facts = state.reports.get(report_id)
    numbers = event.data.get("case_numbers") or []
    if facts is not None and numbers:
        state.reports[report_id] = ReportFacts(
            facts.relation, facts.reporter_key, facts.case_numbers | set(numbers), facts.minor)


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
    if not state.status.is_closed:
        rule, within = policy.deadline_for(category, Relation.TRUSTED_FLAGGER)
        key = f"hash match {len(state.deadline_candidates)}"
        due, why = event.at + within, f"hash match: {rule}"
        state.deadline_candidates[key] = Deadline(due, why, due, why)


def _on_decided(state: CaseState, event: CaseEvent) -> None:
    outcome = Outcome(event.data["outcome"])
    state.decided_outcome = outcome
    state.decided_by = tuple(event.data.get("reviewers", [event.actor]))
    state.decided_at = event.at
    state.dismissal_proposed_by = None
    state.deadline = state.deadline_rule = None
    state.deadline_candidates.clear()
    state.information_requested = False
    state.set_aside = bool(event.data.get("set_aside"))
    state.claimed_by = state.claimed_until = None
    if outcome is Outcome.VIOLATION:
        state.status = CaseStatus.CLOSED_VIOLATION
        if event.data.get("category"):
            state.category = Category(event.data["category"])
        if "media" in event.data:
            state.confirmed_media = tuple(event.data["media"])
    else:
        state.status = CaseStatus.CLOSED_NO_VIOLATION
        state.confirmed_media = None  # a violation reversed on appeal confirms nothing


def _apply(state: CaseState, event: CaseEvent, policy: Policy) -> None:
    kind = event.type
    if kind is EventType.REPORTED:
        _on_reported(state, event, policy)
    elif kind is EventType.REOPENED:
        state.status = CaseStatus.OPEN
        state.decided_outcome, state.decided_by, state.decided_at = None, (), None
        state.confirmed_media = None
        state.deadline = state.deadline_rule = None
        state.deadline_candidates.clear()
        state.escalations = 0
        state.take_it_down_escalations = 0
        state.set_aside = False
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
    elif kind is EventType.TAKE_IT_DOWN_ESCALATED:
        state.take_it_down_escalations += 1
    elif kind is EventType.INFORMATION_REQUESTED:
        state.information_requested = True
        state.question = event.data.get("question") or event.data.get("reason")
    elif kind is EventType.INFORMATION_PROVIDED:
        _on_information_provided(state, event)
    elif kind is EventType.REPORT_INVALIDATED:
        state.invalid_reports[str(event.data["report_id"])] = str(event.data.get("reason", ""))
    elif kind is EventType.REPORT_REINSTATED:
        state.invalid_reports.pop(str(event.data["report_id"]), None)
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


def fold(events: Iterable[CaseEvent], policy: Policy,
         start: CaseState | None = None) -> CaseState:
    """Derive a case's current state from its whole history, oldest first; or, from
    `start` (the state after its first `start.events` events, left unchanged), apply
    the events that followed. The counts that depend on every valid report are derived
    once at the end, not after each event: a viral case has thousands of reports."""
    state = CaseState() if start is None else start.copy()
    for event in events:
        _apply(state, event, policy)
        state.events += 1
    _recount(state)
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
    steps = state.escalations + state.take_it_down_escalations
    overdue = 1 + policy.escalation.priority_boost * steps
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


def in_specialists_queue(state: CaseState, policy: Policy) -> bool:
    """Child-safety cases are always in the specialists' queue; any other case moves
    there once it escalates (past its deadline, or by a reviewer). The SQL in
    cases.views.queue mirrors this rule."""
    if state.escalations > 0:
        return True
    return state.category is not None and policy.for_category(state.category).specialist_only


def _refuse_escalated_to_moderators(state: CaseState, policy: Policy,
                                    reviewer: Reviewer) -> None:
    if reviewer.role is Role.MODERATOR and in_specialists_queue(state, policy):
        raise DecisionRefused("forbidden", "this case was escalated to the specialists' "
                                           "queue; a child-safety specialist decides it")


def may_view(state: CaseState, policy: Policy, reviewer: Reviewer) -> bool:
    return state.category is None or may_view_category(state.category, policy, reviewer)


def may_view_category(category: Category, policy: Policy, reviewer: Reviewer) -> bool:
    if reviewer.role is Role.ADMIN or not policy.for_category(category).specialist_only:
        return True
    return reviewer.role in (Role.CHILD_SAFETY_SPECIALIST, Role.LIAISON)


def decide(
    state: CaseState,
    policy: Policy,
    reviewer: Reviewer,
    outcome: Outcome,
    notes: str,
    category: Category | None = None,
    reason: str | None = None,
    question: str | None = None,
    media: Iterable[str] = (),
) -> list[NewEvent]:
    """The events a decision appends, or DecisionRefused.

    A child-safety dismissal is never one person's: the first 'no violation' is only
    a proposal, the restriction stays, and a second specialist must confirm it.
    Escalating and asking the reporter keep the case open (and its deadline running);
    `question` is what the reporters are asked, sent to them as written. `media` are
    the files a violation confirms as abusive (their SHA-256); only they are banked.
    """
    if reason is not None and reason not in policy.reasons[outcome.value]:
        raise DecisionRefused("invalid", f"{reason!r} is not a reason the policy gives "
                                         f"for {outcome.value.replace('_', ' ')}")
    events = _decide(state, policy, reviewer, outcome, notes, category, question,
                     sorted(set(media)))
    return [NewEvent(e.type, {**e.data, "reason": reason}, e.actor) for e in events]


def _decide(state: CaseState, policy: Policy, reviewer: Reviewer, outcome: Outcome,
            notes: str, category: Category | None, question: str | None,
            media: list[str]) -> list[NewEvent]:
    if state.status.is_closed:
        raise DecisionRefused("conflict", f"the case is already {state.status.value}")
    if state.category is None:
        raise DecisionRefused("conflict", "the case has no report to decide on")
    rules = policy.for_category(state.category)
    # Both the case's category and the one a decision would give it: a moderator may
    # not turn a terms case into a child-sexual-abuse determination (banked, suspended
    # and, later, reported to NCMEC) any more than decide a child-safety case.
    named = policy.for_category(category) if category is not None else rules
    if (rules.specialist_only or named.specialist_only) and not reviewer.is_child_safety:
        raise DecisionRefused(
            "forbidden", "child-safety cases are decided by child-safety specialists"
        )
    if reviewer.role is Role.LIAISON:
        raise DecisionRefused("forbidden", "liaisons do not decide cases")
    _refuse_escalated_to_moderators(state, policy, reviewer)
    if outcome is Outcome.ESCALATE:
        return [NewEvent(EventType.ESCALATED, {"step": state.escalations + 1,
                                               "manual": True, "notes": notes}, reviewer.id)]
    if outcome is Outcome.REQUEST_INFORMATION:
        return [NewEvent(EventType.INFORMATION_REQUESTED,
                         {"notes": notes, "question": question}, reviewer.id)]
    decided_category = category or state.category
    data: dict[str, Any]
    if outcome is Outcome.VIOLATION:
        reference = policy.for_category(decided_category).policy_reference
        data = {"outcome": outcome.value, "category": decided_category.value,
                "policy": reference, "notes": notes, "reviewers": [reviewer.id],
                "media": media}
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


def claim(state: CaseState, policy: Policy, reviewer: Reviewer, now: datetime,
          duration: timedelta) -> NewEvent:
    """Take (or renew) a case so no one else works on it meanwhile; claims expire."""
    if state.status.is_closed:
        raise DecisionRefused("conflict", f"the case is already {state.status.value}")
    _refuse_escalated_to_moderators(state, policy, reviewer)
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


# --- Abusive reporters -----------------------------------------------------------

SET_ASIDE_REASON = "Every report was invalidated (reporter marked abusive)"


def may_mark_reporters(reviewer: Reviewer) -> bool:
    """Marking a reporter abusive touches cases across the queue, child-safety ones
    included, so it is for specialists and admins."""
    return reviewer.is_child_safety


def invalidate(state: CaseState, policy: Policy, report_ids: Iterable[str], actor: str,
               reason: str) -> list[NewEvent]:
    """Set reports aside: they stop counting towards priority and deadline.

    An open case left with no valid report and no hash match closes as set aside,
    unless its category needs two people to dismiss it: a child-safety case stays for
    two specialists, whoever reported it. On a closed case the reports are only marked,
    so that they do not count should it reopen.
    """
    fresh = [r for r in dict.fromkeys(report_ids)
             if r in state.reports and r not in state.invalid_reports]
    events = [NewEvent(EventType.REPORT_INVALIDATED, {"report_id": r, "reason": reason}, actor)
              for r in fresh]
    left = set(state.reports) - set(state.invalid_reports) - set(fresh)
    if fresh and not left and _may_set_aside(state, policy):
        events.append(NewEvent(EventType.DECIDED, {
            "outcome": Outcome.NO_VIOLATION.value, "set_aside": True, "notes": reason,
            "reason": SET_ASIDE_REASON, "reviewers": [actor]}, actor))
    return events


def _may_set_aside(state: CaseState, policy: Policy) -> bool:
    if state.status is not CaseStatus.OPEN or state.hash_match or state.category is None:
        return False
    return not policy.for_category(state.category).two_person_dismissal


def reinstate(state: CaseState, report_ids: Iterable[str], actor: str) -> list[NewEvent]:
    """Count invalidated reports again (a reporter unmarked), on cases still open."""
    if state.status.is_closed:
        return []
    return [NewEvent(EventType.REPORT_REINSTATED, {"report_id": r}, actor)
            for r in dict.fromkeys(report_ids) if r in state.invalid_reports]
