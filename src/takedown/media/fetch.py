"""Fetch media a platform names by URL, with a size cap and a timeout."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx


class FetchError(ValueError):
    """The media could not be fetched; the message names why, for the 4xx answer."""


def fetch_media(url: str, *, max_bytes: int, timeout_s: float) -> bytes:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"media url must be http or https, not {scheme or 'empty'!r}")
    deadline = time.monotonic() + timeout_s
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True,
                          headers={"User-Agent": "takedown-media-fetch"}) as response:
            if response.status_code != 200:
                raise FetchError(f"media url answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"media is {declared} bytes; the limit is {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"media exceeds the limit of {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(f"media fetch took longer than {timeout_s:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise FetchError(f"media fetch timed out after {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"media fetch failed: {type(exc).__name__}: {exc}") from None
