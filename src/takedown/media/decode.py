"""Decoding untrusted media for hashing, inside limits of size, time and memory.

Every file here may be hostile: a decompression bomb, a truncated stream, a video
that claims to last a week, a 233 KB PNG of 60 megapixels. Each is refused with
`MediaRejected` (a 422 naming the problem) before it costs much: dimensions are
checked before pixels are decoded, videos have caps on duration, frames decoded and
wall time.

Images are decoded straight to luma at about `target` pixels on the long side:
libjpeg scales by 1/2, 1/4 or 1/8 while decoding (`Image.draft`) and skips colour
conversion (JFIF's Y uses PDQ's own 0.299/0.587/0.114 weights); large PNGs are
decoded a band of rows at a time (`pngstream`); anything else is decoded whole,
turned to luma at once (the colour pixels are freed), reduced by a whole factor and
box-filtered to size. PDQ's own filter then works on ~110k pixels instead of
millions: see docs/performance.md for the speed and the bits it costs.

Memory is bounded per process as well as per file: every decode runs inside
`DecodeGate` (at most `max_concurrent_decodes` at once, holding at most
`decode_memory_budget` bytes of decoded pixels between them, by estimate), and after
a large one glibc is asked to give the freed memory back to the system.

Videos are sampled without decoding every frame where the stream allows it: one
pass over the packets (no decoding) finds the frames sampled at 1/s and the keyframe
each needs, and only those runs of packets are decoded (see `_sampling_plan`).
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import ctypes.util
import io
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import av
import av.video.reformatter
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from takedown.media import pngstream

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
    # Per process (`configure`): decodes at once, and the decoded bytes they may hold
    # between them by estimate; one decode over the budget runs alone.
    max_concurrent_decodes: int = 2
    decode_memory_budget: int = 512 << 20
    # PNGs over this many pixels are decoded a band of rows at a time (below it Pillow
    # decodes them whole: the same luma within 1 level, and no numba to load).
    stream_png_pixels: int = 4_000_000
    # WebP is decoded whole at ~16 bytes a pixel (WEBP_PIXEL_BYTES): 24 MP (a DSLR's
    # 6000 x 4000) costs ~390 MiB, and larger WebPs are refused.
    max_webp_pixels: int = 24_000_000


@dataclass(frozen=True)
class Frame:
    number: int
    timestamp: float
    luma: np.ndarray  # (height, width) uint8


# --- memory: the process-wide gate, and giving memory back ---------------------------


class DecodeGate:
    """At most `slots` decodes at once, holding at most `budget` bytes between them
    (each says its cost; a cost over the budget counts as the whole budget, so it
    runs alone and never waits forever). Waiters go in arrival order, so that small
    decodes cannot starve a large one. A thread already inside a decode (a generator
    still open) is let through again rather than deadlock on itself."""

    def __init__(self, slots: int, budget: int) -> None:
        self.slots, self.budget = max(1, slots), max(1, budget)
        self._changed = threading.Condition()
        self._queue: deque[object] = deque()
        self._running = 0
        self._held = 0
        self._inside = threading.local()

    @contextmanager
    def hold(self, cost: int) -> Iterator[None]:
        if getattr(self._inside, "depth", 0):
            yield
            return
        cost = min(max(cost, 0), self.budget)
        self._enter(cost)
        self._inside.depth = 1
        try:
            yield
        finally:
            self._inside.depth = 0
            with self._changed:
                self._running -= 1
                self._held -= cost
                self._changed.notify_all()

    def _enter(self, cost: int) -> None:
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            try:
                self._changed.wait_for(lambda: self._queue[0] is ticket and self._fits(cost))
            except BaseException:
                self._queue.remove(ticket)
                self._changed.notify_all()
                raise
            self._queue.popleft()
            self._running += 1
            self._held += cost
            self._changed.notify_all()  # the next in line may fit as well

    def _fits(self, cost: int) -> bool:
        return self._running < self.slots and self._held + cost <= self.budget

    @property
    def running(self) -> int:
        return self._running


_gate = DecodeGate(DecodeLimits.max_concurrent_decodes, DecodeLimits.decode_memory_budget)
TRIM_AFTER = 16 << 20  # a decode estimated above this gives memory back after


def configure(limits: DecodeLimits) -> None:
    """The process's gate from these limits (Takedown calls it once, from Settings)."""
    global _gate
    _gate = DecodeGate(limits.max_concurrent_decodes, limits.decode_memory_budget)


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:  # glibc only: musl and others have no malloc_trim
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    found: Callable[[int], int] = trim
    return found


