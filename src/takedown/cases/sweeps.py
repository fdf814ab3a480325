"""Perceptual copies: registered media near given media (for a confirmed case: the
re-encoded, resized, cropped, watermarked, mirrored or greyscaled re-uploads) or near
newly banked hashes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.banks.matching import Matcher
from takedown.index.live import Indexes
from takedown.media import pdq
from takedown.media.decode import DecodeLimits, MediaRejected, image_luma
from takedown.media.signals import parse_vpdq
from takedown.media.storage import MediaStore
from takedown.store.tables import BankEntryRow, MediaRow, SignalRow


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
