"""vPDQ's match rule (upstream's defaults): a query video matches another when at
least 80% of the query's frames of quality >= 50 have a frame in the other within
PDQ distance 31."""

from __future__ import annotations

from collections.abc import Sequence

from takedown.media import pdq

Frames = Sequence[tuple[int, int, str, float]]  # (frame number, quality, hash, seconds)
MATCH_FRACTION = 0.8


def usable(frames: Frames) -> list[str]:
    return [h for _, q, h, _ in frames if q >= pdq.MIN_QUALITY]


def match_fraction(query: Frames, other: Frames,
                   distance: int = pdq.MATCH_DISTANCE) -> float:
    wanted = usable(query)
    candidates = [int(h, 16) for h in usable(other)]
    if not wanted or not candidates:
        return 0.0
    hits = sum(1 for h in wanted
               if any((int(h, 16) ^ c).bit_count() <= distance for c in candidates))
    return hits / len(wanted)


def video_match(query: Frames, other: Frames, distance: int = pdq.MATCH_DISTANCE) -> bool:
    return match_fraction(query, other, distance) >= MATCH_FRACTION
