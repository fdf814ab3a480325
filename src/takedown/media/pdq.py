"""PDQ through Meta's reference implementation (the `pdqhash` package), the Hamming
arithmetic on 256-bit hashes, and the image geometry that matching needs: uniform
borders trimmed, and the rotations and crops that re-uploaders make.

PDQ survives re-encoding, resizing, brightness, contrast and small watermarks, but
not geometry: a 3-degree rotation or a 5% crop from one side moves 50-100 of its
256 bits (docs/performance.md). Two remedies, both around PDQ rather than instead
of it, so that PDQ stays the exchange format:

* Borders (letterbox, pillarbox, frames) are found and trimmed, and the trimmed
  picture is hashed as well (`trim_borders`), on uploads and references alike.
* A confirmed or reported image (a reference) is hashed again after each edit a
  re-uploader makes (`reference_edits`): rotations, one-side and centred crops.
  That is done once per reference, not for every upload.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pdqhash
from PIL import Image

HASH_BITS = 256
MATCH_DISTANCE = 31  # the field's standard PDQ threshold
MIN_QUALITY = 50  # below this a hash says too little to match on (upstream's rule)


def _as_rgb(luma: np.ndarray) -> np.ndarray:
    """pdqhash takes RGB; equal channels give back exactly this luma."""
    return np.ascontiguousarray(np.repeat(luma[:, :, None], 3, axis=2))


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def pdq(luma: np.ndarray) -> tuple[str, int]:
    """(hash as 64 hex digits, quality 0-100). The float DCT output thresholded at its
    median is bit-for-bit pdqhash.compute, and faster."""
    values, quality = pdqhash.compute_float(_as_rgb(np.ascontiguousarray(luma)))
    values = np.asarray(values)
    return _hex(values > np.median(values)), int(quality)


def pdq_dihedral(luma: np.ndarray) -> tuple[list[str], int]:
    """The hashes of the 8 rotations and mirror images (the first is the image as it
    is, identical to `pdq`), and the quality. Costs about what one hash costs."""
    hashes, quality = pdqhash.compute_dihedral(_as_rgb(np.ascontiguousarray(luma)))
    return [_hex(np.asarray(h)) for h in hashes], int(quality)


def to_bytes(hex_hash: str) -> bytes:
    raw = bytes.fromhex(hex_hash)
    if len(raw) != HASH_BITS // 8:
        raise ValueError("a PDQ hash is 64 hex digits")
    return raw


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --- borders -------------------------------------------------------------------

# A line (row or column) belongs to a border when every pixel is within
# BORDER_SPREAD of the edge's colour and the line is nearly flat (JPEG noise allowed).
BORDER_SPREAD = 24
BORDER_FLATNESS = 4.0
MIN_BORDER = 0.015  # a side's run counts as a border from 1.5% of the side's length
MAX_BORDER = 0.35  # never trim more than this from one side
BLEND_PX = 1  # the row where border and picture blend goes too


def _border_run(lines: np.ndarray, limit: int) -> int:
    """How many lines from the first are flat and of the first line's colour."""
    head = lines[:limit]
    if not len(head):
        return 0
    edge = float(np.median(head[0]))
    flat = (np.abs(head - edge).max(axis=1) <= BORDER_SPREAD) & \
        (head.std(axis=1) <= BORDER_FLATNESS)
    return int(flat.argmin()) if not flat.all() else len(head)


def trim_borders(luma: np.ndarray) -> np.ndarray | None:
    """The picture without uniform borders of any colour (letterbox, pillarbox, a
    frame), or None if it has none worth trimming."""
    height, width = luma.shape
    pixels = luma.astype(np.int16)
    sides = []
    for lines, length in ((pixels, height), (pixels[::-1], height),
                          (pixels.T, width), (pixels.T[::-1], width)):
        run = _border_run(lines, int(length * MAX_BORDER))
        sides.append(run + BLEND_PX if run >= max(2, length * MIN_BORDER) else 0)
    top, bottom, left, right = sides
    if not any(sides) or height - top - bottom < 16 or width - left - right < 16:
        return None
    return np.ascontiguousarray(luma[top:height - bottom, left:width - right])


# --- the edits re-uploaders make ---------------------------------------------------

ROTATIONS = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)  # degrees; 1-degree steps keep every
# angle in between within ~20 bits of one of them (docs/performance.md)
ONE_SIDE_CROPS = (0.02, 0.04, 0.06, 0.08, 0.10)  # fraction cut from one side
CENTRE_CROPS = (0.015, 0.03, 0.045, 0.06, 0.075, 0.09, 0.105)  # cut from every side


def _rotated(luma: np.ndarray, degrees: float, how: str) -> np.ndarray:
    """Rotated as editors do it: on the same canvas with black corners, on a canvas
    grown to fit, or cropped to the largest upright rectangle inside (no corners)."""
    image = Image.fromarray(luma)
    if how != "cropped":
        rotated = image.rotate(degrees, resample=Image.Resampling.BICUBIC,
                               expand=how == "expanded", fillcolor=0)
        return np.asarray(rotated)
    width, height = image.size
    angle = math.radians(abs(degrees))
    scale = 1 / (math.cos(angle) + max(width / height, height / width) * math.sin(angle))
    keep_w, keep_h = width * scale, height * scale
    rotated = image.rotate(degrees, resample=Image.Resampling.BICUBIC)
    box = (int((width - keep_w) / 2), int((height - keep_h) / 2),
           int((width + keep_w) / 2), int((height + keep_h) / 2))
    return np.asarray(rotated.crop(box))


def _cropped(luma: np.ndarray, top: float, bottom: float, left: float,
             right: float) -> np.ndarray:
    height, width = luma.shape
    return luma[round(height * top):height - round(height * bottom),
                round(width * left):width - round(width * right)]


def reference_edits(luma: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(what was done, the picture) for each edit a reference is hashed after: every
    1-degree rotation up to 5 degrees either way (three ways of filling corners),
    crops of up to 10% from each side, and centred crops of up to 10% a side."""
    for degrees in ROTATIONS:
        for how in ("black corners", "expanded", "cropped"):
            yield f"rotated {degrees:+d} degrees, {how}", _rotated(luma, degrees,
                                                                  how.split()[0])
    for fraction in ONE_SIDE_CROPS:
        for side, cut in (("top", (fraction, 0, 0, 0)), ("bottom", (0, fraction, 0, 0)),
                          ("left", (0, 0, fraction, 0)), ("right", (0, 0, 0, fraction))):
            yield f"cropped {fraction:.0%} from the {side}", _cropped(luma, *cut)
    for fraction in CENTRE_CROPS:
        yield f"cropped {fraction:.1%} from every side", _cropped(luma, *(fraction,) * 4)
