"""What a case does to the platform: restrict pending review, remove every copy on a
violation (and bank its media, and act on the uploaders), restore on a dismissal."""

from __future__ import annotations

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook
from takedown.cases.graph import ContentGraph, chunks
from takedown.clock import utcnow
from takedown.domain.case import CaseState, EventType, NewEvent, priority
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind, ModerationState, Outcome
from takedown.platform.actions import ActionLedger, account_action, content_action
from takedown.store.tables import (
    BankEntryRow,
    ContentRow,
    SignalRow,
)

CONFIRMED_BANK = "confirmed"


class Enforcement:
    def __init__(self, session: Session, policy: Policy, book: CaseBook,
                 ledger: ActionLedger) -> None:
        self.session = session
        self.policy = policy
        self.book = book
        self.ledger = ledger
        self.graph = ContentGraph(session)

    def cluster_rows(self, case_id: int) -> list[ContentRow]:
        return self.graph.rows(self.graph.case_cluster(case_id))

    def restrict(self, case_id: int, state: CaseState, step: str, reason: str) -> int:
        """Hide every visible copy at once, pending human review."""
        visible = [r for r in self.cluster_rows(case_id)
                   if r.moderation_state == ModerationState.VISIBLE.value]
        self._content_actions(ActionKind.RESTRICT, visible, case_id, state, step, reason)
        if visible:
            self.book.append(case_id, [NewEvent(EventType.RESTRICTED,
                                                {"items": len(visible), "reason": reason})])
        return len(visible)

    def carry_out(self, case_id: int, state: CaseState, step: str) -> None:
        """Act on a decision that was just appended."""
        if state.decided_outcome is Outcome.VIOLATION:
            self._remove_every_copy(case_id, state, step)
        elif state.decided_outcome is Outcome.NO_VIOLATION:
            self._lift_restriction(case_id, state, step)

    def _remove_every_copy(self, case_id: int, state: CaseState, step: str) -> None:
        subjects = self.graph.case_subjects(case_id)
        items, media = self.graph.cluster_and_media(subjects)
        rows = self.graph.rows(items)
        live = [r for r in rows if r.moderation_state != ModerationState.REMOVED.value]
        self._content_actions(ActionKind.REMOVE, live, case_id, state, step,
                              "confirmed violation")
        banked = self._bank_media(case_id, media, state)
        carriers = self.graph.carriers(media)
        # The accounts that uploaded the media; for text-only content, the authors.
        uploads = [r for r in rows if r.id in carriers] or [r for r in rows if r.id in subjects]
        suspended = self._act_on_uploaders(case_id, uploads, state, step)
        self.book.append(case_id, [NewEvent(EventType.ACTIONED, {
            "removed": len(live), "copies": len(rows), "banked": banked,
            "accounts_suspended": suspended})])

    def _lift_restriction(self, case_id: int, state: CaseState, step: str) -> None:
        hidden = [r for r in self.cluster_rows(case_id)
                  if r.moderation_state == ModerationState.RESTRICTED.value]
        self._content_actions(ActionKind.RESTORE, hidden, case_id, state, step,
                              "reviewed: no violation")
        if hidden or state.restricted:
            self.book.append(case_id, [NewEvent(EventType.RESTORED, {"items": len(hidden)})])

    def _content_actions(self, kind: ActionKind, rows: list[ContentRow], case_id: int,
                         state: CaseState, step: str, reason: str) -> None:
        category = state.category.value if state.category else None
        urgency = priority(state, self.policy)
        self.ledger.request(
            content_action(kind, r, step=step, case_id=case_id, reason=reason,
                           category=category, priority=urgency) for r in rows)

    def _bank_media(self, case_id: int, media: set[int], state: CaseState) -> int:
        """Add every signal of the case's media to the 'confirmed' bank, so that the
        same media is blocked when it is uploaded again."""
        signals: set[tuple[str, str]] = set()
        for batch in chunks(media):
            signals.update((t, v) for t, v in self.session.execute(
                select(SignalRow.signal_type, SignalRow.value)
                .where(SignalRow.media_id.in_(batch))))
        known: set[tuple[str, str]] = set()
        for pairs in chunks(sorted(signals)):
            known.update((t, v) for t, v in self.session.execute(
                select(BankEntryRow.signal_type, BankEntryRow.value)
                .where(BankEntryRow.bank == CONFIRMED_BANK,
                       tuple_(BankEntryRow.signal_type, BankEntryRow.value).in_(pairs))))
        now = utcnow()
        reviewers = ",".join(state.decided_by)
        new = signals - known
        self.session.add_all(
            BankEntryRow(bank=CONFIRMED_BANK, signal_type=t, value=v, case_id=case_id,
                         source=f"case {case_id}", added_by=reviewers, added_at=now,
                         enabled=True)
            for t, v in sorted(new))
        return len(new)

    def _act_on_uploaders(self, case_id: int, uploads: list[ContentRow], state: CaseState,
                          step: str) -> int:
        if state.category is None:
            return 0
        action = self.policy.for_category(state.category).account_action
        if action is None:
            return 0
        accounts = sorted({(r.platform_id, r.author_id) for r in uploads})
        self.ledger.request(
            account_action(action, platform, author, step=step, case_id=case_id,
                           reason="uploaded confirmed violating media",
                           category=state.category.value, priority=priority(state, self.policy))
            for platform, author in accounts)
        return len(accounts)

