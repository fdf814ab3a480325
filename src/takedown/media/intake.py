"""Turn what a platform sent (bytes or a URL) into stored, hashed media."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from takedown.errors import Invalid, TooLarge
from takedown.media.decode import DecodeLimits, MediaRejected
from takedown.media.fetch import FetchError, fetch_media
from takedown.media.signals import Signal, compute_signals
from takedown.media.storage import MediaStore, NotMedia, hashable_mime
from takedown.metrics import timed_hashing


@dataclass(frozen=True)
class PreparedMedia:
    """A media file already fetched, checked, stored and hashed (outside any transaction)."""

    sha256: str
    size: int
    mime: str | None
    signals: list[Signal]


@dataclass(frozen=True)
class MediaInput:
    data: bytes | None = None
    url: str | None = None


def prepare_media(inputs: list[MediaInput], store: MediaStore, *, max_bytes: int,
                  timeout_s: float, limits: DecodeLimits | None = None) -> list[PreparedMedia]:
    """Fetch or take each file, hash it under every signal type, then store it. A file
    that cannot be decoded safely is refused before it is stored."""
    prepared = []
    for index, item in enumerate(inputs):
        data = _bytes_of(index, item, max_bytes, timeout_s)
        if not data:
            raise Invalid(f"media[{index}] is empty", code="empty_media",
                          fields=[{"field": f"media[{index}]", "message": "no bytes"}])
        try:
            mime = hashable_mime(data)
        except NotMedia as exc:
            raise Invalid(f"media[{index}]: {exc}", code="unsupported_media",
                          fields=[{"field": f"media[{index}]", "message": str(exc)}]) from None
        try:
            signals = timed_hashing(compute_signals)(data, mime, limits)
        except MediaRejected as exc:
            raise Invalid(f"media[{index}]: {exc}", code="unreadable_media",
                          fields=[{"field": f"media[{index}]", "message": str(exc)}]) from None
        sha256 = store.put(data)
        prepared.append(PreparedMedia(sha256, len(data), mime, signals))
    return prepared


def _bytes_of(index: int, item: MediaInput, max_bytes: int, timeout_s: float) -> bytes:
    if item.data is not None:
        if len(item.data) > max_bytes:
            raise TooLarge(f"media[{index}] is {len(item.data)} bytes; the limit is {max_bytes}",
                           code="media_too_large")
        return item.data
    assert item.url is not None  # the API schema requires one of data and url
    try:
        return fetch_media(item.url, max_bytes=max_bytes, timeout_s=timeout_s)
    # Besides FetchError: a redirect's Location may be no URL httpx can parse, which it
    # raises as InvalidURL (no HTTPError) or as IDNA's errors (ValueErrors).
    except (ValueError, httpx.InvalidURL) as exc:
        too_large = isinstance(exc, FetchError) and "limit" in str(exc)
        code = "media_too_large" if too_large else "media_fetch_failed"
        error = TooLarge if code == "media_too_large" else Invalid
        raise error(f"media[{index}].url: {exc}", code=code,
                    fields=[{"field": f"media[{index}].url", "message": str(exc)}]) from None
