"""Small previews for reviewers: never the full-size file (wellness, and bandwidth)."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from takedown.media.decode import MediaRejected

THUMBNAIL_PX = 320


def thumbnail(data: bytes) -> bytes:
    """A JPEG no larger than 320 px on its long side, EXIF orientation applied."""
    try:
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaRejected(f"cannot preview: {exc}") from None
    return out.getvalue()
