"""Image hashing speed: decoding alone, full-resolution pdqhash, and takedown.

    .venv/bin/python -m bench.hash_bench

Harmless generated photo-like JPEGs at 1024x768 and 4000x3000. Per core (one
process). Also prints how far takedown's hashes are from full-resolution pdqhash.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pdqhash
from PIL import Image

from bench.common import machine, per_second, table
from takedown.demo.media import generated_photo
from takedown.media import pdq
from takedown.media.decode import DecodeLimits, image_luma
from takedown.media.signals import PDQ, Signal

LIMITS = DecodeLimits()


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


def rate(fn: Callable[[bytes], object], images: list[bytes]) -> float:
    return per_second(len(images), lambda: [fn(d) for d in images], min_seconds=3.0)


def main() -> None:
    print(f"# Image hashing — {machine()}\n")
    rows = []
    for size, count in (((1024, 768), 40), ((4000, 3000), 6)):
        images = [generated_photo(seed, size) for seed in range(count)]
        label = f"{size[0]}x{size[1]}"

        decode = rate(decode_only, images)
        full = rate(full_pdqhash, images)
        ours = rate(takedown_pdq, images)
        rotations = rate(takedown_with_rotations, images)
        upload = rate(takedown_upload, images)
        references = rate(takedown_references, images[:6])
        drift = [pdq.distance(takedown_pdq(d), full_pdqhash(d)) for d in images]
        rows += [[label, "decode only (Pillow, full size, RGB)", f"{decode:,.0f}", "-"],
                 [label, "pdqhash at full resolution (baseline)", f"{full:,.0f}", "0"],
                 [label, "takedown PDQ (draft luma ~384 px + float threshold)",
                  f"{ours:,.0f}", f"{np.mean(drift):.1f} (max {max(drift)})"],
                 [label, "takedown PDQ + 7 rotations/mirrors", f"{rotations:,.0f}", "same"],
                 [label, "takedown upload: the above + borders looked for",
                  f"{upload:,.0f}", "same"],
                 [label, "takedown references of a reported file (once per file)",
                  f"{references:,.1f}", "-"]]
    print(table(["image", "method", "images/s per core", "bits from full-res pdqhash"],
                rows))


if __name__ == "__main__":
    main()
