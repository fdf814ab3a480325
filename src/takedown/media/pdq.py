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
