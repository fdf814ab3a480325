"""Signal types: each hash algorithm is one class that owns its hashing and its
matching, and `SIGNAL_TYPES` below is the one place they are registered. No code
outside this module asks which algorithm a signal is; it asks the signal's type.

A signal is what a bank stores and what matching compares. Exact digests (SHA-256,
MD5) match when equal. Perceptual signals are sequences of 256-bit PDQ hashes in
one Hamming index: a PDQ image is one hash, a vPDQ video one hash per sampled
frame. Matching counts how many of an *upload's* hashes have a counterpart within
the distance in the other signal, and the upload's type judges that count
(`PerceptualType.accepts`): an image needs its one hash; a video needs 80% of its
frames against another video (upstream vPDQ's rule), or two frames showing an image.

Each type hashes a file two ways: `compute`, what an upload is hashed to (stored,
exchanged, compared), and `references`, what a reported or confirmed file is
matched *with*: for images the hashes after each edit re-uploaders make, for videos
every frame, so that a clip cut at any offset finds its frames.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np

from takedown.index.hamming import HammingIndex
from takedown.media import pdq as pdq_math
from takedown.media.decode import DecodeLimits, Frame, image_luma, video_frames


class UnsupportedMedia(ValueError):
    """The signal type cannot hash this file; the message says why."""


@dataclass(frozen=True)
class Signal:
    signal_type: str
    value: str
    quality: int | None = None
    # PDQ only, at query time: the hashes of the image's 7 other rotations and mirror
    # images, which stand for the same picture.
    variants: tuple[str, ...] = ()
    # How a signal was derived, where it was ("borders trimmed", "rotated +3 degrees").
    note: str | None = None

    @property
    def lookup(self) -> str:
        """Short, indexable form: the value, or a SHA-256 of a long one (vPDQ)."""
        if len(self.value) <= 64:
            return self.value
        return hashlib.sha256(self.value.encode()).hexdigest()


class SignalType(ABC):
    name: ClassVar[str]
    # Exact signals match only when equal; perceptual ones within a distance.
    exact: ClassVar[bool]

    @abstractmethod
    def compute(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        """The signals of one uploaded file, or [] where this type does not apply.
        Raises MediaRejected for a file of its kind that cannot be decoded safely."""

    def references(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        """What a reported or confirmed file is matched with: by default its signals."""
        return self.compute(data, mime, limits)

    def normalise(self, value: str) -> str:
        """The canonical spelling of a value from an import or a user."""
        return value.strip().lower()

    def one_line(self, value: str) -> str:
        """The value on one line, for line-based exchange formats (CSV)."""
        return value

    def describe(self, signal: Signal) -> dict[str, object]:
        """The signal for people and JSON output."""
        return {"hash": signal.value}


class _Digest(SignalType):
    exact = True
    algorithm: ClassVar[str]
    hex_length: ClassVar[int]

    def compute(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        return [Signal(self.name, hashlib.new(self.algorithm, data).hexdigest())]

    def normalise(self, value: str) -> str:
        text = value.strip().lower()
        if len(text) != self.hex_length or any(c not in "0123456789abcdef" for c in text):
            raise ValueError(f"{self.name}: expected {self.hex_length} hex digits")
        return text


class SHA256(_Digest):
    name = "sha256"
    algorithm = "sha256"
    hex_length = 64


class MD5(_Digest):
    """Kept because NCMEC's and StopNCII's exchanges still carry MD5 lists."""

    name = "md5"
    algorithm = "md5"
    hex_length = 32


class PerceptualType(SignalType):
    """A sequence of PDQ hashes, matched within a Hamming distance in one index."""

    exact = False
    # Types sharing an index class share one index, so that they match each other (a
    # video's frames and pictures are all PDQ hashes).
    index_class: ClassVar[type[HammingIndex]] = HammingIndex
    match_distance: ClassVar[int] = pdq_math.MATCH_DISTANCE
    min_quality: ClassVar[int] = pdq_math.MIN_QUALITY  # upstream discards hashes below
    sequence: ClassVar[bool]  # many hashes in time (a video), or one (an image)

    @abstractmethod
    def hashes(self, value: str, quality: int | None) -> list[str]:
        """The hashes worth matching on, in order (quality gate applied). The index
        labels each by its position here."""

    def query(self, signal: Signal) -> list[list[str]]:
        """For each position of `hashes`, the hashes that stand for it in a search."""
        return [[h] for h in self.hashes(signal.value, signal.quality)]

    @abstractmethod
    def accepts(self, matched: int, usable: int, other: PerceptualType) -> bool:
        """Whether an upload of this type matches `other`, given that `matched` of its
        `usable` hashes have a counterpart in `other` within the distance."""


class PDQ(PerceptualType):
    """Meta's PDQ for images: 256 bits, matched within Hamming distance 31."""

    name = "pdq"
    sequence = False

    def compute(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        if not (mime or "").startswith("image/"):
            return []
        luma = image_luma(data, limits)
        signals = [self._with_variants(luma)]
        trimmed = pdq_math.trim_borders(luma)
        if trimmed is not None:  # a letterbox, pillarbox or frame: the picture inside too
            signals.append(self._with_variants(trimmed, "borders trimmed"))
        return signals

    def _with_variants(self, luma: np.ndarray, note: str | None = None) -> Signal:
        hashes, quality = pdq_math.pdq_dihedral(luma)
        return Signal(self.name, hashes[0], quality, tuple(hashes[1:]), note)

    def references(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        """The image as it is, borders trimmed, its 7 rotations and mirror images, and
        each edit in `pdq.reference_edits`. Hashes too poor in detail are left out, and
        a picture too poor in detail as it is has none: black corners or a crop must
        not lend it a detail it lacks, which any other flat picture edited alike has."""
        if not (mime or "").startswith("image/"):
            return []
        luma = image_luma(data, limits)
        if pdq_math.pdq(luma)[1] < self.min_quality:
            return []
        pictures = [("as uploaded", luma)]
        trimmed = pdq_math.trim_borders(luma)
        if trimmed is not None:
            pictures.append(("borders trimmed", trimmed))
        found: dict[str, Signal] = {}
        for note, picture in pictures:
            hashes, quality = pdq_math.pdq_dihedral(picture)
            for n, value in enumerate(hashes):
                how = note if n == 0 else f"{note}, rotated or mirrored ({n})"
                found.setdefault(value, Signal(self.name, value, quality, note=how))
        for note, picture in pdq_math.reference_edits(luma):
            value, quality = pdq_math.pdq(picture)
            found.setdefault(value, Signal(self.name, value, quality, note=note))
        return [s for s in found.values() if s.quality is None or s.quality >= self.min_quality]

    def normalise(self, value: str) -> str:
        text = value.strip().lower()
        pdq_math.to_bytes(text)
        return text

    def hashes(self, value: str, quality: int | None) -> list[str]:
        return [] if quality is not None and quality < self.min_quality else [value]

    def describe(self, signal: Signal) -> dict[str, object]:
        found: dict[str, object] = {"hash": signal.value, "quality": signal.quality}
        if signal.note:
            found["note"] = signal.note
        if signal.variants:
            found["rotations_and_mirrors"] = list(signal.variants)
        return found

    def query(self, signal: Signal) -> list[list[str]]:
        if not self.hashes(signal.value, signal.quality):
            return []
        return [list(dict.fromkeys([signal.value, *signal.variants]))]

    def accepts(self, matched: int, usable: int, other: PerceptualType) -> bool:
        return matched >= 1


# A video shows a banked image when this many of its sampled frames (or all, if it
# has fewer) are that image: a slideshow, or the image filmed. One frame alone could
# be a coincidence; two seconds of it is a showing.
FRAMES_SHOWING_AN_IMAGE = 2


class VPDQ(PerceptualType):
    """vPDQ for videos: one PDQ per sampled frame (1 per second by default). The value
    is one `frame,quality,hash,seconds` line per frame, upstream's text format."""

    name = "vpdq"
    sequence = True
    match_fraction: ClassVar[float] = 0.8  # upstream's share of the query's frames

    def compute(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        if not (mime or "").startswith("video/"):
            return []
        with closing(video_frames(data, limits)) as frames:  # the decode slot goes back
            return self._signals(frames)                    # even if hashing fails

    def references(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        """Every frame (near-identical neighbours once) as one sequence: a clip cut at
        any offset, shorter or re-cut, finds each of its frames here. A frame with
        borders is taken with them trimmed: an upload with the same borders, other
        borders or none has a signal with them trimmed, or none to trim."""
        if not (mime or "").startswith("video/"):
            return []
        lines, last = [], ""
        with closing(video_frames(data, limits, every_frame=True)) as frames:
            for frame, (value, quality) in _hashed(frames, _inside_hash):
                if last and pdq_math.distance(value, last) <= REFERENCE_DEDUPE:
                    continue
                last = value
                lines.append(f"{frame.number},{quality},{value},{frame.timestamp:.3f}")
        return [Signal(self.name, "\n".join(lines), note="every frame")]

    def _signals(self, frames: Iterable[Frame]) -> list[Signal]:
        """The sequence as sampled, and, if any frame has borders, with them trimmed."""
        plain: list[str] = []
        trimmed: list[str] = []
        for frame, ((value, quality), inside) in _hashed(frames, _both_hashes):
            plain.append(f"{frame.number},{quality},{value},{frame.timestamp:.3f}")
            value, quality = inside or (value, quality)
            trimmed.append(f"{frame.number},{quality},{value},{frame.timestamp:.3f}")
        signals = [Signal(self.name, "\n".join(plain))]
        if trimmed != plain:
            signals.append(Signal(self.name, "\n".join(trimmed), note="borders trimmed"))
        return signals

    def normalise(self, value: str) -> str:
        frames = parse_vpdq(value)
        if not frames:
            raise ValueError("vpdq: no frames")
        return "\n".join(f"{n},{q},{h},{t:.3f}" for n, q, h, t in frames)

    def one_line(self, value: str) -> str:
        return value.replace("\n", ";")

    def hashes(self, value: str, quality: int | None) -> list[str]:
        return [h for _, q, h, _ in parse_vpdq(value) if q >= self.min_quality]

    def describe(self, signal: Signal) -> dict[str, object]:
        found: dict[str, object] = {"frames": [
            {"frame": n, "quality": q, "hash": h, "timestamp": t}
            for n, q, h, t in parse_vpdq(signal.value)]}
        if signal.note:
            found["note"] = signal.note
        return found

    def accepts(self, matched: int, usable: int, other: PerceptualType) -> bool:
        if usable == 0:
            return False
        if other.sequence:
            return matched / usable >= self.match_fraction
        return matched >= min(FRAMES_SHOWING_AN_IMAGE, usable)


REFERENCE_DEDUPE = 4  # neighbouring frames within this many bits are kept once
_BATCH = 32  # frames decoded ahead of their hashing (bounds the memory held)
_HASHERS = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1),
                              thread_name_prefix="takedown-pdq")


def _both_hashes(frame: Frame) -> tuple[tuple[str, int], tuple[str, int] | None]:
    """The frame's PDQ, and its PDQ with borders trimmed if it has borders."""
    inside = pdq_math.trim_borders(frame.luma)
    return pdq_math.pdq(frame.luma), None if inside is None else pdq_math.pdq(inside)


def _inside_hash(frame: Frame) -> tuple[str, int]:
    """The frame's PDQ, with borders trimmed if it has borders."""
    inside = pdq_math.trim_borders(frame.luma)
    return pdq_math.pdq(frame.luma if inside is None else inside)


Hashed = TypeVar("Hashed")


def _hashed(frames: Iterable[Frame],
            hashing: Callable[[Frame], Hashed]) -> Iterator[tuple[Frame, Hashed]]:
    """Each frame with what `hashing` makes of it, hashed on a few threads (pdqhash
    releases the GIL) while the next frames decode."""
    batch: list[Frame] = []
    for frame in itertools.chain(frames, [None]):  # None: the end, flush the batch
        if frame is not None:
            batch.append(frame)
        if len(batch) == _BATCH or (frame is None and batch):
            yield from zip(batch, _HASHERS.map(hashing, batch), strict=True)
            batch = []


def parse_vpdq(value: str) -> list[tuple[int, int, str, float]]:
    """`frame,quality,hash,seconds` lines (upstream's .txt format) to tuples."""
    frames = []
    for line in value.replace(";", "\n").strip().splitlines():
        number, quality, hex_hash, seconds = line.strip().split(",")
        pdq_math.to_bytes(hex_hash)
        frames.append((int(number), int(quality), hex_hash.lower(), float(seconds)))
    return frames


SIGNAL_TYPES: dict[str, SignalType] = {t.name: t for t in (SHA256(), MD5(), PDQ(), VPDQ())}
PERCEPTUAL: dict[str, PerceptualType] = {
    name: t for name, t in SIGNAL_TYPES.items() if isinstance(t, PerceptualType)}


DEFAULT_DISTANCE = PerceptualType.match_distance  # a new bank's, unless it says otherwise


def compute_signals(data: bytes, mime: str | None,
                    limits: DecodeLimits | None = None) -> list[Signal]:
    limits = limits or DecodeLimits()
    signals: list[Signal] = []
    for signal_type in SIGNAL_TYPES.values():
        signals.extend(signal_type.compute(data, mime, limits))
    return signals


def reference_signals(data: bytes, mime: str | None,
                      limits: DecodeLimits | None = None) -> list[Signal]:
    """What a reported or confirmed file is matched with (see `SignalType.references`)."""
    limits = limits or DecodeLimits()
    signals: list[Signal] = []
    for signal_type in SIGNAL_TYPES.values():
        signals.extend(signal_type.references(data, mime, limits))
    return signals


def signal_type(name: str) -> SignalType:
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown signal type {name!r}; known: {sorted(SIGNAL_TYPES)}") from None


def perceptual(name: str) -> PerceptualType | None:
    """The perceptual type of this name, or None for an exact one."""
    return PERCEPTUAL.get(name)


def video_match(query: Iterable[tuple[int, int, str, float]],
                other: Iterable[tuple[int, int, str, float]],
                distance: int = pdq_math.MATCH_DISTANCE) -> bool:
    """Upstream vPDQ's rule on two parsed videos: at least 80% of the query's usable
    frames have a usable frame of the other within `distance`."""
    video = PERCEPTUAL["vpdq"]
    wanted = [h for _, q, h, _ in query if q >= video.min_quality]
    others = [int(h, 16) for _, q, h, _ in other if q >= video.min_quality]
    if not others:
        return False
    matched = sum(1 for h in wanted if any((int(h, 16) ^ o).bit_count() <= distance
                                           for o in others))
    return video.accepts(matched, len(wanted), video)
