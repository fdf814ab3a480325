"""The in-memory indexes a process matches against, kept current from the database.

Two indexes: enabled perceptual bank entries, and every registered media file's
perceptual signals. Both are rebuilt at start-up from stored hashes (no media is
hashed again) and then follow `signal_changes`, the append-only feed every change
writes, before each search — so a hash added, disabled or deleted by any process
counts for the next query in every process.

Labels: `row id << 16 | position`, the position among the hashes the signal's type
says are worth matching on (0 for an image); `label >> 16` is the row.
PostgreSQL may commit feed rows out of id order (a long import can commit after
rows with higher ids), so the ids skipped over are remembered as gaps and looked up
again on each read until they appear, or until they are old enough to be ids of a
rolled-back transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.index.hamming import HammingIndex, words_from_hex
from takedown.media.signals import perceptual
from takedown.store.batches import chunks
from takedown.store.tables import BankEntryRow, SignalChangeRow, SignalRow

FRAME_BITS = 16
MAX_POSITIONS = 1 << FRAME_BITS  # a signal's hashes beyond this are not indexed
GAP_PATIENCE_S = 600.0  # a gap older than this was a rolled-back transaction


@dataclass(frozen=True)
class Hit:
    query: int
    ref_id: int  # bank_entries.id or media_signals.id
    position: int  # which of the row's hashes (a video's usable frame; 0 for an image)
    distance: int


class LiveIndex:
    def __init__(self, kind: str) -> None:
        assert kind in ("bank", "media")
        self.kind = kind
        # One index per index class the signal types name (today one: PDQ and vPDQ
        # frames are all 256-bit PDQ hashes, in one HammingIndex).
        self.indexes: dict[type[HammingIndex], HammingIndex] = {}
        self.present: dict[int, tuple[HammingIndex, int]] = {}  # ref id -> index, hashes
        self.seen_upto = 0
        self.gaps: dict[int, float] = {}  # feed ids skipped over -> when first missed
        self.lock = threading.Lock()

    def sync(self, session: Session) -> None:
        with self.lock:
            rows = self._new_changes(session)
            final: dict[int, str] = {}
            for _, op, ref_id in sorted(rows):
                final[ref_id] = op
            self._remove([r for r, op in final.items() if op == "remove" and r in self.present])
            self._add(session, [r for r, op in final.items()
                                if op == "add" and r not in self.present])

    def _new_changes(self, session: Session) -> list[tuple[int, str, int]]:
        """This index's feed rows not applied yet: those after the newest id seen, and
        late arrivals filling earlier gaps. Rows of the other kind are read too (each
        once) so that their ids are not mistaken for gaps."""
        columns = (SignalChangeRow.id, SignalChangeRow.kind, SignalChangeRow.op,
                   SignalChangeRow.ref_id)
        rows = list(session.execute(select(*columns).where(
            SignalChangeRow.id > self.seen_upto)))
        now = time.monotonic()
        for batch in chunks(list(self.gaps)):
            rows += session.execute(select(*columns).where(SignalChangeRow.id.in_(batch)))
        found = {row.id for row in rows}
        self.gaps = {g: t for g, t in self.gaps.items()
                     if g not in found and now - t < GAP_PATIENCE_S}
        newest = max(found, default=self.seen_upto)
        if newest > self.seen_upto:
            self.gaps.update((g, now) for g in range(self.seen_upto + 1, newest)
                             if g not in found)
            self.seen_upto = newest
        return [(r.id, r.op, r.ref_id) for r in rows if r.kind == self.kind]

    def _remove(self, refs: list[int]) -> None:
        for ref in refs:
            index, count = self.present.pop(ref)
            index.remove((ref << FRAME_BITS) | k for k in range(count))

    def _add(self, session: Session, refs: list[int]) -> None:
        labels: dict[HammingIndex, list[int]] = {}
        hexes: dict[HammingIndex, list[str]] = {}
        for ref_id, kind, value, quality in self._values(session, refs):
            signal_type = perceptual(kind)
            if signal_type is None:
                continue
            index = self.indexes.setdefault(signal_type.index_class,
                                            signal_type.index_class())
            hashes = signal_type.hashes(value, quality)[:MAX_POSITIONS]
            self.present[ref_id] = (index, len(hashes))
            labels.setdefault(index, []).extend((ref_id << FRAME_BITS) | k
                                                for k in range(len(hashes)))
            hexes.setdefault(index, []).extend(hashes)
        for index, wanted in labels.items():
            if wanted:
                index.add(np.array(wanted, dtype=np.int64), words_from_hex(hexes[index]))

    def _values(self, session: Session,
                refs: list[int]) -> Iterable[tuple[int, str, str, int | None]]:
        for batch in chunks(refs):
            if self.kind == "bank":  # imported hashes carry no quality: all are used
                for ref_id, kind, value in session.execute(
                        select(BankEntryRow.id, BankEntryRow.signal_type, BankEntryRow.value)
                        .where(BankEntryRow.id.in_(batch), BankEntryRow.enabled.is_(True))):
                    yield ref_id, kind, value, None
            else:
                for ref_id, kind, value, quality in session.execute(
                        select(SignalRow.id, SignalRow.signal_type, SignalRow.value,
                               SignalRow.quality).where(SignalRow.id.in_(batch))):
                    yield ref_id, kind, value, quality

    def positions(self, ref_id: int) -> int:
        """How many hashes of this row are indexed (a video's usable frames)."""
        with self.lock:
            return self.present.get(ref_id, (None, 0))[1]

    def search(self, session: Session, hashes: list[str], radius: int) -> list[Hit]:
        self.sync(session)
        if not hashes:
            return []
        words = words_from_hex(hashes)
        with self.lock:
            found = [index.search(words, radius) for index in self.indexes.values()]
        return [Hit(int(q), int(label) >> FRAME_BITS, int(label) & ((1 << FRAME_BITS) - 1),
                    int(d)) for hits in found
                for q, label, d in zip(hits.query, hits.label, hits.distance, strict=True)]


class Indexes:
    def __init__(self) -> None:
        self.bank = LiveIndex("bank")
        self.media = LiveIndex("media")