_malloc_trim = _load_malloc_trim()


def release_memory() -> bool:
    """Hand freed heap memory back to the system. Large decodes free their buffers,
    but glibc keeps them in per-thread arenas (a server measured 1.1 GiB kept after
    four large PNGs); malloc_trim returns it. No-op (False) outside glibc."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


@contextmanager
def _decoding(cost: int) -> Iterator[None]:
    try:
        with _gate.hold(cost):
            yield
    finally:
        if cost >= TRIM_AFTER:
            release_memory()


# --- images ----------------------------------------------------------------------

ORIENTATION = 0x0112
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}
# Bytes a pixel that Pillow holds per mode (3 and 4 channels alike take 4).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def image_luma(data: bytes, limits: DecodeLimits, *, reduce: bool = True) -> np.ndarray:
    """Luma of the image's first frame, EXIF orientation applied, at about
    `limits.target` on the long side (or full size when reduce is False)."""
    webp = _webp_cost(data, limits)  # libwebp allocates its canvas when opened
    with _decoding(webp) if webp else contextlib.nullcontext():
        return _luma(_open_image(data, limits), data, limits, reduce)


def _luma(opened: Image.Image, data: bytes, limits: DecodeLimits, reduce: bool) -> np.ndarray:
    target = limits.target if reduce else None
    full_size = opened.size
    try:
        streamed = _streamable(data, opened, limits) if target else None
        if target and opened.format == "JPEG":
            opened.draft("L", (target, target))  # opened.size: what libjpeg will make
        with _decoding(_image_cost(opened, full_size, streamed)):
            image = _streamed_luma(streamed, target) if streamed and target else \
                _pillow_luma(opened, target)
    except _DECODE_ERRORS as exc:
        raise MediaRejected(f"corrupt or truncated image: {exc}") from None
    return np.asarray(image)


def _open_image(data: bytes, limits: DecodeLimits) -> Image.Image:
    try:
        opened = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # Pillow's own check, on the header
        raise MediaRejected(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise MediaRejected("not an image format takedown can read") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise MediaRejected(f"unreadable image header: {exc}") from None
    _check_pixels(*opened.size, limits.max_pixels)
    return opened


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width < 1 or height < 1:
        raise MediaRejected("image has no pixels")
    if width * height > limit:
        raise MediaRejected(f"image is {width}x{height} pixels; the limit is "
                            f"{limit:,} (possible decompression bomb)")


# Pillow's WebP decoding holds ~16 bytes a pixel at its peak (libwebp's canvas and
# buffers, the frame copied out, Pillow's image: 940 MiB measured at 60 MP), and
# nothing decodes it reduced, hence its lower pixel limit.
WEBP_PIXEL_BYTES = 16


def _webp_cost(data: bytes, limits: DecodeLimits) -> int:
    """A WebP's decoding cost from its header, checked against the WebP limit before
    Pillow opens it; 0 for anything else."""
    size = webp_size(data)
    if size is None:
        return 0
    _check_pixels(*size, min(limits.max_pixels, limits.max_webp_pixels))
    return size[0] * size[1] * WEBP_PIXEL_BYTES


def webp_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a WebP's first chunk (VP8X, VP8L or VP8), else None."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    kind, body = data[12:16], data[20:30]
    if kind == b"VP8X":
        return (int.from_bytes(body[4:7], "little") + 1,
                int.from_bytes(body[7:10], "little") + 1)
    if kind == b"VP8L" and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    if kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        return (int.from_bytes(body[6:8], "little") & 0x3FFF,
                int.from_bytes(body[8:10], "little") & 0x3FFF)
    return None


def _streamable(data: bytes, opened: Image.Image,
                limits: DecodeLimits) -> pngstream.Layout | None:
    width, height = opened.size
    if opened.format != "PNG" or width * height <= limits.stream_png_pixels:
        return None
    return pngstream.layout(data, opened)


def _image_cost(opened: Image.Image, full_size: tuple[int, int],
                streamed: pngstream.Layout | None) -> int:
    """Bytes the decode holds at its peak, by estimate (for the gate)."""
    if streamed is not None:
        return pngstream.memory_needed(streamed)
    width, height = opened.size
    cost = width * height * (_PIXEL_BYTES.get(opened.mode, 4) + 1)  # + the luma copy
    if opened.format == "JPEG" and opened.info.get("progressive"):
        # libjpeg keeps every coefficient (2 bytes) of every component, at full size
        cost += full_size[0] * full_size[1] * 2 * len(opened.getbands())
    return cost


def target_size(width: int, height: int, target: int) -> tuple[int, int]:
    longest = max(width, height)
    if longest <= target:
        return width, height
    return max(1, round(width * target / longest)), max(1, round(height * target / longest))


def reduce_factor(width: int, height: int, target: int) -> int:
    """The whole factor that brings the image to no less than twice the target (as
    Pillow's reducing_gap=2): a box filter from there loses nothing that matters."""
    return max(1, max(width, height) // (2 * target))


def _pillow_luma(opened: Image.Image, target: int | None) -> Image.Image:
    opened.load()
    orientation = _orientation(opened)  # after load: a PNG's eXIf may follow its pixels
    image = opened if opened.mode == "L" else opened.convert("L")
    if image is not opened:
        opened.close()  # the full-size colour pixels go now, not when collected
    if target:
        image = _to_target(image, target)
    return _upright(image, orientation)


def _streamed_luma(streamed: pngstream.Layout, target: int) -> Image.Image:
    factor = reduce_factor(streamed.width, streamed.height, target)
    reduced = Image.fromarray(pngstream.reduced_luma(streamed, factor))
    size = target_size(streamed.width, streamed.height, target)
    image = reduced.resize(size, Image.Resampling.BOX) if reduced.size != size else reduced
    return _upright(image, streamed.orientation)


def _to_target(image: Image.Image, target: int) -> Image.Image:
    size = target_size(*image.size, target)
    factor = reduce_factor(*image.size, target)
    if factor > 1:
        image = image.reduce(factor)
    return image.resize(size, Image.Resampling.BOX) if image.size != size else image


def _orientation(image: Image.Image) -> int:
    value = image.getexif().get(ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """Turned as EXIF says (after reducing: turning the small image is cheaper)."""
    method = _UPRIGHT.get(orientation)
    return image.transpose(method) if method is not None else image


# --- videos ----------------------------------------------------------------------


def video_frames(data: bytes, limits: DecodeLimits, *,
                 every_frame: bool = False) -> Generator[Frame, None, None]:
    """Frames as luma: sampled at `limits.frames_per_second` (the first at 0 s) at
    `limits.video_target`, or, for a reference (`every_frame`), every frame at
    `limits.reference_video_target`, evenly thinned beyond `limits.reference_frames`.
    swscale turns each frame straight into luma at that size (area-averaged). Holds a
    decode slot until exhausted or closed: close it when leaving early."""
    started = time.monotonic()
    container = _open_video(data)
    with container:
        stream = container.streams.video[0]
        _check_video(container, stream, limits)
        threads = _tune_decoder(stream)
        with _decoding(_video_cost(stream, threads)):
            plan = None if every_frame else _sampling_plan(data, limits, started)
            frames = _planned(container, stream, plan, limits, started) if plan else \
                _sequential(container, stream, limits, started, every_frame)
            yield from frames


def _open_video(data: bytes) -> av.container.InputContainer:
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaRejected(f"not a video takedown can read: {exc}") from None
    if not container.streams.video:
        container.close()
        raise MediaRejected("the file has no video stream")
    return container


def _tune_decoder(stream: av.VideoStream) -> int:
    """Threads: frame threading keeps a frame in flight per thread, so fewer for
    larger frames (an 8K frame is 53 MB; 16 threads would hold 850 MB)."""
    context = stream.codec_context
    threads = max(1, min(os.cpu_count() or 1, 8,
                         (256 << 20) // max(1, _frame_bytes(stream))))
    stream.thread_type = "AUTO"
    context.thread_count = threads
    return threads


def _frame_bytes(stream: av.VideoStream) -> int:
    return stream.codec_context.width * stream.codec_context.height * 3 // 2  # 4:2:0


def _video_cost(stream: av.VideoStream, threads: int) -> int:
    # Reference frames (H.264 keeps up to ~6 at 8K) plus one per decoding thread.
    return _frame_bytes(stream) * (threads + 6)


def _sequential(container: av.container.InputContainer, stream: av.VideoStream,
                limits: DecodeLimits, started: float, every_frame: bool) -> Iterator[Frame]:
    """Every frame decoded in order, those `keep` wants turned to luma."""
    keep = _every_nth(stream, limits) if every_frame else _per_second(limits)
    target = limits.reference_video_target if every_frame else limits.video_target
    scaler = av.video.reformatter.VideoReformatter()
    decoded = 0
    try:
        for frame in container.decode(stream):
            decoded += 1
            _within_limits(decoded, started, limits)
            at = float(frame.time) if frame.time is not None else \
                (decoded - 1) / limits.frames_per_second
            if at > limits.max_video_seconds:
                raise MediaRejected("video is longer than the limit")
            if keep(decoded - 1, at):
                yield Frame(decoded - 1, at, _frame_luma(scaler, frame, target))
    except av.FFmpegError as exc:
        raise MediaRejected(f"corrupt video: {exc}") from None
    if decoded == 0:
        raise MediaRejected("the video has no decodable frame")


def _within_limits(decoded: int, started: float, limits: DecodeLimits) -> None:
    if decoded > limits.max_decoded_frames:
        raise MediaRejected("video has more frames than the limit")
    if time.monotonic() - started > limits.max_decode_seconds:
        raise MediaRejected(f"video took over {limits.max_decode_seconds:g} s to decode")


@dataclass(frozen=True)
class _Plan:
    """Which packets to decode (decode-order index ranges, inclusive) and which of
    the frames they make are samples: pts -> (frame number in presentation order,
    seconds; frames drained from the decoder carry no time base of their own)."""

    runs: list[tuple[int, int]]
    wanted: dict[int, tuple[int, float]]


@dataclass(frozen=True)
class _Packets:
    pts: np.ndarray  # int64, decode order
    key: np.ndarray  # bool
    shown: np.ndarray  # bool: makes a frame (not a pre-roll packet the demuxer discards)
    time_base: tuple[int, int]  # numerator, denominator

    def seconds(self, pts: np.ndarray) -> np.ndarray:
        """As PyAV's frame.time computes them (float(pts) * num / den)."""
        return pts.astype(np.float64) * self.time_base[0] / self.time_base[1]


def _sampling_plan(data: bytes, limits: DecodeLimits, started: float) -> _Plan | None:
    """A frame sampled at time t needs the packets from the last keyframe before it
    up to its own, and no others: a video with a keyframe every second or two decodes
    a fraction of its frames. None (decode everything, in order) when the packets
    lack timestamps or repeat them."""
    packets = _packet_index(data, limits, started)
    if packets is None:
        return None
    order = np.flatnonzero(packets.shown)
    order = order[np.argsort(packets.pts[order], kind="stable")]
    if not len(order) or np.any(np.diff(packets.pts[order]) == 0):
        return None
    times = packets.seconds(packets.pts[order])
    if times[-1] > limits.max_video_seconds:
        raise MediaRejected("video is longer than the limit")
    keep = _per_second(limits)
    samples = [(number, int(order[number])) for number in range(len(order))
               if keep(number, float(times[number]))]
    keys = np.flatnonzero(packets.key).tolist()
    runs = [(_run_start(packets.pts, keys, index), index) for _, index in samples]
    wanted = {int(packets.pts[index]): (number, float(times[number]))
              for number, index in samples}
    return _Plan(_merged(runs), wanted)


def _packet_index(data: bytes, limits: DecodeLimits, started: float) -> _Packets | None:
    """Every packet's timestamp and flags, demuxed without decoding (cheap)."""
    pts: list[int] = []
    key: list[bool] = []
    shown: list[bool] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            base = stream.time_base
            if base is None:
                return None
            for packet in container.demux(stream):
                if not packet.size:
                    continue  # the demuxer's end-of-stream marker
                if packet.pts is None:
                    return None
                pts.append(packet.pts)
                key.append(packet.is_keyframe)
                shown.append(not packet.is_discard)
                if len(pts) % 4096 == 0:
                    _within_limits(len(pts), started, limits)
    except av.FFmpegError as exc:
        raise MediaRejected(f"corrupt video: {exc}") from None
    _within_limits(len(pts), started, limits)
    if not pts:
        return None
    return _Packets(np.array(pts, np.int64), np.array(key, bool), np.array(shown, bool),
                    (base.numerator, base.denominator))


def _run_start(pts: np.ndarray, keys: list[int], index: int) -> int:
    """The last keyframe at or before packet `index` (decode order) that is shown no
    later than it (an open GOP's leading frames need the keyframe before), else 0."""
    at = bisect.bisect_right(keys, index) - 1
    while at >= 0 and pts[keys[at]] > pts[index]:
        at -= 1
    return keys[at] if at >= 0 else 0


def _merged(runs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or adjacent runs as one (each packet is decoded at most once)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(runs):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _planned(container: av.container.InputContainer, stream: av.VideoStream,
             plan: _Plan, limits: DecodeLimits, started: float) -> Iterator[Frame]:
    """The plan's runs decoded; between two runs the decoder is drained and reset, so
    that the next run starts clean at its keyframe."""
    context = stream.codec_context
    scaler = av.video.reformatter.VideoReformatter()
    wanted, runs = dict(plan.wanted), iter(plan.runs)
    run = next(runs, None)
    decoded = found = 0

    def samples(frames: Iterable[av.VideoFrame]) -> Iterator[Frame]:
        for frame in frames:  # the others are dropped unconverted
            sample = wanted.pop(frame.pts, None) if frame.pts is not None else None
            if sample is not None:
                yield Frame(*sample, _frame_luma(scaler, frame, limits.video_target))

    try:
        packets = (p for p in container.demux(stream) if p.size)
        for index, packet in enumerate(packets):
            if run is None:
                break
            if index < run[0]:
                continue  # not needed: never decoded
            decoded += 1
            _within_limits(decoded, started, limits)
            for sample in samples(context.decode(packet)):
                found += 1
                yield sample
            if index == run[1]:
                run = next(runs, None)
                if run is None or run[0] > index + 1:  # a gap follows: finish this run
                    for sample in samples(context.decode(None)):
                        found += 1
                        yield sample
                    context.flush_buffers()
    except av.FFmpegError as exc:
        raise MediaRejected(f"corrupt video: {exc}") from None
    if not found:
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


def _frame_luma(scaler: av.video.reformatter.VideoReformatter, frame: av.VideoFrame,
                target: int) -> np.ndarray:
    """Straight from the decoder's planes to grey at the target size in one swscale
    pass (one scaler per video: its context is reused from frame to frame)."""
    width, height = frame.width, frame.height
    scale = min(1.0, target / max(width, height))
    size_w, size_h = max(16, round(width * scale)), max(16, round(height * scale))
    gray = scaler.reformat(frame, width=size_w, height=size_h, format="gray",
                           interpolation="AREA")
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
