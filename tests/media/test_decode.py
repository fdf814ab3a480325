"""Hostile and broken files are refused with a clear reason, in bounded time."""

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from takedown.demo.media import generated_photo
from takedown.media import pdq
from takedown.media.decode import DecodeLimits, MediaRejected, image_luma, video_frames
from takedown.media.signals import compute_signals
from tests.helpers import reference


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims enormous dimensions: a decompression bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    started = time.monotonic()
    with pytest.raises(MediaRejected, match="decompression bomb"):
        image_luma(png_claiming(100_000, 100_000), DecodeLimits())
    assert time.monotonic() - started < 1


def test_the_pixel_limit_is_configurable() -> None:
    with pytest.raises(MediaRejected, match="pixels"):
        image_luma(generated_photo(1), DecodeLimits(max_pixels=500_000))


@pytest.mark.parametrize("cut", [100, 2000, 20_000])
def test_a_truncated_jpeg_is_refused(cut: int) -> None:
    with pytest.raises(MediaRejected):
        image_luma(generated_photo(1)[:cut], DecodeLimits())


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\xff\xd8\xff" + b"\0" * 500,
                                  b"\x89PNG\r\n\x1a\n" + b"garbage" * 50])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(MediaRejected):
        image_luma(data, DecodeLimits())


def test_exif_orientation_is_applied() -> None:
    upright = Image.open(io.BytesIO(generated_photo(2)))
    turned = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": undoes the turn above
    out = io.BytesIO()
    turned.save(out, "JPEG", quality=90, exif=exif.tobytes())
    fixed = pdq.pdq(image_luma(out.getvalue(), DecodeLimits()))[0]
    reference = pdq.pdq(image_luma(generated_photo(2), DecodeLimits()))[0]
    assert pdq.distance(fixed, reference) <= 16
    ignored = io.BytesIO()
    turned.save(ignored, "JPEG", quality=90)  # no orientation tag: stays turned
    assert pdq.distance(pdq.pdq(image_luma(ignored.getvalue(), DecodeLimits()))[0],
                        reference) > 31


def test_corrupt_video_is_refused() -> None:
    data = reference("video", "pattern-sd-grey-bar.mp4").read_bytes()
    with pytest.raises(MediaRejected):
        list(video_frames(data[:4000], DecodeLimits()))
    with pytest.raises(MediaRejected):
        compute_signals(b"\0\0\0\x18ftypmp42" + b"\x13" * 5000, "video/mp4")


def test_video_limits() -> None:
    data = reference("video", "chair-orig-22-sd-bar.mp4").read_bytes()
    with pytest.raises(MediaRejected, match=r"lasts|longer"):
        list(video_frames(data, DecodeLimits(max_video_seconds=5)))
    with pytest.raises(MediaRejected, match="frames"):
        list(video_frames(data, DecodeLimits(max_decoded_frames=50)))
    with pytest.raises(MediaRejected, match="over the limit"):
        list(video_frames(data, DecodeLimits(max_video_frame_pixels=1000)))


def test_sampling_rate_is_configurable() -> None:
    data = reference("video", "pattern-sd-grey-bar.mp4").read_bytes()
    one = list(video_frames(data, DecodeLimits()))
    two = list(video_frames(data, DecodeLimits(frames_per_second=2)))
    assert len(two) >= 2 * len(one) - 1
