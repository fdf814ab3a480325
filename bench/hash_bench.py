"""Image hashing speed and decoding memory: decoding alone, full-resolution pdqhash,
takedown, and the decoding before issue 10 as a named baseline in the same run.

    .venv/bin/python -m bench.hash_bench [--quick] [--video]

Harmless generated photo-like JPEGs at 1024x768 and 4000x3000 (images/s per core);
upload screening (`compute_signals`) of a 1 MP JPEG, p50/p99 over interleaved runs;
peak memory of screening a 7,745 x 7,745 (60 MP) low-entropy PNG, one and four in
parallel threads, and what stays resident after. Each memory figure comes from a
fresh process (`--peak`), so that one run's heap does not hide the next one's.
`--video`: an 8,192 x 4,320 clip, 1 fps vPDQ sampling, before and after.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pdqhash
from PIL import Image, ImageOps

from bench.common import machine, per_second, table
from takedown.demo.media import generated_photo
from takedown.media import decode, pdq
from takedown.media.decode import DecodeLimits, image_luma
from takedown.media.signals import PDQ, Signal, compute_signals

LIMITS = DecodeLimits()
PNG_SIDE = 7745  # 60 MP, just under the pixel limit


# --- the baseline: decoding and hashing as they were before issue 10 -----------------


def baseline_luma(data: bytes, target: int = LIMITS.target) -> np.ndarray:
    """Draft for JPEG only, EXIF orientation applied as a full-size copy, the picture
    converted to luma at full size and box-filtered in one step."""
    opened = Image.open(io.BytesIO(data))
    if opened.format == "JPEG":
        opened.draft("L", (target, target))
    image = ImageOps.exif_transpose(opened)
    if image.mode != "L":
        image = image.convert("L")
    size = decode.target_size(*image.size, target)
    return np.asarray(image.resize(size, Image.Resampling.BOX) if size != image.size else image)


def _baseline_trim(luma: np.ndarray) -> list[int]:
    """The border search as it was: every side scanned a third deep, always."""
    pixels = luma.astype(np.int16)
    runs = []
    for lines in (pixels, pixels[::-1], pixels.T, pixels.T[::-1]):
        head = lines[:int(len(lines) * pdq.MAX_BORDER)]
        edge = float(np.median(head[0]))
        flat = (np.abs(head - edge).max(axis=1) <= pdq.BORDER_SPREAD) & \
            (head.std(axis=1) <= pdq.BORDER_FLATNESS)
        runs.append(int(flat.argmin()) if not flat.all() else len(head))
    return runs


def baseline_screening(data: bytes) -> list[str]:
    """An upload's signals as before: digests, then pdqhash.compute_dihedral on a
    three-channel copy, then the border search."""
    luma = baseline_luma(data)
    rgb = np.ascontiguousarray(np.repeat(luma[:, :, None], 3, axis=2))
    hashes, _ = pdqhash.compute_dihedral(rgb)
    _baseline_trim(luma)
    return [hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest(),
            *(np.packbits(np.asarray(h, np.uint8)).tobytes().hex() for h in hashes)]


def takedown_screening(data: bytes) -> list[Signal]:
    return compute_signals(data, "image/jpeg", LIMITS)


# --- speed ----------------------------------------------------------------------------


def decode_only(data: bytes) -> None:
    Image.open(io.BytesIO(data)).convert("RGB").load()


def full_pdqhash(data: bytes) -> str:
    bits, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def takedown_pdq(data: bytes) -> str:
    return pdq.pdq(image_luma(data, LIMITS))[0]


def takedown_with_rotations(data: bytes) -> str:
    return pdq.pdq_dihedral(image_luma(data, LIMITS))[0][0]


def takedown_upload(data: bytes) -> list[Signal]:
    """What an upload costs: PDQ with rotations, and borders looked for (none here)."""
    return PDQ().compute(data, "image/jpeg", LIMITS)


def takedown_references(data: bytes) -> list[Signal]:
    """What a reported or confirmed picture costs, once: ~75 edited versions hashed."""
    return PDQ().references(data, "image/jpeg", LIMITS)


def rate(fn: Callable[[bytes], object], images: list[bytes], seconds: float) -> float:
    return per_second(len(images), lambda: [fn(d) for d in images], min_seconds=seconds)


def speed_rows(seconds: float) -> list[list[str]]:
    rows = []
    for size, count in (((1024, 768), 40), ((4000, 3000), 6)):
        images = [generated_photo(seed, size) for seed in range(count)]
        label = f"{size[0]}x{size[1]}"
        drift = [pdq.distance(takedown_pdq(d), full_pdqhash(d)) for d in images]
        rows += [[label, "decode only (Pillow, full size, RGB)",
                  f"{rate(decode_only, images, seconds):,.0f}", "-"],
                 [label, "pdqhash at full resolution",
                  f"{rate(full_pdqhash, images, seconds):,.0f}", "0"],
                 [label, "takedown PDQ (draft luma ~384 px + float threshold)",
                  f"{rate(takedown_pdq, images, seconds):,.0f}",
                  f"{np.mean(drift):.1f} (max {max(drift)})"],
                 [label, "takedown PDQ + 7 rotations/mirrors",
                  f"{rate(takedown_with_rotations, images, seconds):,.0f}", "same"],
                 [label, "baseline upload (before issue 10)",
                  f"{rate(baseline_screening, images, seconds):,.0f}", "same"],
                 [label, "takedown upload: the above + borders looked for",
                  f"{rate(takedown_upload, images, seconds):,.0f}", "same"],
                 [label, "takedown references of a reported file (once per file)",
                  f"{rate(takedown_references, images[:6], seconds):,.1f}", "-"]]
    return rows


def screening_latency(runs: int) -> list[list[str]]:
    """compute_signals on a 1 MP JPEG, baseline and takedown interleaved run by run
    (so that the machine's other load falls on both alike)."""
    data = generated_photo(3, (1000, 1000))
    timings: dict[str, list[float]] = {"baseline (before issue 10)": [], "takedown": []}
    work = {"baseline (before issue 10)": baseline_screening, "takedown": takedown_screening}
    for _ in range(20):  # warm caches and lazy imports
        baseline_screening(data)
        takedown_screening(data)
    for _ in range(runs):
        for name, fn in work.items():
            started = time.perf_counter()
            fn(data)
            timings[name].append((time.perf_counter() - started) * 1000)
    return [[name, f"{np.percentile(t, 50):.2f}", f"{np.percentile(t, 99):.2f}"]
            for name, t in timings.items()]


# --- memory ---------------------------------------------------------------------------


def big_png(side: int = PNG_SIDE) -> bytes:
    """A harmless, low-entropy RGB PNG: 60x60 random colours blown up (~200 KB)."""
    rng = np.random.default_rng(1)
    small = (rng.random((60, 60, 3)) * 255).astype(np.uint8)
    picture = Image.fromarray(small).resize((side, side), Image.Resampling.NEAREST)
    out = io.BytesIO()
    picture.save(out, "PNG", compress_level=9)
    return out.getvalue()


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024


def _reset_peak() -> None:
    """Linux: start VmHWM (peak RSS) again from the current RSS, so that the warm-up's
    own peak (numba loading its compiled code) is not counted."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def peak(method: str, path: str, threads: int) -> dict[str, float]:
    """(In a fresh process) screen the file `threads` times at once: peak and final
    RSS growth over the process after warming up (imports, numba's compiled code)."""
    data = Path(path).read_bytes()
    screen: Callable[[bytes], object] = baseline_luma if method == "baseline" else \
        (lambda d: compute_signals(d, "image/png", LIMITS))
    warm = big_png(2100)  # over the streaming threshold: loads the compiled kernel
    screen(warm)
    gc.collect()
    decode.release_memory()
    _reset_peak()
    before = _status_mib("VmRSS")
    started = time.perf_counter()
    workers = [threading.Thread(target=screen, args=(data,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    peak_mib = _status_mib("VmHWM")
    gc.collect()
    if method != "baseline":
        decode.release_memory()
    return {"peak": peak_mib - before, "after": _status_mib("VmRSS") - before,
            "seconds": seconds}


def memory_rows() -> list[list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.png"
        data = big_png()
        path.write_bytes(data)
        rows = []
        for threads in (1, 4):
            for method in ("baseline", "takedown"):
                found = json.loads(subprocess.run(
                    [sys.executable, "-m", "bench.hash_bench", "--peak", method, str(path),
                     str(threads)], capture_output=True, text=True, check=True).stdout)
                rows.append([f"{PNG_SIDE}x{PNG_SIDE} PNG ({len(data) // 1024} KB)", str(threads),
                             method, f"{found['peak']:,.0f}", f"{found['after']:,.0f}",
                             f"{found['seconds']:.2f}"])
    return rows


# --- video ----------------------------------------------------------------------------


def big_video(size: tuple[int, int] = (8192, 4320), seconds: int = 3, fps: int = 24,
              keyframe_every: int = 24) -> bytes:
    """A harmless H.264 clip: moving grey bars, a keyframe every second by default."""
    width, height = size
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "35"}
        stream.codec_context.gop_size = keyframe_every  # x264's keyint
        luma = np.zeros((height, width), np.uint8)
        chroma = np.full((height // 2, width // 2), 128, np.uint8)
        for n in range(seconds * fps):
            luma[:] = 40
            luma[:, (n * 97) % width:][:, :width // 4] = 200
            luma[(n * 53) % height:][:height // 4] = 120
            frame = av.VideoFrame.from_ndarray(np.concatenate(
                [luma, chroma.reshape(height // 4, width), chroma.reshape(height // 4, width)]),
                format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def baseline_video(data: bytes) -> int:
    """1 fps sampling as before: every frame decoded, FFmpeg's own thread count."""
    sampled, next_at = 0, 0.0
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-6 >= next_at:
                next_at += 1.0
                frame.reformat(width=1024, height=540, format="gray", interpolation="AREA")
                sampled += 1
    return sampled


def video_rows() -> list[list[str]]:
    rows = []
    for keyframe_every, label in ((24, "keyframe every 1 s"), (250, "keyframe every 10 s")):
        data = big_video(keyframe_every=keyframe_every)
        for method, fn in (("baseline", baseline_video),
                           ("takedown", lambda d: len(list(decode.video_frames(d, LIMITS))))):
            started, cpu = time.perf_counter(), time.process_time()
            frames = fn(data)
            rows.append([f"8192x4320 3 s H.264, {label}", method, str(frames),
                         f"{time.perf_counter() - started:.2f}",
                         f"{time.process_time() - cpu:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter timing runs")
    parser.add_argument("--video", action="store_true", help="also the 8K video")
    parser.add_argument("--peak", nargs=3, metavar=("METHOD", "FILE", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:
        print(json.dumps(peak(args.peak[0], args.peak[1], int(args.peak[2]))))
        return
    print(f"# Image hashing — {machine()}\n")
    print(table(["image", "method", "images/s per core", "bits from full-res pdqhash"],
                speed_rows(1.0 if args.quick else 3.0)))
    print("\n## Upload screening of a 1000x1000 JPEG (compute_signals, ms)\n")
    print(table(["method", "p50", "p99"], screening_latency(200 if args.quick else 1000)))
    print("\n## Screening a 60 MP PNG: RSS growth (MiB) over a warmed-up process\n")
    print(table(["file", "at once", "method", "peak", "resident after", "seconds"],
                memory_rows()))
    if args.video:
        print("\n## vPDQ sampling (1 fps) of an 8K video\n")
        print(table(["video", "method", "frames sampled", "seconds", "CPU seconds"],
                    video_rows()))


if __name__ == "__main__":
    main()
