"""The edits people make to a picture or a video to dodge matching, applied to
harmless generated media: what the demo replays, the tests check and the matching
benchmark measures. Each edit has a strength; `EDITS` names them all.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

Edit = Callable[[Image.Image], Image.Image]


def jpeg(picture: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def rotate(degrees: float, fill: tuple[int, int, int] = (0, 0, 0), expand: bool = False) -> Edit:
    return lambda p: p.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=expand,
                              fillcolor=fill)


def rotate_and_fill(degrees: float) -> Edit:
    """Rotated and cropped to the largest upright rectangle inside, as phone editors
    straighten a picture (no corners left)."""
    def edit(p: Image.Image) -> Image.Image:
        width, height = p.size
        angle = math.radians(abs(degrees))
        scale = 1 / (math.cos(angle) + max(width / height, height / width) * math.sin(angle))
        w, h = width * scale, height * scale
        return p.rotate(degrees, resample=Image.Resampling.BICUBIC).crop(
            (int((width - w) / 2), int((height - h) / 2), int((width + w) / 2),
             int((height + h) / 2)))
    return edit


def crop_side(fraction: float, side: str) -> Edit:
    def edit(p: Image.Image) -> Image.Image:
        w, h = p.size
        return p.crop({"top": (0, round(h * fraction), w, h),
                       "bottom": (0, 0, w, h - round(h * fraction)),
                       "left": (round(w * fraction), 0, w, h),
                       "right": (0, 0, w - round(w * fraction), h)}[side])
    return edit


def crop_all(fraction: float) -> Edit:
    """`fraction` cut from every side."""
    def edit(p: Image.Image) -> Image.Image:
        w, h = p.size
        dx, dy = round(w * fraction), round(h * fraction)
        return p.crop((dx, dy, w - dx, h - dy))
    return edit


def border(fraction: float, where: str, colour: tuple[int, int, int] = (0, 0, 0)) -> Edit:
    """Bars adding `fraction` of the picture's height (letterbox), width (pillarbox) or
    longest side (frame, all round)."""
    def edit(p: Image.Image) -> Image.Image:
        w, h = p.size
        pad_x = round(w * fraction / 2) if where == "pillarbox" else 0
        pad_y = round(h * fraction / 2) if where == "letterbox" else 0
        if where == "frame":
            pad_x = pad_y = round(max(w, h) * fraction / 2)
        out = Image.new("RGB", (w + 2 * pad_x, h + 2 * pad_y), colour)
        out.paste(p, (pad_x, pad_y))
        return out
    return edit


def brightness(factor: float) -> Edit:
    return lambda p: ImageEnhance.Brightness(p).enhance(factor)


def contrast(factor: float) -> Edit:
    return lambda p: ImageEnhance.Contrast(p).enhance(factor)


def resize(factor: float) -> Edit:
    return lambda p: p.resize((max(16, round(p.width * factor)), max(16, round(p.height * factor))),
                              Image.Resampling.LANCZOS)


def mirror(p: Image.Image) -> Image.Image:
    return ImageOps.mirror(p)


def greyscale(p: Image.Image) -> Image.Image:
    return ImageOps.grayscale(p).convert("RGB")


def watermark(p: Image.Image) -> Image.Image:
    marked = p.copy()
    draw = ImageDraw.Draw(marked)
    w, h = p.size
    box = (w - round(w * 0.25), h - round(h * 0.08), w - round(w * 0.02), h - round(h * 0.02))
    draw.rectangle(box, fill=(255, 255, 255))
    draw.text((box[0] + 6, box[1] + 4), "reposted by @someone", fill=(0, 0, 0))
    return marked


def chain(*edits: Edit) -> Edit:
    def edit(p: Image.Image) -> Image.Image:
        for step in edits:
            p = step(p)
        return p
    return edit


@dataclass(frozen=True)
class NamedEdit:
    kind: str  # the class of edit: rotation, crop, border, ...
    name: str  # with its strength
    edit: Edit
    quality: int = 85  # JPEG quality of the re-upload

    def apply(self, data: bytes) -> bytes:
        return jpeg(self.edit(opened(data)), self.quality)


def _edits() -> list[NamedEdit]:
    edits = [NamedEdit("re-encoding", f"JPEG quality {q}", lambda p: p, q) for q in (30, 50)]
    edits += [NamedEdit("resizing", f"resized to {f:.0%}", resize(f)) for f in (0.5, 0.3)]
    edits += [NamedEdit("mirror", "mirrored", mirror), NamedEdit("greyscale", "greyscaled",
                                                                 greyscale),
              NamedEdit("watermark", "watermarked", watermark)]
    for d in (1, 2, 3, 4, 5, -2.5, -5):
        edits.append(NamedEdit("rotation", f"rotated {d:+g} degrees, black corners", rotate(d)))
        edits.append(NamedEdit("rotation", f"rotated {d:+g} degrees, straightened",
                               rotate_and_fill(d)))
    edits.append(NamedEdit("rotation", "rotated +3 degrees, canvas grown",
                           rotate(3, expand=True)))
    for f in (0.03, 0.05, 0.08, 0.10):
        for side in ("top", "left"):
            edits.append(NamedEdit("crop, one side", f"cropped {f:.0%} from the {side}",
                                   crop_side(f, side)))
        edits.append(NamedEdit("crop, all sides", f"cropped {f:.0%} from every side",
                               crop_all(f)))
    for f in (0.08, 0.15):
        edits.append(NamedEdit("border", f"letterbox {f:.0%}", border(f, "letterbox")))
        edits.append(NamedEdit("border", f"pillarbox {f:.0%}", border(f, "pillarbox")))
        edits.append(NamedEdit("border", f"white frame {f:.0%}",
                               border(f, "frame", (255, 255, 255))))
    for f in (0.8, 1.2):
        edits.append(NamedEdit("brightness/contrast", f"brightness {f - 1:+.0%}", brightness(f)))
        edits.append(NamedEdit("brightness/contrast", f"contrast {f - 1:+.0%}", contrast(f)))
    edits += [
        NamedEdit("combined", "cropped 5% from the top, JPEG quality 50",
                  crop_side(0.05, "top"), 50),
        NamedEdit("combined", "rotated +2 degrees, brightness -15%",
                  chain(rotate(2), brightness(0.85))),
        NamedEdit("combined", "letterbox 8%, resized to 50%, JPEG quality 40",
                  chain(border(0.08, "letterbox"), resize(0.5)), 40),
        NamedEdit("combined", "cropped 8% from the left, contrast +20%, JPEG quality 30",
                  chain(crop_side(0.08, "left"), contrast(1.2)), 30),
        NamedEdit("combined", "mirrored, rotated -3 degrees, resized to 60%",
                  chain(mirror, rotate(-3), resize(0.6))),
    ]
    return edits


EDITS = _edits()


# --- videos ------------------------------------------------------------------------

def generated_video(seed: int, seconds: float = 8.0, size: tuple[int, int] = (320, 240),
                    fps: int = 24) -> bytes:
    """A harmless video: shapes moving over a textured background, different for each
    seed, changing every frame (so that a clip's frames fall between a sparse sample's)."""
    rng = np.random.default_rng(seed)
    width, height = size
    base = (rng.random((height // 8 + 1, width // 8 + 1, 3)) * 255).astype(np.uint8)
    background = np.asarray(Image.fromarray(base).resize((width, height),
                                                         Image.Resampling.BICUBIC))
    shapes = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-6, 6),
               rng.uniform(-4, 4), int(rng.integers(15, 50)),
               tuple(int(c) for c in rng.integers(0, 255, 3))) for _ in range(6)]
    frames = []
    for n in range(round(seconds * fps)):
        picture = Image.fromarray(np.roll(background, n * 2, axis=1))
        draw = ImageDraw.Draw(picture)
        for x, y, dx, dy, r, colour in shapes:
            cx, cy = (x + dx * n) % width, (y + dy * n) % height
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        frames.append(picture)
    return encode_video(frames, fps)


def encode_video(frames: list[Image.Image], fps: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        for picture in frames:
            frame = av.VideoFrame.from_image(picture.convert("RGB"))  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def decoded_frames(data: bytes) -> tuple[list[Image.Image], int]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate or 24))
        return [frame.to_image() for frame in container.decode(stream)], fps  # type: ignore[no-untyped-call]


def clip(data: bytes, start_s: float, seconds: float) -> bytes:
    """A shorter cut of a video from `start_s`, re-encoded (its frames fall at other
    offsets than a 1-per-second sample of the original's)."""
    frames, fps = decoded_frames(data)
    first = round(start_s * fps)
    return encode_video(frames[first:first + round(seconds * fps)], fps)


def frame_at(data: bytes, seconds: float) -> bytes:
    """One frame of a video as a JPEG, as if grabbed and posted as a picture."""
    frames, fps = decoded_frames(data)
    return jpeg(frames[min(len(frames) - 1, round(seconds * fps))], 90)


def slideshow(pictures: list[bytes], seconds_each: float = 3.0,
              size: tuple[int, int] = (640, 360), fps: int = 24) -> bytes:
    """A video showing each picture in turn, fitted into a 16:9 frame (pillarboxed)."""
    frames: list[Image.Image] = []
    for data in pictures:
        picture = ImageOps.contain(opened(data), size)
        frame = Image.new("RGB", size)
        frame.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
        frames += [frame] * round(seconds_each * fps)
    return encode_video(frames, fps)
