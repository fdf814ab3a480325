"""What a case does to the platform: restrict pending review, remove every copy on a
violation (and bank its media, and act on the uploaders), restore on a dismissal.

"Every copy" is the exact cluster (the origin, its reposts and quotes, items carrying
the same file, theirs) plus, where a sweeper is given, registered media that is
perceptually the same (PDQ within the `confirmed` bank's distance, rotations and
mirror images included; vPDQ by the 80% rule) and everything carrying it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.banks.service import CONFIRMED, BankBook
from takedown.cases.casebook import CaseBook
from takedown.cases.graph import ContentGraph, chunks
from takedown.cases.sweeps import Sweeper
from takedown.domain.case import CaseState, EventType, NewEvent, priority
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind, ModerationState, Outcome
from takedown.platform.actions import ActionLedger, account_action, content_action
from takedown.store.tables import ContentRow, SignalRow


class Enforcement:
    def __init__(self, session: Session, policy: Policy, book: CaseBook, ledger: ActionLedger,
                 sweeper: Sweeper | None = None) -> None:
        self.session = session
        self.policy = policy
        self.book = book
        self.ledger = ledger
        self.sweeper = sweeper
        self.graph = ContentGraph(session)

    def case_items(self, case_id: int) -> tuple[list[ContentRow], set[int], int]:
        """(rows of every copy, the media they are about, how many perceptual copies
        joined the case now). Perceptual copies are linked to the case, so that its
        page and later reports see them."""
        items, media = self.graph.cluster_and_media(self.graph.case_subjects(case_id))
        joined = 0
        if self.sweeper is not None and media:
            distance = BankBook(self.session).bank(CONFIRMED).pdq_distance
            near = self.sweeper.near_media(media, distance)
            new = self.graph.carriers(near) - items
            if new:
                joined = len(new)
                self.book.link(self.graph, case_id, new)
                items, media = self.graph.cluster_and_media(self.graph.case_subjects(case_id))
        return self.graph.rows(items), media, joined

    def restrict(self, case_id: int, state: CaseState, step: str, reason: str) -> int:
        """Hide every visible copy at once, pending human review."""
        rows, _, joined = self.case_items(case_id)
        visible = [r for r in rows if r.moderation_state == ModerationState.VISIBLE.value]
        self._content_actions(ActionKind.RESTRICT, visible, case_id, state, step, reason)
        if visible:
            self.book.append(case_id, [NewEvent(EventType.RESTRICTED, {
                "items": len(visible), "perceptual_copies": joined, "reason": reason})])
        return len(visible)

    def remove(self, case_id: int, state: CaseState, step: str, reason: str,
               items: set[int]) -> int:
        """Remove these items and every copy of them, before any human decision: for
        banks whose hashes are already verified (NCMEC, confirmed cases)."""
        rows = self.graph.rows(self.graph.cluster(items))
        live = [r for r in rows if r.moderation_state != ModerationState.REMOVED.value]
        self._content_actions(ActionKind.REMOVE, live, case_id, state, step, reason)
        if live:
            self.book.append(case_id, [NewEvent(EventType.ACTIONED, {
                "removed": len(live), "reason": reason})])
        return len(live)

    def carry_out(self, case_id: int, state: CaseState, step: str) -> None:
        """Act on a decision that was just appended."""
        if state.decided_outcome is Outcome.VIOLATION:
            self._remove_every_copy(case_id, state, step)
        elif state.decided_outcome is Outcome.NO_VIOLATION:
            self._lift_restriction(case_id, state, step)

    def _remove_every_copy(self, case_id: int, state: CaseState, step: str) -> None:
        rows, media, joined = self.case_items(case_id)
        live = [r for r in rows if r.moderation_state != ModerationState.REMOVED.value]
        self._content_actions(ActionKind.REMOVE, live, case_id, state, step,
                              "confirmed violation")
        banked = self._bank_media(case_id, media, state)
        carriers = self.graph.carriers(media)
        subjects = self.graph.case_subjects(case_id)
        # The accounts that uploaded the media; for text-only content, the authors.
        uploads = [r for r in rows if r.id in carriers] or [r for r in rows if r.id in subjects]
        suspended = self._act_on_uploaders(case_id, uploads, state, step)
        self.book.append(case_id, [NewEvent(EventType.ACTIONED, {
            "removed": len(live), "copies": len(rows), "perceptual_copies": joined,
            "banked": banked, "accounts_suspended": suspended})])

    def _lift_restriction(self, case_id: int, state: CaseState, step: str) -> None:
        hidden = [r for r in self.graph.rows(self.graph.case_cluster(case_id))
                  if r.moderation_state == ModerationState.RESTRICTED.value]
        why = ("every report was set aside (reporter marked abusive)" if state.set_aside
               else "reviewed: no violation")
        self._content_actions(ActionKind.RESTORE, hidden, case_id, state, step, why)
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
        """Every signal of the case's media goes into the 'confirmed' bank, so that the
        same media, or a perceptual copy, is blocked when it is uploaded again."""
        bank = BankBook(self.session)
        reviewers = ",".join(state.decided_by)
        signals: list[tuple[str, str, str]] = []
        for batch in chunks(media):
            rows = self.session.execute(select(SignalRow.signal_type, SignalRow.value)
                                        .where(SignalRow.media_id.in_(batch)))
            signals.extend((kind, value, f"case {case_id}") for kind, value in rows)
        if self.sweeper is not None:  # rotations, mirrors and crops of each image too
            signals.extend(("pdq", h, f"case {case_id}: rotated, mirrored or cropped")
                           for m in sorted(media) for h in self.sweeper.query_hashes(m))
        added = 0
        for kind, value, source in signals:
            _, new = bank.add(CONFIRMED, kind, value, source=source, added_by=reviewers,
                              case_id=case_id)
            added += new
        return added

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
