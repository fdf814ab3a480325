"""Appeals against decisions (DSA Art. 20 and 23): who may appeal what and until when,
who may decide an appeal, and the events a decision appends. Pure rules, no I/O.

The uploader appeals a violation (their content removed); a reporter appeals a
dismissal. A person decides, never a rule: someone who took no part in the decision,
and, for child-safety cases, a child-safety specialist. Reversing a child-safety
violation takes two specialists, as dismissing one does: a confirmed child-abuse case
is never cleared by one person alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from takedown.domain.case import (
    CaseState,
    DecisionRefused,
    EventType,
    NewEvent,
    Reviewer,
)
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import CaseStatus, Outcome, Role


class Appellant(StrEnum):
    UPLOADER = "uploader"
    REPORTER = "reporter"


class AppealStatus(StrEnum):
    OPEN = "open"
    REVERSAL_PROPOSED = "reversal_proposed"  # one specialist would reverse; a second decides
    UPHELD = "upheld"
    REVERSED = "reversed"
    REFUSED = "refused"  # manifestly unfounded (Art. 23)

    @property
    def is_decided(self) -> bool:
        return self in (AppealStatus.UPHELD, AppealStatus.REVERSED, AppealStatus.REFUSED)


class AppealOutcome(StrEnum):
    UPHELD = "upheld"
    REVERSED = "reversed"
    REFUSED = "refused"


# What each side may appeal: the decision that went against them.
APPEALABLE = {Appellant.UPLOADER: CaseStatus.CLOSED_VIOLATION,
              Appellant.REPORTER: CaseStatus.CLOSED_NO_VIOLATION}


def may_appeal(state: CaseState, appellant: Appellant, policy: Policy,
               now: datetime) -> None:
    """Raise DecisionRefused unless this side may appeal the case's decision now."""
    wanted = APPEALABLE[appellant]
    if not state.status.is_closed:
        raise DecisionRefused("conflict", "the case is still under review: there is no "
                                          "decision to appeal yet")
    if state.status is not wanted or state.decided_at is None:
        what = "a removal" if appellant is Appellant.UPLOADER else "a dismissal"
        raise DecisionRefused("conflict", f"only {what} can be appealed by the "
                                          f"{appellant.value}; this case is "
                                          f"{state.status.value}")
    until = state.decided_at + policy.dsa.appeal_window
    if now > until:
        raise DecisionRefused("gone", f"the time to appeal ended on {until:%Y-%m-%d} "
                                      f"({policy.dsa.appeal_window.days} days after the "
                                      "decision)")


def suspended_until(refusals: list[datetime], policy: Policy,
                    now: datetime) -> datetime | None:
    """Art. 23: after `unfounded_limit` appeals refused as manifestly unfounded within
    `unfounded_period`, new appeals are not taken until `suspension` after the last."""
    recent = sorted(t for t in refusals if now - t <= policy.dsa.unfounded_period)
    if len(recent) < policy.dsa.unfounded_limit:
        return None
    until = recent[-1] + policy.dsa.suspension
    return until if until > now else None


@dataclass(frozen=True)
class AppealFacts:
    appeal_id: str
    status: AppealStatus
    original_deciders: tuple[str, ...]
    proposed_by: str | None  # who proposed a child-safety reversal


def check_decider(state: CaseState, policy: Policy, appeal: AppealFacts,
                  reviewer: Reviewer) -> None:
    """Someone other than the case's deciders; a specialist for child-safety cases."""
    if appeal.status.is_decided:
        raise DecisionRefused("conflict", f"this appeal was already {appeal.status.value}")
    if reviewer.role is Role.LIAISON:
        raise DecisionRefused("forbidden", "liaisons do not decide appeals")
    if reviewer.id in appeal.original_deciders or reviewer.id in state.decided_by:
        raise DecisionRefused("conflict", "an appeal is decided by someone who took no part "
                                          "in the decision under appeal")
    if state.category is not None and policy.for_category(state.category).specialist_only \
            and not reviewer.is_child_safety:
        raise DecisionRefused("forbidden", "appeals in child-safety cases are decided by "
                                           "child-safety specialists")
    if appeal.proposed_by == reviewer.id:
        raise DecisionRefused("conflict", "a second child-safety specialist must confirm "
                                          "this reversal")


def needs_second_specialist(state: CaseState, policy: Policy, appeal: AppealFacts) -> bool:
    """Whether a reversal is only proposed: clearing a confirmed child-safety case."""
    return (state.status is CaseStatus.CLOSED_VIOLATION and state.category is not None
            and policy.for_category(state.category).two_person_dismissal
            and appeal.status is AppealStatus.OPEN)


def reversal(state: CaseState, policy: Policy, appeal: AppealFacts, reviewer: Reviewer,
             reason: str, media: list[str]) -> NewEvent:
    """The `decided` event that replaces the decision under appeal. Reversing a
    dismissal confirms a violation (of `media`, the files a violation would confirm)."""
    reviewers = [r for r in (appeal.proposed_by, reviewer.id) if r]
    base = {"notes": reason, "reason": "Reversed on appeal", "appeal_id": appeal.appeal_id,
            "reviewers": reviewers}
    if state.status is CaseStatus.CLOSED_VIOLATION:
        return NewEvent(EventType.DECIDED, {**base, "outcome": Outcome.NO_VIOLATION.value},
                        reviewer.id)
    category = state.category
    assert category is not None  # a decided case has a category
    return NewEvent(EventType.DECIDED, {
        **base, "outcome": Outcome.VIOLATION.value, "category": category.value,
        "policy": policy.for_category(category).policy_reference, "media": media},
        reviewer.id)


def appeal_decided(appeal: AppealFacts, outcome: str, reviewer: Reviewer, reason: str,
                   appealed_at: datetime, now: datetime) -> NewEvent:
    return NewEvent(EventType.APPEAL_DECIDED, {
        "appeal_id": appeal.appeal_id, "outcome": outcome, "reason": reason,
        "appealed_at": appealed_at.isoformat(),
        "took_s": int((now - appealed_at) / timedelta(seconds=1))}, reviewer.id)
