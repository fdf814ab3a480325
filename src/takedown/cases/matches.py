"""Perceptual copies and bank matches on registered content.

`Sweeper` finds registered media near given media (for a confirmed case: re-encoded,
resized, cropped, watermarked, mirrored or greyscaled re-uploads) or near newly banked
hashes. `MatchDesk` turns a bank match on content into a case: it opens or joins the
case about that content, records the match, and acts as the bank says.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.banks.matching import BankMatch, Matcher
from takedown.cases.casebook import CaseBook
from takedown.cases.graph import ContentGraph
from takedown.domain.case import EventType, NewEvent
from takedown.index.live import Indexes
from takedown.media import pdq
from takedown.media.decode import DecodeLimits, MediaRejected, image_luma
from takedown.media.signals import parse_vpdq
from takedown.media.storage import MediaStore
from takedown.store.tables import BankEntryRow, BankRow, MediaRow, SignalRow


class Sweeper:
    def __init__(self, session: Session, indexes: Indexes, store: MediaStore,
                 limits: DecodeLimits | None = None) -> None:
        self.session = session
        self.matcher = Matcher(session, indexes)
        self.store = store
        self.limits = limits or DecodeLimits()

    def near_media(self, media_ids: set[int], distance: int) -> set[int]:
        """Registered media perceptually within `distance` of any of these media."""
        near: set[int] = set()
        for media_id in media_ids:
            for signal in self.session.scalars(
                    select(SignalRow).where(SignalRow.media_id == media_id)):
                if signal.signal_type == "pdq" and (signal.quality or 0) >= pdq.MIN_QUALITY:
                    hashes = self.query_hashes(media_id) or [signal.value]
                    near |= set(self.matcher.media_near(hashes, distance))
                elif signal.signal_type == "vpdq":
                    near |= self.matcher.videos_matching(parse_vpdq(signal.value), distance)
        return near - media_ids

    def query_hashes(self, media_id: int) -> list[str]:
        """An image's PDQ with its rotations, mirror images and centre crops, from the
        stored bytes: what finds flipped and cropped copies. [] if not an image."""
        media = self.session.get(MediaRow, media_id)
        if media is None:
            return []
        try:
            data = self.store.get(media.sha256)
            if not (media.mime or "").startswith("image/"):
                return []
            return pdq.pdq_augmented(image_luma(data, self.limits))
        except (OSError, MediaRejected):
            return []

    def media_for_entry(self, entry: BankEntryRow, distance: int) -> set[int]:
        """Registered media that a bank entry matches."""
        if entry.signal_type == "pdq":
            return set(self.matcher.media_near([entry.value], distance))
        if entry.signal_type == "vpdq":
            return self.matcher.videos_matching(parse_vpdq(entry.value), distance)
        return set(self.session.scalars(select(SignalRow.media_id).where(
            SignalRow.signal_type == entry.signal_type, SignalRow.lookup == entry.lookup)))


class MatchDesk:
    def __init__(self, session: Session, book: CaseBook, enforcement: object) -> None:
        from takedown.cases.enforcement import Enforcement

        assert isinstance(enforcement, Enforcement)
        self.session = session
        self.book = book
        self.enforcement = enforcement
        self.graph = ContentGraph(session)

    def record(self, items: set[int], match: BankMatch) -> int:
        """Open or join the case about these items, record the match, act on it."""
        case_id = match.case_id or self.book.case_about(self.graph, items) or self.book.open().id
        self.book.link(self.graph, case_id, items)
        state, seq = self.book.append(case_id, [NewEvent(EventType.HASH_MATCHED, {
            "bank": match.bank, "entry_id": match.entry_id, "signal_type": match.signal_type,
            "distance": match.distance, "category": match.category})])
        step = f"case:{case_id}:event:{seq}"
        reason = f"matches the {match.bank!r} hash bank"
        if match.action == "block":
            self.enforcement.remove(case_id, state, step, reason, items)
        elif match.action == "restrict":
            self.enforcement.restrict(case_id, state, step, reason)
        return case_id

    def sweep(self, sweeper: Sweeper, entries: list[BankEntryRow]) -> int:
        """Act on every registered item that newly banked entries match; returns how
        many items were matched."""
        banks = {b.name: b for b in self.session.scalars(select(BankRow))}
        matched = 0
        for entry in entries:
            bank = banks[entry.bank]
            media = sweeper.media_for_entry(entry, bank.pdq_distance)
            items = self.graph.carriers(media)
            if not items:
                continue
            matched += len(items)
            self.record(items, BankMatch(entry.id, bank.name, bank.action, bank.category,
                                         entry.case_id, entry.signal_type, 0))
        return matched
