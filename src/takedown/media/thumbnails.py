"""Small previews for reviewers: never the full-size file (wellness, and bandwidth).

By default a reviewer gets `blurred_preview`: the preview in grey and blurred on the
server, so that "open image in new tab" or a saved page shows no more than the console
does. A video's default is such a still of its first frame; the video itself, like the
clear `thumbnail`, is sent only when the reviewer asks to see more."""

from __future__ import annotations

import io
from collections.abc import Generator

from PIL import Image, ImageFilter, ImageOps

from takedown.media.decode import DecodeLimits, MediaRejected, video_frames

THUMBNAIL_PX = 320
# The console blurred with CSS `blur(18px)` at 320 px; the same standard deviation
# relative to the picture's size, so that small pictures are as unrecognisable.
BLUR_SIGMA_PER_PX = 18 / THUMBNAIL_PX
_STILL_LIMITS = DecodeLimits(video_target=THUMBNAIL_PX)


def _preview_image(data: bytes) -> Image.Image:
    """The picture at no more than 320 px on its long side, EXIF orientation applied."""
    try:
        opened = Image.open(io.BytesIO(data))
        if opened.format == "JPEG":  # libjpeg scales while decoding: far less work
            opened.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
        image = ImageOps.exif_transpose(opened)
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaRejected(f"cannot preview: {exc}") from None


def _video_still(data: bytes) -> Image.Image:
    """The video's first frame, in grey, at no more than 320 px (decoded within the
    same limits as for hashing)."""
    frames = video_frames(data, _STILL_LIMITS)
    try:
        first = next(frames, None)
    finally:
        if isinstance(frames, Generator):  # closes the decoder now, not when collected
            frames.close()
    if first is None:
        raise MediaRejected("the video has no decodable frame")
    return Image.fromarray(first.luma, "L")


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def thumbnail(data: bytes) -> bytes:
    """The clear preview: a JPEG no larger than 320 px on its long side."""
    return _jpeg(_preview_image(data))


def blur(image: Image.Image) -> Image.Image:
    """Grey, and blurred so that shapes remain and people cannot be recognised."""
    grey = image.convert("L")
    sigma = max(2.0, max(grey.size) * BLUR_SIGMA_PER_PX)
    return grey.filter(ImageFilter.GaussianBlur(sigma))


def blurred_preview(data: bytes, mime: str | None) -> bytes:
    """The default preview of an image or a video, as a grey, blurred JPEG."""
    is_video = (mime or "").startswith("video/")
    return _jpeg(blur(_video_still(data) if is_video else _preview_image(data)))
