"""Matching, both ways round, with the rules the signal types own:

* screening: one uploaded file's signals against the banks (`against_banks`);
* sweeps: reference signals (a bank entry, or a reported or confirmed file's
  references) against every registered file (`media_matching`).

Exact signals match by equality in SQL. Perceptual ones are searched in the live
Hamming indexes; for each candidate, the hashes of the *uploaded* side that found a
counterpart within the distance are counted, and the uploaded side's signal type
judges the count (`PerceptualType.accepts`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from takedown.index.hamming import MAX_RADIUS
from takedown.index.live import Indexes
from takedown.media.signals import Signal, perceptual
from takedown.store.batches import chunks
from takedown.store.tables import BankEntryRow, BankRow, CaseRow, SignalRow

_ACTION_ORDER = {"block": 0, "restrict": 1, "review": 2}


@dataclass(frozen=True)
class BankMatch:
    entry_id: int
    bank: str
    action: str
    category: str
    case_id: int | None
    signal_type: str
    distance: int


@dataclass(frozen=True)
class _Query:
    """Hashes searched at once, each remembering which signal and position it is for."""

    hashes: list[str]
    owner: list[tuple[int, int]]  # (signal index, position) per hash

    @staticmethod
    def of_uploads(signals: list[Signal]) -> _Query:
        hashes: list[str] = []
        owner: list[tuple[int, int]] = []
        for n, signal in enumerate(signals):
            kind = perceptual(signal.signal_type)
            for position, stand_ins in enumerate(kind.query(signal) if kind else []):
                hashes.extend(stand_ins)
                owner.extend((n, position) for _ in stand_ins)
        return _Query(hashes, owner)

    @staticmethod
    def of_references(signals: list[Signal]) -> _Query:
        hashes: list[str] = []
        owner: list[tuple[int, int]] = []
        for n, signal in enumerate(signals):
            kind = perceptual(signal.signal_type)
            values = kind.hashes(signal.value, signal.quality) if kind else []
            hashes.extend(values)
            owner.extend((n, p) for p in range(len(values)))
        return _Query(hashes, owner)


def urgency(match: BankMatch) -> tuple[int, int, int]:
    """Block before restrict before review; nearest first."""
    return _ACTION_ORDER[match.action], match.distance, match.entry_id


class Matcher:
    def __init__(self, session: Session, indexes: Indexes) -> None:
        self.session = session
        self.indexes = indexes

    # --- screening: one file's signals against the banks -------------------------

    def against_banks(self, signals: list[Signal]) -> list[BankMatch]:
        """Bank matches for one file's signals, most urgent first (block, restrict,
        review; nearest first). A PDQ signal's rotations and mirror images count as it."""
        found: dict[int, int] = {}  # entry id -> distance
        exact = [(s.signal_type, s.lookup) for s in signals if perceptual(s.signal_type) is None]
        for batch in chunks(exact):
            for entry_id in self.session.scalars(
                    select(BankEntryRow.id).where(
                        tuple_(BankEntryRow.signal_type, BankEntryRow.lookup).in_(batch),
                        BankEntryRow.enabled.is_(True))):
                found[entry_id] = 0
        found.update(self._perceptual_entries(signals))
        return self._as_matches(found)

    def _perceptual_entries(self, signals: list[Signal]) -> dict[int, int]:
        query = _Query.of_uploads(signals)
        hits = self.indexes.bank.search(self.session, query.hashes, MAX_RADIUS)
        if not hits:
            return {}
        entries = {e.id: e for e in self._entries({h.ref_id for h in hits})}
        banks = self._banks()
        # (entry, upload signal) -> {position: best distance} within the bank's distance
        near: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
        for hit in hits:
            entry = entries.get(hit.ref_id)
            if entry is None or hit.distance > banks[entry.bank].pdq_distance:
                continue
            signal, position = query.owner[hit.query]
            best = near[(entry.id, signal)]
            best[position] = min(best.get(position, MAX_RADIUS + 1), hit.distance)
        found: dict[int, int] = {}
        for (entry_id, n), positions in near.items():
            upload = perceptual(signals[n].signal_type)
            other = perceptual(entries[entry_id].signal_type)
            assert upload is not None and other is not None  # both came from the index
            usable = len(upload.query(signals[n]))
            if upload.accepts(len(positions), usable, other):
                distance = min(positions.values())
                found[entry_id] = min(found.get(entry_id, distance), distance)
        return found

    def _entries(self, ids: Iterable[int]) -> list[BankEntryRow]:
        rows: list[BankEntryRow] = []
        for batch in chunks(ids):
            rows.extend(self.session.scalars(select(BankEntryRow).where(
                BankEntryRow.id.in_(batch), BankEntryRow.enabled.is_(True))))
        return rows

    def _banks(self) -> dict[str, BankRow]:
        return {b.name: b for b in self.session.scalars(select(BankRow))}

    def _as_matches(self, found: dict[int, int]) -> list[BankMatch]:
        banks = self._banks()
        matches = [BankMatch(entry.id, entry.bank, banks[entry.bank].action,
                             self.category_of(entry, banks[entry.bank]), entry.case_id,
                             entry.signal_type, found[entry.id])
                   for entry in self._entries(found)]
        return sorted(matches, key=urgency)

    def category_of(self, entry: BankEntryRow, bank: BankRow) -> str:
        """An entry a case put in a bank carries that case's category (the
        `confirmed` bank holds every category); others carry their bank's."""
        if entry.case_id is not None:
            case = self.session.get(CaseRow, entry.case_id)
            if case is not None and case.category:
                return case.category
        return bank.category

    # --- sweeps: reference signals against every registered file -------------------

    def media_matching(self, references: list[Signal], distance: int) -> dict[int, int]:
        """Registered media that these reference signals match: media id -> distance.
        Exact signals by equality; perceptual ones judged from the registered
        (uploaded) side: a clip matches when 80% of its frames are in a reference
        video, an image when its hash is near any reference hash or frame."""
        best: dict[int, int] = {}
        exact = [(s.signal_type, s.lookup) for s in references
                 if perceptual(s.signal_type) is None]
        for batch in chunks(exact):
            for media_id in self.session.scalars(select(SignalRow.media_id).where(
                    tuple_(SignalRow.signal_type, SignalRow.lookup).in_(batch))):
                best[media_id] = 0
        for media_id, found in self._perceptual_media(references, distance).items():
            best[media_id] = min(best.get(media_id, found), found)
        return best

    def _perceptual_media(self, references: list[Signal], distance: int) -> dict[int, int]:
        query = _Query.of_references(references)
        hits = self.indexes.media.search(self.session, query.hashes, distance)
        # (registered signal, reference signal) -> {registered position: best distance}
        near: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
        for hit in hits:
            reference, _ = query.owner[hit.query]
            seen = near[(hit.ref_id, reference)]
            seen[hit.position] = min(seen.get(hit.position, MAX_RADIUS + 1), hit.distance)
        rows = self._signal_rows({signal_id for signal_id, _ in near})
        found: dict[int, int] = {}
        for (signal_id, n), positions in near.items():
            media_id, kind = rows[signal_id]
            upload = perceptual(kind)
            other = perceptual(references[n].signal_type)
            assert upload is not None and other is not None
            usable = self.indexes.media.positions(signal_id)
            if upload.accepts(len(positions), usable, other):
                d = min(positions.values())
                found[media_id] = min(found.get(media_id, d), d)
        return found

    def _signal_rows(self, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
        rows: dict[int, tuple[int, str]] = {}
        for batch in chunks(ids):
            rows.update((i, (m, k)) for i, m, k in self.session.execute(
                select(SignalRow.id, SignalRow.media_id, SignalRow.signal_type)
                .where(SignalRow.id.in_(batch))))
        return rows


def stored_hits(session: Session, media_ids: Iterable[int],
                exclude: str = "") -> list[BankEntryRow]:
    """Enabled bank entries (of any bank but `exclude`) holding exactly a stored signal
    of one of these media."""
    hits: list[BankEntryRow] = []
    for batch in chunks(media_ids):
        signals = select(SignalRow.signal_type, SignalRow.lookup).where(
            SignalRow.media_id.in_(batch))
        hits.extend(session.scalars(
            select(BankEntryRow)
            .where(BankEntryRow.enabled.is_(True), BankEntryRow.bank != exclude)
            .where(tuple_(BankEntryRow.signal_type, BankEntryRow.lookup).in_(signals))
            .order_by(BankEntryRow.id)))
    return hits
