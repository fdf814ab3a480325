"""What a case does to the platform: restrict pending review, remove on a violation
(and bank what was confirmed, and act on the uploaders), restore on a dismissal.

What a case reaches follows its media files (`CaseMediaRow`), never a post's other
files: the items it is about and their reposts and quotes, and every item carrying
one of its files with theirs. Before acting, the case's reported, matched and
confirmed files are swept for copies (`join_copies`): registered files that their
references match, exactly or perceptually, join as copies.

On a violation only the files the reviewer confirmed (and copies of them) count:
only they are banked, only items carrying them are removed, only their uploaders
suspended; whatever else the case had restricted is restored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.banks.service import CONFIRMED, UNDER_REVIEW, BankBook
from takedown.cases.casebook import CaseBook, MediaLink
from takedown.cases.graph import ContentGraph, chunks
from takedown.cases.sweeps import Sweeper
from takedown.domain.case import CaseState, EventType, NewEvent, priority
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind, MediaVia, ModerationState, Outcome
from takedown.media.signals import Signal
from takedown.platform.actions import ActionLedger, account_action, content_action
from takedown.store.tables import CaseMediaRow, ContentRow, MediaRow, SignalRow


@dataclass(frozen=True)
class Removal:
    """What a violation removes: items, the files confirmed, whose uploaders answer."""

    items: set[int]
    media: set[int]
    accountable: set[int]  # items whose authors posted a confirmed file (or the text)


class Enforcement:
    def __init__(self, session: Session, policy: Policy, book: CaseBook, ledger: ActionLedger,
                 sweeper: Sweeper | None = None) -> None:
        self.session = session
        self.policy = policy
        self.book = book
        self.ledger = ledger
        self.sweeper = sweeper
        self.graph = ContentGraph(session)

    # --- copies ------------------------------------------------------------------

    def join_copies(self, case_id: int) -> set[int]:
        """Sweep the case's own files (all but copies) for copies among registered
        files and link them; returns the items that joined the case."""
        media = self.graph.case_media(case_id)
        originals = {m for m, row in media.items() if row.via != MediaVia.COPY.value}
        if self.sweeper is None or not originals:
            return set()
        distance = BankBook(self.session).bank(CONFIRMED).pdq_distance
        copies = self.sweeper.copies_of(originals, distance)
        new = self.book.link_media(case_id, {
            c.media_id: MediaLink(MediaVia.COPY, copy_of=c.copy_of, distance=c.distance)
            for c in copies.values() if c.media_id not in media})
        if not new:
            return set()
        before = self.graph.reach_of(self.graph.case_subjects(case_id), media)
        return self.graph.subtree(self.graph.carriers(new)) - before

    # --- before a decision -------------------------------------------------------

    def restrict(self, case_id: int, state: CaseState, step: str, reason: str,
                 items: set[int] | None = None) -> int:
        """Hide pending human review: these items and their reposts and quotes, or
        (by default) everything the case reaches, copies found now included."""
        joined: set[int] = set()
        if items is None:
            joined = self.join_copies(case_id)
            targets = self.graph.case_items(case_id)
        else:
            targets = self.graph.subtree(items)
        visible = [r for r in self.graph.rows(targets)
                   if r.moderation_state == ModerationState.VISIBLE.value]
        self._content_actions(ActionKind.RESTRICT, visible, case_id, state, step, reason)
        if visible:
            self.book.append(case_id, [NewEvent(EventType.RESTRICTED, {
                "items": len(visible), "copies_joined": len(joined), "reason": reason})])
        return len(visible)

    def remove(self, case_id: int, state: CaseState, step: str, reason: str,
               items: set[int]) -> int:
        """Remove these items and their reposts and quotes, before any human decision:
        for banks whose hashes are already verified (NCMEC, confirmed cases)."""
        rows = self.graph.rows(self.graph.subtree(items))
        live = [r for r in rows if r.moderation_state != ModerationState.REMOVED.value]
        self._content_actions(ActionKind.REMOVE, live, case_id, state, step, reason)
        if live:
            self.book.append(case_id, [NewEvent(EventType.ACTIONED, {
                "removed": len(live), "reason": reason})])
        return len(live)

    def hold(self, case_id: int) -> int:
        """Put the references of the case's own files in the `under_review` bank: an
        upload that matches one joins the case (and is hidden if the case is)."""
        if self.sweeper is None:
            return 0
        originals = [m for m, row in self.graph.case_media(case_id).items()
                     if row.via != MediaVia.COPY.value]
        signals = [s for m in sorted(originals) for s in self.sweeper.references.of(m)]
        return BankBook(self.session).add_signals(
            UNDER_REVIEW, signals, source=f"case {case_id}, under review", added_by="takedown",
            case_id=case_id)

    # --- a decision --------------------------------------------------------------

    def carry_out(self, case_id: int, state: CaseState, step: str) -> None:
        """Act on a decision that was just appended."""
        if state.decided_outcome is Outcome.VIOLATION:
            self._remove_confirmed(case_id, state, step)
        elif state.decided_outcome is Outcome.NO_VIOLATION:
            self._lift_restriction(case_id, state, step)

    def _remove_confirmed(self, case_id: int, state: CaseState, step: str) -> None:
        removal = confirmed_removal(self.session, case_id, state)
        rows = self.graph.rows(removal.items)
        live = [r for r in rows if r.moderation_state != ModerationState.REMOVED.value]
        self._content_actions(ActionKind.REMOVE, live, case_id, state, step,
                              "confirmed violation")
        restored = self._restore(case_id, state, step, "not among the files confirmed",
                                 keep=removal.items)
        banked = self._bank(case_id, removal.media, state)
        BankBook(self.session).release(UNDER_REVIEW, case_id)
        suspended = self._act_on_uploaders(case_id, [r for r in rows
                                                     if r.id in removal.accountable],
                                           state, step)
        self.book.append(case_id, [NewEvent(EventType.ACTIONED, {
            "removed": len(live), "items": len(rows), "files": len(removal.media),
            "banked": banked, "restored": restored, "accounts_suspended": suspended})])

    def _lift_restriction(self, case_id: int, state: CaseState, step: str) -> None:
        why = ("every report was set aside (reporter marked abusive)" if state.set_aside
               else "reviewed: no violation")
        restored = self._restore(case_id, state, step, why)
        BankBook(self.session).release(UNDER_REVIEW, case_id)
        if restored or state.restricted:
            self.book.append(case_id, [NewEvent(EventType.RESTORED, {"items": restored})])

    def _restore(self, case_id: int, state: CaseState, step: str, why: str,
                 keep: AbstractSet[int] = frozenset()) -> int:
        """Lift this case's restrictions, except on the items in `keep`."""
        hidden = [r for r in self.session.scalars(select(ContentRow).where(
            ContentRow.moderation_case_id == case_id,
            ContentRow.moderation_state == ModerationState.RESTRICTED.value))
            if r.id not in keep]
        self._content_actions(ActionKind.RESTORE, hidden, case_id, state, step, why)
        return len(hidden)

    def _content_actions(self, kind: ActionKind, rows: list[ContentRow], case_id: int,
                         state: CaseState, step: str, reason: str) -> None:
        category = state.category.value if state.category else None
        urgency = priority(state, self.policy)
        # Within a case, the most viewed items first: workers send batches in priority
        # order, and a copy that is being watched should not wait behind quiet ones.
        self.ledger.request(
            content_action(kind, r, step=step, case_id=case_id, reason=reason,
                           category=category,
                           priority=urgency + math.log10(1 + max(0, r.views)) / 100)
            for r in rows)


    def _bank(self, case_id: int, media: set[int], state: CaseState) -> int:
        """The confirmed files go into the `confirmed` bank, so that the same file, or a
        copy of it, is blocked when it is uploaded again: the case's own files with
        their references (the edits re-uploaders make), copies as they were uploaded."""
        rows = {r.media_id: r for r in self.session.scalars(select(CaseMediaRow).where(
            CaseMediaRow.case_id == case_id))}
        signals: list[Signal] = []
        for media_id in sorted(media):
            row = rows.get(media_id)
            if self.sweeper is not None and row is not None and row.via != MediaVia.COPY.value:
                signals.extend(self.sweeper.references.of(media_id))
            signals.extend(Signal(kind, value, quality) for kind, value, quality in
                           self.session.execute(select(SignalRow.signal_type, SignalRow.value,
                                                       SignalRow.quality)
                                                .where(SignalRow.media_id == media_id)))
        return BankBook(self.session).add_signals(
            CONFIRMED, signals, source=f"case {case_id}",
            added_by=",".join(state.decided_by), case_id=case_id)

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
                           reason="posted a file confirmed as violating",
                           category=state.category.value, priority=priority(state, self.policy))
            for platform, author in accounts)
        return len(accounts)


def confirmed_removal(session: Session, case_id: int, state: CaseState) -> Removal:
    """What a decided violation reaches: items carrying a confirmed file (or a copy of
    one), with their reposts and quotes; reported items with no file (their text is the
    violation); and, when no file was confirmed, the reported items themselves."""
    graph = ContentGraph(session)
    media = graph.case_media(case_id)
    named = media_ids(session, state.confirmed_media) if state.confirmed_media is not None \
        else set(media)
    confirmed = named | {m for m, row in media.items() if row.copy_of in named}
    subjects = graph.case_subjects(case_id)
    textual = {i for i, f in graph.files(subjects).items() if not f}
    if not confirmed:
        textual |= subjects
    carriers = graph.carriers(confirmed)
    return Removal(graph.subtree(carriers | textual), confirmed, carriers or textual)


def media_ids(session: Session, sha256s: Iterable[str]) -> set[int]:
    return {m for batch in chunks(sha256s) for m in session.scalars(
        select(MediaRow.id).where(MediaRow.sha256.in_(batch)))}
