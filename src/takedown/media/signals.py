"""Signal types: each hash algorithm is one class behind one interface, and
`SIGNAL_TYPES` below is the one place they are registered.

A signal is what a bank stores and what matching compares: exact digests (SHA-256,
MD5) match when equal; PDQ (images) within a Hamming distance; vPDQ (videos) when
enough of one video's frames have a PDQ match in the other.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from takedown.media import pdq as pdq_math
from takedown.media.decode import DecodeLimits, image_luma, video_frames


class UnsupportedMedia(ValueError):
    """The signal type cannot hash this file; the message says why."""


@dataclass(frozen=True)
class Signal:
    signal_type: str
    value: str
    quality: int | None = None
    # PDQ only: the hashes of the image's 7 other rotations and mirror images.
    variants: tuple[str, ...] = ()

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
        """The signals of one media file, or [] where this type does not apply.
        Raises MediaRejected for a file of its kind that cannot be decoded safely."""

    def normalise(self, value: str) -> str:
        """The canonical spelling of a value from an import or a user."""
        return value.strip().lower()


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


class PDQ(SignalType):
    """Meta's PDQ for images: 256 bits, matched within Hamming distance 31."""

    name = "pdq"
    exact = False

    def compute(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        if not (mime or "").startswith("image/"):
            return []
        hashes, quality = pdq_math.pdq_dihedral(image_luma(data, limits))
        return [Signal(self.name, hashes[0], quality, tuple(hashes[1:]))]

    def normalise(self, value: str) -> str:
        text = value.strip().lower()
        pdq_math.to_bytes(text)
        return text


class VPDQ(SignalType):
    """vPDQ for videos: one PDQ per sampled frame (1 per second by default). The value
    is one `frame,quality,hash,seconds` line per frame, upstream's text format."""

    name = "vpdq"
    exact = False

    def compute(self, data: bytes, mime: str | None, limits: DecodeLimits) -> list[Signal]:
        if not (mime or "").startswith("video/"):
            return []
        lines = []
        for frame in video_frames(data, limits):
            value, quality = pdq_math.pdq(frame.luma)
            lines.append(f"{frame.number},{quality},{value},{frame.timestamp:.3f}")
        return [Signal(self.name, "\n".join(lines))]

    def normalise(self, value: str) -> str:
        frames = parse_vpdq(value)
        if not frames:
            raise ValueError("vpdq: no frames")
        return "\n".join(f"{n},{q},{h},{t:.3f}" for n, q, h, t in frames)


def parse_vpdq(value: str) -> list[tuple[int, int, str, float]]:
    """`frame,quality,hash,seconds` lines (upstream's .txt format) to tuples."""
    frames = []
    for line in value.replace(";", "\n").strip().splitlines():
        number, quality, hex_hash, seconds = line.strip().split(",")
        pdq_math.to_bytes(hex_hash)
        frames.append((int(number), int(quality), hex_hash.lower(), float(seconds)))
    return frames


SIGNAL_TYPES: dict[str, SignalType] = {t.name: t for t in (SHA256(), MD5(), PDQ(), VPDQ())}
PERCEPTUAL = tuple(name for name, t in SIGNAL_TYPES.items() if not t.exact)


def compute_signals(data: bytes, mime: str | None,
                    limits: DecodeLimits | None = None) -> list[Signal]:
    limits = limits or DecodeLimits()
    signals: list[Signal] = []
    for signal_type in SIGNAL_TYPES.values():
        signals.extend(signal_type.compute(data, mime, limits))
    return signals


def signal_type(name: str) -> SignalType:
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown signal type {name!r}; known: {sorted(SIGNAL_TYPES)}") from None
