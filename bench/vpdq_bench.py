"""vPDQ at 1 frame per second (what an upload is hashed to), and at every frame (the
references of a reported or confirmed video), against decoding every frame alone.

    .venv/bin/python -m bench.vpdq_bench

The four reference videos (../shared/reference/video) and a generated 60 s
640x360 video. Per core.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import av
import numpy as np

from bench.common import machine, table
from takedown.media.decode import DecodeLimits
from takedown.media.signals import VPDQ

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "video"


def generated_video(seconds: int = 60, size: tuple[int, int] = (640, 360), fps: int = 30) -> bytes:
    """Moving shapes over a gradient, encoded as MPEG-4: harmless, and a real decode."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 1_500_000
        y, x = np.mgrid[0:size[1], 0:size[0]]
        for n in range(seconds * fps):
            frame = np.zeros((size[1], size[0], 3), np.uint8)
            frame[..., 0] = (x + 3 * n) % 256
            frame[..., 1] = (y + n) % 256
            cx, cy = (n * 7) % size[0], (n * 3) % size[1]
            frame[((x - cx) ** 2 + (y - cy) ** 2) < 2500] = (255, 255, 255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def decode_all(data: bytes) -> tuple[int, float]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames, last = 0, 0.0
        for frame in container.decode(stream):
            frames += 1
            last = float(frame.time or 0.0)
    return frames, last


def timed(fn: object, data: bytes, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(data)  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    print(f"# vPDQ at 1 frame/s — {machine()}\n")
    videos = {p.name: p.read_bytes() for p in sorted(REFERENCE.glob("*.mp4"))}
    videos["generated-60s-640x360.mp4"] = generated_video()
    vpdq = VPDQ()
    rows = []
    for name, data in videos.items():
        frames, seconds = decode_all(data)
        decode = timed(decode_all, data)
        ours = timed(lambda d: vpdq.compute(d, "video/mp4", DecodeLimits()), data)
        every = timed(lambda d: vpdq.references(d, "video/mp4", DecodeLimits()), data, 1)
        kept = len(vpdq.references(data, "video/mp4", DecodeLimits())[0].value.splitlines())
        rows.append([name, f"{seconds:.1f}", frames, f"{decode * 1000:.0f}",
                     f"{ours * 1000:.0f}", f"{seconds / ours:.0f}x",
                     f"{every * 1000:.0f}", kept])
    print(table(["video", "seconds", "frames", "decode all frames ms (baseline)",
                 "takedown vPDQ ms (upload, 1 frame/s)", "video seconds per second",
                 "references ms (every frame)", "reference frames kept"], rows))


if __name__ == "__main__":
    main()
