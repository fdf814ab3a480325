"""Bank matches on registered content: `MatchDesk` opens or joins the case about the
matched file, records the match, and acts as the bank says. A match in takedown's
own `under_review` bank is a copy of a file of a case under review: it joins that
case as a copy and is hidden like the rest of it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.banks.matching import BankMatch
from takedown.banks.service import UNDER_REVIEW
from takedown.cases.casebook import CaseBook, MediaLink
from takedown.cases.enforcement import Enforcement
from takedown.cases.graph import ContentGraph
from takedown.cases.sweeps import Sweeper
from takedown.domain.case import EventType, NewEvent
from takedown.domain.vocabulary import MediaVia
from takedown.store.tables import (
    BankEntryRow,
    BankRow,
    CaseMediaRow,
    MediaReferenceRow,
    SignalRow,
)


@dataclass(frozen=True)
class Recorded:
    case_id: int
    action: str  # what was done to the items: block, restrict or review (nothing yet)


class MatchDesk:
    def __init__(self, session: Session, book: CaseBook, enforcement: Enforcement) -> None:
        self.session = session
        self.book = book
        self.enforcement = enforcement
        self.graph = ContentGraph(session)

    def record(self, items: set[int], media: set[int], match: BankMatch) -> Recorded | None:
        """Open or join the case about these files, record the match, and act on the
        items carrying them. None when the match was of a case decided meanwhile."""
        if match.bank == UNDER_REVIEW:
            return self._join_under_review(items, media, match)
        case_id = match.case_id or self._case_for(items, media)
        self.book.link_media(case_id, {m: MediaLink(MediaVia.BANK, bank=match.bank)
                                       for m in media})
        _, seq = self.book.append(case_id, [NewEvent(EventType.HASH_MATCHED, {
            "bank": match.bank, "entry_id": match.entry_id, "signal_type": match.signal_type,
            "distance": match.distance, "category": match.category})])
        self._act(case_id, seq, items, match.action, f"matches the {match.bank!r} hash bank")
        return Recorded(case_id, match.action)

    def _case_for(self, items: set[int], media: set[int]) -> int:
        self.book.serialise(self.graph, items, media)
        return self.book.case_about(self.graph, items, media) or self.book.open().id

    def _join_under_review(self, items: set[int], media: set[int],
                           match: BankMatch) -> Recorded | None:
        """A copy of a file of an open case joins it; hidden if the case is hidden."""
        case_id = match.case_id
        if case_id is None:
            return None
        self.book.lock(case_id)
        state = self.book.state(case_id)
        if state.status.is_closed:
            return None
        original = self._original(case_id, match.entry_id)
        new = self.book.link_media(case_id, {m: MediaLink(
            MediaVia.COPY, copy_of=original, distance=match.distance) for m in media})
        _, seq = self.book.append(case_id, [NewEvent(EventType.COPY_JOINED, {
            "items": len(items), "files": len(new), "distance": match.distance,
            "signal_type": match.signal_type})])
        # Hidden only if the case is, and the file copied is one it may hide: not one an
        # ordinary or abusive reporter added (that waits for a reviewer).
        hides = state.restricted and original in self.enforcement.credible(case_id, state)[1]
        action = "restrict" if hides else "review"
        self._act(case_id, seq, items, action, "copies a file of a case under review")
        return Recorded(case_id, action)

    def _original(self, case_id: int, entry_id: int) -> int | None:
        """The case's file whose reference (or, before its references were known, whose
        own signal) the matched entry is."""
        entry = self.session.get(BankEntryRow, entry_id)
        if entry is None:
            return None
        originals = select(CaseMediaRow.media_id).where(
            CaseMediaRow.case_id == case_id, CaseMediaRow.via != MediaVia.COPY.value)
        found = self.session.scalar(select(func.min(MediaReferenceRow.media_id)).where(
            MediaReferenceRow.media_id.in_(originals),
            MediaReferenceRow.signal_type == entry.signal_type,
            MediaReferenceRow.value == entry.value))
        return found if found is not None else self.session.scalar(
            select(func.min(SignalRow.media_id)).where(
                SignalRow.media_id.in_(originals), SignalRow.signal_type == entry.signal_type,
                SignalRow.lookup == entry.lookup))

    def _act(self, case_id: int, seq: int, items: set[int], action: str,
             reason: str) -> None:
        state = self.book.state(case_id)
        step = f"case:{case_id}:event:{seq}"
        if action == "block":
            self.enforcement.remove(case_id, state, step, reason, items)
        elif action == "restrict":
            self.enforcement.restrict(case_id, state, step, reason, items)

    def sweep(self, sweeper: Sweeper, entries: list[BankEntryRow]) -> int:
        """Act on every registered item that newly banked entries match; returns how
        many items were matched."""
        banks = {b.name: b for b in self.session.scalars(select(BankRow))}
        matched = 0
        for entry in entries:
            bank = banks[entry.bank]
            found = sweeper.media_for_entry(entry, bank.pdq_distance)
            items = self.graph.carriers(found)
            if not items:
                continue
            matched += len(items)
            category = sweeper.matcher.category_of(entry, bank)
            self.record(items, set(found), BankMatch(
                entry.id, bank.name, bank.action, category, entry.case_id, entry.signal_type,
                min(found.values())))
        return matched
