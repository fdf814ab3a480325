"""Media bytes on disk, addressed by SHA-256, written atomically.

Stored media is evidence (US 18 U.S.C. 2258A asks for preservation) and what
reviewers see; it lives only under the data directory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

# (magic bytes at an offset, each of which must be there) -> media type. Only types
# takedown can hash: images Pillow decodes, videos PyAV decodes. Text formats (SVG,
# HTML, XML) are never media: nothing perceptual can be computed from them.
_MAGIC: tuple[tuple[tuple[tuple[bytes, int], ...], str], ...] = (
    (((b"\xff\xd8\xff", 0),), "image/jpeg"),
    (((b"\x89PNG\r\n\x1a\n", 0),), "image/png"),
    (((b"GIF87a", 0),), "image/gif"),
    (((b"GIF89a", 0),), "image/gif"),
    (((b"RIFF", 0), (b"WEBP", 8)), "image/webp"),
    (((b"ftypavif", 4),), "image/avif"),
    (((b"ftypheic", 4),), "image/heic"),
    (((b"ftypmif1", 4),), "image/heif"),
    (((b"ftyp", 4),), "video/mp4"),  # and QuickTime, 3GP: ISO base media files
    (((b"moov", 4),), "video/quicktime"),
    (((b"mdat", 4),), "video/quicktime"),
    (((b"\x1a\x45\xdf\xa3", 0),), "video/webm"),  # and Matroska
    (((b"RIFF", 0), (b"AVI ", 8)), "video/x-msvideo"),
    (((b"BM", 0),), "image/bmp"),
    (((b"II*\x00", 0),), "image/tiff"),
    (((b"MM\x00*", 0),), "image/tiff"),
)
HASHABLE = "JPEG, PNG, GIF, WebP, AVIF, BMP or TIFF images; MP4, QuickTime, WebM or AVI videos"


class NotMedia(ValueError):
    """Bytes that are not an image or video takedown can hash; the message says why."""


def sniff_mime(data: bytes) -> str | None:
    """The media type from the file's first bytes; never trust the sender's label."""
    for magics, mime in _MAGIC:
        if all(data[offset : offset + len(magic)] == magic for magic, offset in magics):
            return mime
    return None


def hashable_mime(data: bytes) -> str:
    """The media type of an image or video takedown can hash, or NotMedia: an empty
    file, text (an SVG or an HTML page is no picture, whatever it draws) or an unknown
    format would be stored with exact hashes only, and never match a copy."""
    if not data:
        raise NotMedia("the file is empty")
    mime = sniff_mime(data)
    if mime is None:
        what = "text (SVG, HTML or other markup)" if _is_text(data) else "of no known type"
        raise NotMedia(f"not an image or a video: the bytes are {what}; takedown hashes "
                       f"{HASHABLE}")
    return mime


def _is_text(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not merely a character cut at 4096 bytes
            return False
    return True


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()
