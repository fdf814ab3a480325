"""Reviewers' decisions: checked by the domain rules, appended, then carried out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import Enforcement
from takedown.cases.sweeps import Sweeper
from takedown.clock import utcnow
from takedown.domain.case import (
    CaseState,
    DecisionRefused,
    EventType,
    Reviewer,
    claim,
    decide,
    may_view,
)
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import Category, Outcome
from takedown.errors import Conflict, Forbidden, Invalid
from takedown.platform.actions import ActionLedger


@dataclass(frozen=True)
class DecisionResult:
    case_id: int
    state: CaseState
    appended: list[str]
    actions_requested: int
    seq: int  # the last event appended


class DecisionDesk:
    def __init__(self, session: Session, policy: Policy, sweeper: Sweeper | None = None) -> None:
        self.policy = policy
        self.book = CaseBook(session, policy)
        self.ledger = ActionLedger(session)
        self.enforcement = Enforcement(session, policy, self.book, self.ledger, sweeper)

    def visible_state(self, case_id: int, reviewer: Reviewer) -> CaseState:
        self.book.lock(case_id)  # 404 for an unknown case before anything else
        state = self.book.state(case_id)
        if not may_view(state, self.policy, reviewer):
            raise Forbidden("child-safety cases are open only to child-safety specialists, "
                            "liaisons and admins", code="child_safety_only")
        return state

    def claim(self, case_id: int, reviewer: Reviewer) -> CaseState:
        state = self.visible_state(case_id, reviewer)
        try:
            event = claim(state, self.policy, reviewer, utcnow(), self.policy.escalation.claim)
        except DecisionRefused as refused:
            if refused.code == "forbidden":
                raise Forbidden(refused.message, code="specialists_queue") from None
            raise Conflict(refused.message, code="claimed") from None
        return self.book.append(case_id, [event])[0]

    def decide(self, case_id: int, reviewer: Reviewer, outcome: Outcome, notes: str,
               category: Category | None = None, reason: str | None = None,
               question: str | None = None) -> DecisionResult:
        state = self.visible_state(case_id, reviewer)
        try:
            new = decide(state, self.policy, reviewer, outcome, notes, category, reason,
                         question)
        except DecisionRefused as refused:
            error = {"forbidden": Forbidden, "invalid": Invalid}.get(refused.code, Conflict)
            raise error(refused.message, code=f"decision_{refused.code}",
                        fields=[{"field": "reason", "message": refused.message}]
                        if refused.code == "invalid" else None) from None
        state, seq = self.book.append(case_id, new)
        if any(e.type is EventType.DECIDED for e in new):
            self.enforcement.carry_out(case_id, state, step=f"case:{case_id}:event:{seq}")
        return DecisionResult(case_id, self.book.state(case_id), [e.type.value for e in new],
                              self.ledger.created, seq)
