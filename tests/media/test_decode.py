"""Hostile and broken files are refused with a clear reason, in bounded time."""

import io
import struct
import sys
import threading
import time
import zlib

import av
import numpy as np
import pytest
from PIL import Image

from takedown.demo.edits import generated_video
from takedown.demo.media import generated_photo
from takedown.media import decode, pdq, pngstream
from takedown.media.decode import (
    DecodeGate,
    DecodeLimits,
    Frame,
    MediaRejected,
    image_luma,
    release_memory,
    video_frames,
    webp_size,
)
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


# --- large PNGs, decoded a band at a time ------------------------------------------------


def _filtered(raw: np.ndarray, bpp: int) -> np.ndarray:
    """PNG-filter each row, cycling through all five filters (None, Sub, Up, Average,
    Paeth), so that undoing each of them is tested; filter bytes first."""
    height, stride = raw.shape
    pixels = raw.astype(np.int32)
    out = np.empty((height, stride + 1), np.uint8)
    for y in range(height):
        up = pixels[y - 1] if y else np.zeros(stride, np.int32)
        left = np.concatenate([np.zeros(bpp, np.int32), pixels[y, :-bpp]])
        corner = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        guess = left + up - corner
        paeth = np.where((abs(guess - left) <= abs(guess - up))
                         & (abs(guess - left) <= abs(guess - corner)), left,
                         np.where(abs(guess - up) <= abs(guess - corner), up, corner))
        kind = y % 5
        predicted = [np.zeros(stride, np.int32), left, up, (left + up) // 2, paeth][kind]
        out[y, 0] = kind
        out[y, 1:] = (pixels[y] - predicted) & 255
    return out


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encoded_png(raw: np.ndarray, width: int, colour: int, depth: int, *,
                palette: bytes | None = None, exif: bytes | None = None) -> bytes:
    """A PNG of `raw` (rows of bytes), its data split over two IDAT chunks."""
    header = struct.pack(">IIBBBBB", width, raw.shape[0], depth, colour, 0, 0, 0)
    data = zlib.compress(_filtered(raw, max(1, raw.shape[1] // width)).tobytes())
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + (png_chunk(b"PLTE", palette) if palette else b"")
            + png_chunk(b"IDAT", data[:len(data) // 2]) + png_chunk(b"IDAT", data[len(data) // 2:])
            + (png_chunk(b"eXIf", exif) if exif else b"") + png_chunk(b"IEND", b""))


LAYOUTS = [(0, 8, 1), (0, 16, 1), (2, 8, 3), (2, 16, 3), (3, 8, 1), (4, 8, 2), (4, 16, 2),
           (6, 8, 4), (6, 16, 4)]  # (PNG colour type, bit depth, samples a pixel)


def layout_png(colour: int, depth: int, samples: int, size: tuple[int, int] = (301, 203),
               seed: int = 3) -> bytes:
    """A harmless smooth picture with some noise, in the given PNG layout."""
    rng = np.random.default_rng(seed)
    width, height = size
    smooth = np.asarray(Image.fromarray((rng.random((height // 10 + 1, width // 10 + 1))
                                         * 255).astype(np.uint8)).resize(size))
    planes = samples * depth // 8
    raw = np.stack([np.roll(smooth, 7 * k, axis=1) for k in range(planes)], axis=2)
    raw = (raw + rng.integers(0, 20, raw.shape)).clip(0, 255).astype(np.uint8)
    palette = None
    if colour == 3:  # a palette shorter than the indexes used
        palette = bytes(rng.integers(0, 256, 3 * 200).astype(np.uint8))
        raw %= 230
    if (colour, depth) == (0, 16):  # mostly under 256: Pillow clips 16-bit grey there
        raw[..., 0::2] = np.where(rng.random(raw[..., 0::2].shape) < 0.7, 0, raw[..., 0::2])
    return encoded_png(raw.reshape(height, -1), width, colour, depth, palette=palette)


@pytest.mark.parametrize(("colour", "depth", "samples"), LAYOUTS)
def test_a_streamed_png_has_pillows_luma(colour: int, depth: int, samples: int) -> None:
    data = layout_png(colour, depth, samples)
    found = pngstream.layout(data, Image.open(io.BytesIO(data)))
    assert found is not None
    pillow = Image.open(io.BytesIO(data)).convert("L")
    assert np.array_equal(pngstream.reduced_luma(found, 1), np.asarray(pillow))
    for factor in (2, 3, 7):  # Pillow's reduce rounds in fixed point: within 1
        reduced = pngstream.reduced_luma(found, factor).astype(int)
        expected = np.asarray(pillow.reduce(factor)).astype(int)
        assert reduced.shape == expected.shape
        assert np.abs(reduced - expected).max() <= 1


def test_a_large_png_hashes_alike_streamed_or_whole() -> None:
    data = layout_png(2, 8, 3, size=(2300, 1700))  # 3.9 MP: whole by default
    assert pngstream.layout(data, Image.open(io.BytesIO(data))) is not None
    whole = image_luma(data, DecodeLimits())
    streamed = image_luma(data, DecodeLimits(stream_png_pixels=1_000_000))
    assert whole.shape == streamed.shape == (284, 384)
    assert np.abs(streamed.astype(int) - whole).max() <= 1
    assert pdq.distance(pdq.pdq(streamed)[0], pdq.pdq(whole)[0]) <= 2


def test_a_streamed_png_is_turned_upright_by_its_exif() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    rng = np.random.default_rng(5)
    raw = (rng.random((40, 60)) * 255).astype(np.uint8)
    data = encoded_png(raw, 60, 0, 8, exif=exif.tobytes()[6:])  # eXIf holds no "Exif\0\0"
    limits = DecodeLimits(stream_png_pixels=0, target=16)
    upright = image_luma(data, limits)
    assert upright.shape == (16, 11)  # 60x40 turned to stand 40 wide, 60 tall
    whole = image_luma(data, DecodeLimits(target=16))
    assert np.abs(upright.astype(int) - whole).max() <= 1


@pytest.mark.parametrize("damage", ["truncated", "bad filter", "not zlib"])
def test_a_broken_streamed_png_is_refused(damage: str) -> None:
    raw = np.full((50, 70), 90, np.uint8)
    data = encoded_png(raw, 70, 0, 8)
    if damage == "truncated":
        body = zlib.compress(_filtered(raw, 1).tobytes())[:40]
    elif damage == "bad filter":
        rows = _filtered(raw, 1)
        rows[20, 0] = 9
        body = zlib.compress(rows.tobytes())
    else:
        body = b"\x00" * 200
    header = data[8:33]
    data = b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
    with pytest.raises(MediaRejected, match="corrupt or truncated"):
        image_luma(data, DecodeLimits(stream_png_pixels=0, target=16))


def test_a_webp_over_its_limit_is_refused_before_it_is_decoded() -> None:
    out = io.BytesIO()
    Image.new("RGB", (3000, 2000), (90, 120, 30)).save(out, "WEBP", lossless=True)
    assert webp_size(out.getvalue()) == (3000, 2000)
    with pytest.raises(MediaRejected, match="pixels"):
        image_luma(out.getvalue(), DecodeLimits(max_webp_pixels=5_000_000))
    assert image_luma(out.getvalue(), DecodeLimits()).shape == (256, 384)


# --- videos: decoding only what the samples need ------------------------------------------


def _every_frame_decoded(monkeypatch: pytest.MonkeyPatch, data: bytes) -> list[Frame]:
    with monkeypatch.context() as patch:
        patch.setattr(decode, "_sampling_plan", lambda *_args: None)
        return list(video_frames(data, DecodeLimits()))


@pytest.mark.parametrize("source", ["generated", "reference"])
def test_sampling_decodes_only_what_it_needs_and_gets_the_same_frames(
        monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    data = generated_video(3, seconds=5) if source == "generated" else \
        reference("video", "pattern-sd-grey-bar.mp4").read_bytes()
    planned = decode._sampling_plan(data, DecodeLimits(), time.monotonic())
    assert planned is not None
    needed = sum(end - start + 1 for start, end in planned.runs)
    with av.open(io.BytesIO(data), mode="r") as container:
        packets = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    assert needed < packets / 2  # a keyframe every 0.5 s (generated), 2 s (reference)
    sampled = list(video_frames(data, DecodeLimits()))
    everything = _every_frame_decoded(monkeypatch, data)
    assert [(f.number, f.timestamp) for f in sampled] == \
        [(f.number, f.timestamp) for f in everything]
    assert all(np.array_equal(a.luma, b.luma) for a, b in zip(sampled, everything, strict=True))


# --- the process-wide gate ----------------------------------------------------------------


def _run_in_gate(gate: DecodeGate, costs: list[int], hold_s: float = 0.05) -> int:
    """Run one thread per cost through the gate; the most that were inside at once."""
    inside, most = 0, 0
    lock = threading.Lock()

    def work(cost: int) -> None:
        nonlocal inside, most
        with gate.hold(cost):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(hold_s)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work, args=(c,)) for c in costs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    return most


def test_the_gate_bounds_decodes_at_once_and_their_bytes() -> None:
    assert _run_in_gate(DecodeGate(2, 1000), [10] * 6) == 2  # slots
    assert _run_in_gate(DecodeGate(8, 1000), [400] * 4) == 2  # budget: 2 x 400 fit
    assert _run_in_gate(DecodeGate(2, 1000), [5000, 5000]) == 1  # over budget: alone


def test_the_gate_serves_in_arrival_order_and_lets_a_holder_through() -> None:
    gate = DecodeGate(1, 100)
    order: list[int] = []
    with gate.hold(50):
        with gate.hold(50):  # the same thread again (an open video generator): no deadlock
            pass
        waiting = []
        for n in range(4):
            def work(n: int = n) -> None:
                with gate.hold(10):
                    order.append(n)
            thread = threading.Thread(target=work)
            thread.start()
            waiting.append(thread)
            time.sleep(0.02)  # so that they arrive in this order
        assert gate.running == 1 and not order
    for thread in waiting:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3]


def test_memory_is_given_back_on_linux() -> None:
    given_back = release_memory()
    assert given_back == (sys.platform.startswith("linux") and decode._malloc_trim is not None)


def test_the_gate_is_configured_from_the_settings() -> None:
    before = decode._gate
    try:
        decode.configure(DecodeLimits(max_concurrent_decodes=5))
        assert decode._gate.slots == 5
        assert decode._gate.budget == DecodeLimits.decode_memory_budget
    finally:
        decode._gate = before
