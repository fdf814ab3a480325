"""Signal types: each hash algorithm is one class behind one interface, and
`SIGNAL_TYPES` below is the one place they are registered.

A signal is what a bank stores and what matching compares: an exact digest today;
perceptual hashes (PDQ, vPDQ) plug in beside them with a distance and threshold.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


class UnsupportedMedia(ValueError):
    """The signal type cannot hash this file; the message says why."""


@dataclass(frozen=True)
class Signal:
    signal_type: str
    value: str
    quality: int | None = None


class SignalType(ABC):
    name: ClassVar[str]
    # Exact signals match only when equal; perceptual ones within a distance.
    exact: ClassVar[bool]

    @abstractmethod
    def compute(self, data: bytes, mime: str | None) -> list[Signal]:
        """The signals of one media file, or [] where this type does not apply."""

    def normalise(self, value: str) -> str:
        """The canonical spelling of a value from an import or a user."""
        return value.strip().lower()


class _Digest(SignalType):
    exact = True
    algorithm: ClassVar[str]
    hex_length: ClassVar[int]

    def compute(self, data: bytes, mime: str | None) -> list[Signal]:
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


SIGNAL_TYPES: dict[str, SignalType] = {t.name: t for t in (SHA256(), MD5())}


def compute_signals(data: bytes, mime: str | None) -> list[Signal]:
    signals: list[Signal] = []
    for signal_type in SIGNAL_TYPES.values():
        signals.extend(signal_type.compute(data, mime))
    return signals


def signal_type(name: str) -> SignalType:
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown signal type {name!r}; known: {sorted(SIGNAL_TYPES)}") from None
