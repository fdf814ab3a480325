"""PDQ through Meta's reference implementation (the `pdqhash` package), and the
Hamming arithmetic on 256-bit hashes that matching needs."""

from __future__ import annotations

import numpy as np
import pdqhash

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
    values, quality = pdqhash.compute_float(_as_rgb(luma))
    values = np.asarray(values)
    return _hex(values > np.median(values)), int(quality)


def pdq_dihedral(luma: np.ndarray) -> tuple[list[str], int]:
    """The hashes of the 8 rotations and mirror images (the first is the image as it
    is, identical to `pdq`), and the quality. Costs about what one hash costs."""
    hashes, quality = pdqhash.compute_dihedral(_as_rgb(luma))
    return [_hex(np.asarray(h)) for h in hashes], int(quality)


def to_bytes(hex_hash: str) -> bytes:
    raw = bytes.fromhex(hex_hash)
    if len(raw) != HASH_BITS // 8:
        raise ValueError("a PDQ hash is 64 hex digits")
    return raw


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


# Centre crops (fraction cut from each side) hashed for confirmed media. PDQ's
# high-frequency coefficients move when an image is cropped by more than ~1% a side;
# matching a cropped re-upload against hashes of the original cropped alike restores
# the match. See docs/performance.md for the distances measured.
CROPS = (0.015, 0.03, 0.045)


def pdq_augmented(luma: np.ndarray) -> list[str]:
    """The 8 rotation and mirror hashes plus hashes of centre crops: what a confirmed
    image is matched with, so that flipped or cropped copies are found too."""
    hashes, _ = pdq_dihedral(luma)
    height, width = luma.shape
    for fraction in CROPS:
        dy, dx = round(height * fraction), round(width * fraction)
        if height - 2 * dy > 8 and width - 2 * dx > 8:
            hashes.append(pdq(np.ascontiguousarray(luma[dy:height - dy, dx:width - dx]))[0])
    return list(dict.fromkeys(hashes))
