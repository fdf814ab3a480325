"""Copies: the registered media that a case's files, or a newly banked hash, match.

A file that was reported, matched a bank or was confirmed is matched with its
*references* (see `media.signals.SignalType.references`: an image after each edit
re-uploaders make, a video at every frame), computed once from its stored bytes and
kept in `media_references`. Computing them costs a fraction of a second for an
image and seconds for a long video, so the service computes them before it opens a
transaction where it can (`References.compute_missing`), and here only as a fallback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.banks.matching import Matcher
from takedown.clock import utcnow
from takedown.index.live import Indexes
from takedown.media.decode import DecodeLimits, MediaRejected
from takedown.media.signals import SIGNAL_TYPES, Signal
from takedown.media.storage import MediaStore
from takedown.store.batches import chunks
from takedown.store.db import Database
from takedown.store.tables import BankEntryRow, MediaReferenceRow, MediaRow, SignalRow


@dataclass(frozen=True)
class Copy:
    media_id: int
    copy_of: int  # the file it copies
    distance: int


class References:
    """Reference signals of stored files, computed once and kept."""

    def __init__(self, session: Session, store: MediaStore,
                 limits: DecodeLimits | None = None, *, compute: bool = True) -> None:
        self.session = session
        self.store = store
        self.limits = limits or DecodeLimits()
        self.compute = compute

    def missing(self, media_ids: Iterable[int]) -> set[int]:
        """The files among these whose references are not stored yet."""
        return {m for batch in chunks(media_ids) for m in self.session.scalars(
            select(MediaRow.id).where(MediaRow.id.in_(batch),
                                      MediaRow.references_at.is_(None)))}

    def of(self, media_id: int) -> list[Signal]:
        """The file's references; computed now if missing (and allowed), else []."""
        media = self.session.get(MediaRow, media_id)
        if media is None or (media.references_at is None and not self.compute):
            return []
        if media.references_at is None:
            self.session.refresh(media, with_for_update=True)  # one writer per file
            self.save(media, compute(self.store, media.sha256, media.mime, self.limits))
        return [Signal(r.signal_type, r.value, r.quality, note=r.note)
                for r in self.session.scalars(select(MediaReferenceRow).where(
                    MediaReferenceRow.media_id == media_id).order_by(MediaReferenceRow.id))]

    def save(self, media: MediaRow, computed: tuple[list[Signal], set[str]]) -> None:
        """Store what was computed; for a signal type that could not compute references
        (the file gone from the store, a video over the decoding limits), the file's
        signals as uploaded stand in, so that it is still matched as it was."""
        if media.references_at is not None:  # another request got there first
            return
        signals, failed = computed
        signals = signals + [Signal(kind, value, quality) for kind, value, quality in
                             self.session.execute(select(
                                 SignalRow.signal_type, SignalRow.value, SignalRow.quality)
                                 .where(SignalRow.media_id == media.id,
                                        SignalRow.signal_type.in_(failed)))]
        self.session.add_all(MediaReferenceRow(
            media_id=media.id, signal_type=s.signal_type, value=s.value, quality=s.quality,
            note=s.note) for s in signals)
        media.references_at = utcnow()
        self.session.flush()

    @staticmethod
    def compute_missing(db: Database, store: MediaStore, media_ids: Iterable[int],
                        limits: DecodeLimits | None = None) -> None:
        """Compute and store references for these files, hashing outside any
        transaction (on SQLite every transaction holds the write lock)."""
        with db.transaction() as s:
            ids = References(s, store).missing(media_ids)
            missing = [(m.id, m.sha256, m.mime) for m in (s.get(MediaRow, i) for i in ids)
                       if m is not None]
        for media_id, sha256, mime in missing:
            signals = compute(store, sha256, mime, limits or DecodeLimits())
            with db.transaction() as s:
                row = s.get(MediaRow, media_id, with_for_update=True)
                if row is not None:
                    References(s, store, limits).save(row, signals)


def compute(store: MediaStore, sha256: str, mime: str | None,
            limits: DecodeLimits) -> tuple[list[Signal], set[str]]:
    """A stored file's references, and the signal types that could not compute theirs
    (every type, if the file is gone from the store)."""
    try:
        data = store.get(sha256)
    except OSError:
        return [], set(SIGNAL_TYPES)
    signals: list[Signal] = []
    failed: set[str] = set()
    for name, kind in SIGNAL_TYPES.items():
        try:
            signals.extend(kind.references(data, mime, limits))
        except MediaRejected:
            failed.add(name)
    return signals, failed


class Sweeper:
    def __init__(self, session: Session, indexes: Indexes, store: MediaStore,
                 limits: DecodeLimits | None = None, *, compute: bool = True) -> None:
        self.session = session
        self.matcher = Matcher(session, indexes)
        self.references = References(session, store, limits, compute=compute)
        self._copies: dict[tuple[int, int], list[Copy]] = {}  # one sweep per file per call

    def copies_of(self, media_ids: Iterable[int], distance: int) -> dict[int, Copy]:
        """Registered files that match any of these files' references (the files
        themselves left out), each with the nearest file it copies."""
        originals = set(media_ids)
        found: dict[int, Copy] = {}
        for original in sorted(originals):
            for copy in self._sweep(original, distance):
                known = found.get(copy.media_id)
                if copy.media_id not in originals and (known is None
                                                       or copy.distance < known.distance):
                    found[copy.media_id] = copy
        return found

    def _sweep(self, original: int, distance: int) -> list[Copy]:
        key = (original, distance)
        if key not in self._copies:
            matched = self.matcher.media_matching(self.references.of(original), distance)
            self._copies[key] = [Copy(m, original, d) for m, d in matched.items()]
        return self._copies[key]

    def media_for_entry(self, entry: BankEntryRow, distance: int) -> dict[int, int]:
        """Registered files that a bank entry matches: file id -> distance."""
        return self.matcher.media_matching([Signal(entry.signal_type, entry.value)], distance)
