"""Matching media against banks (screening) and banked hashes against registered
media (sweeps): exact signals by equality, PDQ within each bank's distance, vPDQ by
upstream's 80%-of-frames rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from takedown.cases.graph import chunks
from takedown.index.hamming import MAX_RADIUS
from takedown.index.live import Hit, Indexes
from takedown.media import pdq
from takedown.media.signals import Signal, parse_vpdq
from takedown.media.vpdq import video_match
from takedown.store.tables import BankEntryRow, BankRow, CaseRow, SignalRow


@dataclass(frozen=True)
class BankMatch:
    entry_id: int
    bank: str
    action: str
    category: str
    case_id: int | None
    signal_type: str
    distance: int


class Matcher:
    def __init__(self, session: Session, indexes: Indexes) -> None:
        self.session = session
        self.indexes = indexes

    # --- screening: media against banks ------------------------------------------

    def against_banks(self, signals: list[Signal]) -> list[BankMatch]:
        """Bank matches for media signals, most urgent first (block, restrict, review;
        nearest first). A PDQ signal's rotations and mirror images are queried too, so a
        flipped re-upload still matches."""
        found: dict[int, int] = {}  # entry id -> best distance
        exact = [(s.signal_type, s.lookup) for s in signals
                 if s.signal_type in ("sha256", "md5")]
        for batch in chunks(exact):
            for entry_id in self.session.scalars(
                    select(BankEntryRow.id).where(
                        tuple_(BankEntryRow.signal_type, BankEntryRow.lookup).in_(batch),
                        BankEntryRow.enabled.is_(True))):
                found[entry_id] = 0
        for signal in signals:
            if signal.signal_type == "pdq" and (signal.quality or 0) >= pdq.MIN_QUALITY:
                queries = list(dict.fromkeys([signal.value, *signal.variants]))
                for hit in self.indexes.bank.search(self.session, queries, MAX_RADIUS):
                    found[hit.ref_id] = min(found.get(hit.ref_id, 99), hit.distance)
            elif signal.signal_type == "vpdq":
                found.update(self._video_entries(parse_vpdq(signal.value)))
        return self._within_bank_distance(found)

    def _video_entries(self, frames: list[tuple[int, int, str, float]]) -> dict[int, int]:
        usable = [h for _, q, h, _ in frames if q >= pdq.MIN_QUALITY]
        candidates = {hit.ref_id for hit in self.indexes.bank.search(
            self.session, usable, MAX_RADIUS)}
        matched = {}
        for entry in self._entries(candidates):
            bank = self.session.get(BankRow, entry.bank)
            if entry.signal_type == "vpdq" and bank is not None and video_match(
                    frames, parse_vpdq(entry.value), bank.pdq_distance):
                matched[entry.id] = 0
        return matched

    def _entries(self, ids: Iterable[int]) -> list[BankEntryRow]:
        rows: list[BankEntryRow] = []
        for batch in chunks(ids):
            rows.extend(self.session.scalars(select(BankEntryRow).where(
                BankEntryRow.id.in_(batch), BankEntryRow.enabled.is_(True))))
        return rows

    def _within_bank_distance(self, found: dict[int, int]) -> list[BankMatch]:
        banks = {b.name: b for b in self.session.scalars(select(BankRow))}
        matches = []
        for entry in self._entries(found):
            bank = banks[entry.bank]
            distance = found[entry.id]
            if entry.signal_type != "pdq" or distance <= bank.pdq_distance:
                matches.append(BankMatch(entry.id, bank.name, bank.action,
                                         self.category_of(entry, bank), entry.case_id,
                                         entry.signal_type, distance))
        # Block before restrict before review; nearest first.
        order = {"block": 0, "restrict": 1, "review": 2}
        return sorted(matches, key=lambda m: (order[m.action], m.distance, m.entry_id))

    def category_of(self, entry: BankEntryRow, bank: BankRow) -> str:
        """An entry a case confirmed carries that case's category (the `confirmed`
        bank holds every category); others carry their bank's."""
        if entry.case_id is not None:
            case = self.session.get(CaseRow, entry.case_id)
            if case is not None and case.category:
                return case.category
        return bank.category

    # --- sweeps: hashes against registered media ---------------------------------

    def media_near(self, hashes: list[str], radius: int) -> dict[int, int]:
        """Registered media with a PDQ hash (or a video frame) within `radius` of any of
        `hashes`: media id -> distance. Videos need the vPDQ rule on top."""
        hits = self.indexes.media.search(self.session, hashes, radius)
        best: dict[int, int] = {}
        for signal_id, distance in self._media_of_signals(hits):
            best[signal_id] = min(best.get(signal_id, 99), distance)
        return best

    def _media_of_signals(self, hits: list[Hit]) -> list[tuple[int, int]]:
        by_signal: dict[int, int] = defaultdict(lambda: 99)
        for hit in hits:
            by_signal[hit.ref_id] = min(by_signal[hit.ref_id], hit.distance)
        pairs = []
        for batch in chunks(by_signal):
            for signal_id, media_id, kind in self.session.execute(
                    select(SignalRow.id, SignalRow.media_id, SignalRow.signal_type)
                    .where(SignalRow.id.in_(batch))):
                if kind == "pdq":
                    pairs.append((media_id, by_signal[signal_id]))
        return pairs

    def videos_matching(self, frames: list[tuple[int, int, str, float]],
                        radius: int) -> set[int]:
        usable = [h for _, q, h, _ in frames if q >= pdq.MIN_QUALITY]
        signal_ids = {hit.ref_id for hit in self.indexes.media.search(
            self.session, usable, radius)}
        matched = set()
        for batch in chunks(signal_ids):
            for media_id, kind, value in self.session.execute(
                    select(SignalRow.media_id, SignalRow.signal_type, SignalRow.value)
                    .where(SignalRow.id.in_(batch))):
                if kind == "vpdq" and video_match(frames, parse_vpdq(value), radius):
                    matched.add(media_id)
        return matched


def stored_hits(session: Session, media_ids: Iterable[int]) -> list[BankEntryRow]:
    """Enabled bank entries holding exactly a stored signal of one of these media."""
    hits: list[BankEntryRow] = []
    for batch in chunks(media_ids):
        signals = select(SignalRow.signal_type, SignalRow.lookup).where(
            SignalRow.media_id.in_(batch))
        hits.extend(session.scalars(
            select(BankEntryRow)
            .where(BankEntryRow.enabled.is_(True))
            .where(tuple_(BankEntryRow.signal_type, BankEntryRow.lookup).in_(signals))
            .order_by(BankEntryRow.id)))
    return hits
