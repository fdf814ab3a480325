"""The compiled inner loop of `pngstream` (numba): PNG row filters undone, luma
taken and summed into blocks, one band of rows at a time.

Imported lazily on the first large PNG, so that importing takedown.media neither
loads numba nor compiles; compiled once and cached on disk (`cache=True`, next to
this file in __pycache__). `nogil=True`: other threads run while a band decodes.
Each filter and each pixel layout has its own branch-free loop: the loops run over
every byte of up to 480 MB of pixels.
"""

from __future__ import annotations

import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True)


@jit
def _unfilter(kind: int, raw: np.ndarray, up: np.ndarray, out: np.ndarray, bpp: int) -> None:
    """One row's filter undone: `raw` filtered bytes, `up` the row above (unfiltered),
    into `out`. PNG's five filters, each as its own loop."""
    size = out.shape[0]
    if kind == 0:
        out[:] = raw
    elif kind == 1:
        out[:bpp] = raw[:bpp]
        for i in range(bpp, size):
            out[i] = (raw[i] + out[i - bpp]) & 255
    elif kind == 2:
        for i in range(size):
            out[i] = (raw[i] + up[i]) & 255
    elif kind == 3:
        for i in range(bpp):
            out[i] = (raw[i] + (up[i] >> 1)) & 255
        for i in range(bpp, size):
            out[i] = (raw[i] + ((np.int32(out[i - bpp]) + up[i]) >> 1)) & 255
    else:
        for i in range(bpp):
            out[i] = (raw[i] + up[i]) & 255  # Paeth with no left neighbour: the byte above
        for i in range(bpp, size):
            a, b, c = np.int32(out[i - bpp]), np.int32(up[i]), np.int32(up[i - bpp])
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            guess = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[i] = (raw[i] + guess) & 255


@jit
def _add_luma(pixels: np.ndarray, width: int, bpp: int, kind: int, offsets: np.ndarray,
              lut: np.ndarray, luma: np.ndarray) -> None:
    """Each pixel's luma into `luma` (int32, one per pixel), as Pillow computes it."""
    if kind == 1:  # Pillow's L24: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
        r, g, b = offsets[0], offsets[1], offsets[2]
        for x in range(width):
            at = x * bpp
            luma[x] = (np.int32(pixels[at + r]) * 19595 + np.int32(pixels[at + g]) * 38470
                       + np.int32(pixels[at + b]) * 7471 + 0x8000) >> 16
    elif kind == 2:  # 16-bit grey, clipped at 255 like Pillow's I;16 -> L
        for x in range(width):
            luma[x] = 255 if pixels[2 * x] else pixels[2 * x + 1]
    else:
        for x in range(width):
            luma[x] = lut[pixels[x * bpp]]


@jit
def reduce_band(band: np.ndarray, previous: np.ndarray, bpp: int, kind: int,
                offsets: np.ndarray, lut: np.ndarray, factor: int, width: int,
                sums: np.ndarray, out: np.ndarray) -> int:
    """Decode `band` (rows of filter byte + filtered bytes; a whole number of `factor`
    rows, except the image's last band) into out[0], out[1], … (one row per `factor`
    rows). `previous` carries the last unfiltered row from band to band. Returns 0,
    or 1 + a filter byte that names no filter."""
    rows, out_w = band.shape[0], sums.shape[0]
    current = np.empty_like(previous)
    luma = np.empty(width, np.int32)
    for r in range(rows):
        kind_of_filter = int(band[r, 0])
        if kind_of_filter > 4:
            return 1 + kind_of_filter
        _unfilter(kind_of_filter, band[r, 1:], previous, current, bpp)
        previous[:] = current
        _add_luma(current, width, bpp, kind, offsets, lut, luma)
        for column in range(out_w):
            total = 0
            for x in range(column * factor, min(width, (column + 1) * factor)):
                total += luma[x]
            sums[column] += total
        if (r + 1) % factor == 0 or r == rows - 1:
            tall = r % factor + 1
            for column in range(out_w):
                area = tall * min(factor, width - column * factor)
                out[r // factor, column] = (sums[column] + area // 2) // area
                sums[column] = 0
    return 0
