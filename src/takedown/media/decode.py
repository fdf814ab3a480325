"""Decoding untrusted media for hashing, inside limits.

Every file here may be hostile: a decompression bomb, a truncated stream, a video
that claims to last a week. Each is refused with `MediaRejected` (a 422 naming the
problem) before it costs much: dimensions are checked before pixels are decoded,
videos have caps on duration, frames decoded and wall time.

Images are decoded straight to luma at about `target` pixels on the long side:
libjpeg scales by 1/2, 1/4 or 1/8 while decoding (`Image.draft`) and skips colour
conversion (JFIF's Y uses PDQ's own 0.299/0.587/0.114 weights), then a box filter
brings the image to size. PDQ's own filter then works on ~110k pixels instead of
millions: see docs/performance.md for the speed and the bits it costs.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is refused, not half-hashed


class MediaRejected(ValueError):
    """The file cannot be hashed safely; the message says why, for the 422 answer."""


@dataclass(frozen=True)
class DecodeLimits:
    max_pixels: int = 60_000_000  # about 9000 x 6700: beyond any camera's still
    target: int = 384  # long side fed to PDQ; conformance holds from ~384 up
    # Video frames keep more detail (sampled at 1/s, they are few): at 384 px the SD
    # conformance videos drift 12 bits on average from the reference, at full size 2.
    video_target: int = 1024
    # References (reported or confirmed videos) are hashed at every frame, so that a
    # clip cut at any offset finds its frames; thinned evenly beyond this many.
    reference_frames: int = 1800
    reference_video_target: int = 640
    max_video_seconds: float = 3 * 3600
    max_video_frame_pixels: int = 8192 * 4320
    max_decoded_frames: int = 400_000
    max_decode_seconds: float = 120.0
    frames_per_second: float = 1.0  # vPDQ sampling rate


@dataclass(frozen=True)
class Frame:
    number: int
    timestamp: float
    luma: np.ndarray  # (height, width) uint8


def _to_pdq_size(image: Image.Image, target: int) -> np.ndarray:
    width, height = image.size
    longest = max(width, height)
    if longest > target:
        size = (max(1, round(width * target / longest)), max(1, round(height * target / longest)))
        image = image.resize(size, Image.Resampling.BOX)
    return np.asarray(image)


def image_luma(data: bytes, limits: DecodeLimits, *, reduce: bool = True) -> np.ndarray:
    """Luma of the image's first frame, EXIF orientation applied, at about
    `limits.target` on the long side (or full size when reduce is False)."""
    try:
        opened = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # Pillow's own check, on the header
        raise MediaRejected(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise MediaRejected("not an image format takedown can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaRejected(f"unreadable image header: {exc}") from None
    width, height = opened.size
    if width < 1 or height < 1:
        raise MediaRejected("image has no pixels")
    if width * height > limits.max_pixels:
        raise MediaRejected(f"image is {width}x{height} pixels; the limit is "
                            f"{limits.max_pixels:,} (possible decompression bomb)")
    try:
        if reduce and opened.format == "JPEG":
            opened.draft("L", (limits.target, limits.target))
        image: Image.Image = ImageOps.exif_transpose(opened)
        if image.mode != "L":
            image = image.convert("L")
        image.load()
    except Image.DecompressionBombError as exc:
        raise MediaRejected(f"decompression bomb: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise MediaRejected(f"corrupt or truncated image: {exc}") from None
    return _to_pdq_size(image, limits.target) if reduce else np.asarray(image)


def video_frames(data: bytes, limits: DecodeLimits, *,
                 every_frame: bool = False) -> Iterator[Frame]:
    """Frames as luma: sampled at `limits.frames_per_second` (the first at 0 s) at
    `limits.video_target`, or, for a reference (`every_frame`), every frame at
    `limits.reference_video_target`, evenly thinned beyond `limits.reference_frames`.
    swscale turns each frame straight into luma at that size (area-averaged)."""
    started = time.monotonic()
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaRejected(f"not a video takedown can read: {exc}") from None
    with container:
        if not container.streams.video:
            raise MediaRejected("the file has no video stream")
        stream = container.streams.video[0]
        _check_video(container, stream, limits)
        stream.thread_type = "AUTO"
        keep = _every_nth(stream, limits) if every_frame else _per_second(limits)
        target = limits.reference_video_target if every_frame else limits.video_target
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                if decoded > limits.max_decoded_frames:
                    raise MediaRejected("video has more frames than the limit")
                if time.monotonic() - started > limits.max_decode_seconds:
                    raise MediaRejected(f"video took over {limits.max_decode_seconds:g} s "
                                        "to decode")
                at = float(frame.time) if frame.time is not None else \
                    (decoded - 1) / limits.frames_per_second
                if at > limits.max_video_seconds:
                    raise MediaRejected("video is longer than the limit")
                if keep(decoded - 1, at):
                    yield Frame(decoded - 1, at, _frame_luma(frame, target))
        except av.FFmpegError as exc:
            raise MediaRejected(f"corrupt video: {exc}") from None
        if decoded == 0:
            raise MediaRejected("the video has no decodable frame")


def _per_second(limits: DecodeLimits) -> Callable[[int, float], bool]:
    step = 1.0 / limits.frames_per_second
    next_at = 0.0

    def keep(_number: int, at: float) -> bool:
        nonlocal next_at
        if at + 1e-6 < next_at:
            return False
        next_at += step * max(1, int((at - next_at) / step) + 1)
        return True

    return keep


def _every_nth(stream: av.VideoStream, limits: DecodeLimits) -> Callable[[int, float], bool]:
    frames = stream.frames or 0
    if not frames and stream.duration and stream.time_base and stream.average_rate:
        frames = int(stream.duration * stream.time_base * stream.average_rate)
    nth = max(1, -(-frames // limits.reference_frames)) if frames else 1
    return lambda number, _at: number % nth == 0


def _frame_luma(frame: av.VideoFrame, target: int) -> np.ndarray:
    width, height = frame.width, frame.height
    scale = min(1.0, target / max(width, height))
    size_w, size_h = max(16, round(width * scale)), max(16, round(height * scale))
    gray = frame.reformat(width=size_w, height=size_h, format="gray", interpolation="AREA")
    return np.ascontiguousarray(gray.to_ndarray()[:, :size_w])


def _check_video(container: av.container.InputContainer, stream: av.VideoStream,
                 limits: DecodeLimits) -> None:
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_video_frame_pixels:
        raise MediaRejected(f"video frames are {width}x{height}; over the limit")
    seconds = None
    if container.duration is not None:
        seconds = container.duration / 1_000_000
    elif stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    if seconds is not None and seconds > limits.max_video_seconds:
        raise MediaRejected(f"video lasts {seconds:,.0f} s; the limit is "
                            f"{limits.max_video_seconds:,.0f} s")
