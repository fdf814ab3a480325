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
    """pdqhash takes RGB; equal channels give back exactly this luma. A read-only view
    that repeats each pixel (stride 0), not a copy three times its size."""
    luma = np.ascontiguousarray(luma)
    return np.lib.stride_tricks.as_strided(luma, shape=(*luma.shape, 3),
                                           strides=(*luma.strides, 0), writeable=False)


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def _dct(luma: np.ndarray) -> tuple[np.ndarray, int]:
    """PDQ's 16x16 DCT output (row: vertical frequency) and the quality."""
    values, quality = pdqhash.compute_float(_as_rgb(luma))
    return np.asarray(values)[::-1].reshape(16, 16), int(quality)


def _bits(dct: np.ndarray) -> str:
    """The hash: each coefficient above the median, in pdqhash's bit order."""
    flat = dct.reshape(-1)[::-1]
    return _hex(flat > np.median(flat))


def pdq(luma: np.ndarray) -> tuple[str, int]:
    """(hash as 64 hex digits, quality 0-100). The float DCT output thresholded at its
    median is bit-for-bit pdqhash.compute, and faster."""
    dct, quality = _dct(luma)
    return _bits(dct), quality


# The DCT of a rotated or mirrored picture is the original's, transposed and with the
# odd or even frequencies negated: upstream's dct16OriginalTo* functions, in
# pdqhash.compute_dihedral's order. (sign over (row, column) frequency, transposed)
_ROW, _COLUMN = np.indices((16, 16))
_DIHEDRAL = (
    (np.ones((16, 16)), False),  # as it is
    (np.where(_COLUMN % 2, 1.0, -1.0), True),  # rotated 90 degrees
    (np.where((_ROW + _COLUMN) % 2, -1.0, 1.0), False),  # 180
    (np.where(_ROW % 2, 1.0, -1.0), True),  # 270
    (np.where(_ROW % 2, 1.0, -1.0), False),  # flipped about the x axis
    (np.where(_COLUMN % 2, 1.0, -1.0), False),  # about the y axis
    (np.ones((16, 16)), True),  # about the diagonal
    (np.where((_ROW + _COLUMN) % 2, -1.0, 1.0), True),  # about the antidiagonal
)


def pdq_dihedral(luma: np.ndarray) -> tuple[list[str], int]:
    """The hashes of the 8 rotations and mirror images (the first is the image as it
    is, identical to `pdq`), and the quality: bit-for-bit pdqhash.compute_dihedral,
    from one DCT (sign flips and transposes of it), at the cost of one hash."""
    dct, quality = _dct(luma)
    variants = np.stack([(dct * sign).T if transposed else dct * sign
                         for sign, transposed in _DIHEDRAL]).reshape(8, -1)[:, ::-1]
    bits = variants > np.median(variants, axis=1, keepdims=True)
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)], quality


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


def _flat_lines(head: np.ndarray, edge: float) -> np.ndarray:
    flat: np.ndarray = (np.abs(head - edge).max(axis=1) <= BORDER_SPREAD) & \
        (head.std(axis=1) <= BORDER_FLATNESS)
    return flat


def _border_run(lines: np.ndarray, limit: int, needed: int) -> int:
    """How many lines from the first are flat and of the first line's colour, or 0
    when fewer than `needed` are. Most pictures have no border: their first line is
    not flat (told from its range alone), or one of the first `needed` is not, and
    the third of the picture a border may take is never looked at."""
    if min(limit, len(lines)) < needed or np.ptp(lines[0]) > 2 * BORDER_SPREAD:
        return 0
    edge = float(np.median(lines[0]))
    if not _flat_lines(lines[:needed].astype(np.int16), edge).all():
        return 0
    flat = _flat_lines(lines[:limit].astype(np.int16), edge)
    return int(flat.argmin()) if not flat.all() else len(flat)


def trim_borders(luma: np.ndarray) -> np.ndarray | None:
    """The picture without uniform borders of any colour (letterbox, pillarbox, a
    frame), or None if it has none worth trimming."""
    height, width = luma.shape
    sides = []
    for lines, length in ((luma, height), (luma[::-1], height),
                          (luma.T, width), (luma.T[::-1], width)):
        needed = max(2, math.ceil(length * MIN_BORDER))
        run = _border_run(lines, int(length * MAX_BORDER), needed)
        sides.append(run + BLEND_PX if run >= needed else 0)
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
