"""Large PNGs decoded a band of rows at a time, straight to luma reduced by a whole
factor, so that a 60-megapixel PNG (a few hundred KB on disk) never has its pixels
in memory at once: Pillow would hold 4 bytes a pixel for RGB(A) (240 MB) and a luma
copy. Here zlib inflates a few MB at a time and one compiled pass per band undoes
the PNG row filters, takes luma with Pillow's own integer weights and sums blocks of
`factor` x `factor` pixels, so the result is Pillow's `convert("L").reduce(factor)`
within 1 level (tests/media/test_decode.py compares them).

Only the common layouts are streamed: non-interlaced, not animated, 8 or 16 bits a
sample (grey, grey+alpha, RGB, RGBA) or 8-bit palettes. `layout` says None for the
rest, which Pillow decodes whole (they cost 1-2 bytes a pixel there, or are rare).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BAND_BYTES = 4 << 20  # filtered rows inflated before each compiled pass
_INFLATE_STEP = 1 << 20  # most bytes zlib may hand back per call (a bomb stays bounded)
ORIENTATION = 0x0112
_WANTED = {b"IHDR", b"PLTE", b"IDAT", b"acTL", b"eXIf"}  # the chunks looked at
_MOST_CHUNKS = 100_000  # each costs a view here (~200 bytes); a 64 MB file can hold 5M


class PngError(ValueError):
    """The PNG stream is corrupt or truncated; the message says how."""


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    bpp: int  # bytes a pixel (filters work on whole pixels)
    kind: int  # 0: lut[first byte], 1: RGB luma at `offsets`, 2: 16-bit grey
    offsets: tuple[int, int, int]
    lut: np.ndarray  # (256,) uint8: identity, or a palette's luma
    idat: tuple[memoryview, ...]
    orientation: int

    @property
    def stride(self) -> int:
        return self.width * self.bpp


# (colour type, bit depth) -> (bytes a pixel, kind, byte offsets of R, G, B). 16-bit
# samples are big-endian: Pillow keeps their high byte, except for plain grey, which
# it clips to 255 (its I;16 -> L conversion), and so is it here.
_FORMATS = {
    (0, 8): (1, 0, (0, 0, 0)), (0, 16): (2, 2, (0, 0, 0)),
    (2, 8): (3, 1, (0, 1, 2)), (2, 16): (6, 1, (0, 2, 4)),
    (3, 8): (1, 0, (0, 0, 0)),
    (4, 8): (2, 0, (0, 0, 0)), (4, 16): (4, 0, (0, 0, 0)),
    (6, 8): (4, 1, (0, 1, 2)), (6, 16): (8, 1, (0, 2, 4)),
}


def _chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    view, at = memoryview(data), len(_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        if at + 12 + length > len(data):
            return  # cut short: Pillow will say so when it decodes
        yield kind, view[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IEND":
            return


def layout(data: bytes, opened: Image.Image) -> Layout | None:
    """How to stream this PNG, or None where Pillow had better decode it."""
    if not data.startswith(_SIGNATURE):
        return None
    chunks: dict[bytes, list[memoryview]] = {}
    for count, (kind, body) in enumerate(_chunks(data)):
        if count > _MOST_CHUNKS:
            return None  # millions of tiny chunks: Pillow reads them one at a time
        if kind in _WANTED:
            chunks.setdefault(kind, []).append(body)
    header = chunks.get(b"IHDR", [memoryview(b"")])[0]
    if len(header) != 13 or b"acTL" in chunks or not chunks.get(b"IDAT"):
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    found = _FORMATS.get((colour, depth))
    if found is None or interlace or (width, height) != opened.size:
        return None
    bpp, luma_kind, offsets = found
    lut = _palette_luma(opened) if colour == 3 else np.arange(256, dtype=np.uint8)
    return Layout(width, height, bpp, luma_kind, offsets, lut, tuple(chunks[b"IDAT"]),
                  _orientation(chunks.get(b"eXIf")))


def _palette_luma(opened: Image.Image) -> np.ndarray:
    """Each palette index's luma, as Pillow's P -> L conversion gives it."""
    indices = Image.frombytes("P", (256, 1), bytes(range(256)))
    if opened.palette is not None:  # read from PLTE at open, without decoding pixels
        indices.putpalette(opened.palette.palette, opened.palette.rawmode or "RGB")
    return np.asarray(indices.convert("L")).reshape(256).copy()


def _orientation(exif: list[memoryview] | None) -> int:
    if not exif:
        return 1
    tags = Image.Exif()
    tags.load(b"Exif\x00\x00" + bytes(exif[0]))
    value = tags.get(ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _inflated(idat: tuple[memoryview, ...]) -> Iterator[bytes]:
    """The zlib stream of the IDAT chunks, a bounded piece at a time."""
    inflater = zlib.decompressobj()
    try:
        for chunk in idat:
            pending: bytes | memoryview = chunk
            while pending and not inflater.eof:
                piece = inflater.decompress(pending, _INFLATE_STEP)
                pending = inflater.unconsumed_tail
                yield piece
        while not inflater.eof:  # output still held back by the step
            piece = inflater.decompress(b"", _INFLATE_STEP)
            if not piece:
                return
            yield piece
    except zlib.error as exc:
        raise PngError(f"corrupt PNG data: {exc}") from None


def _filtered_bands(found: Layout, rows_per_band: int) -> Iterator[np.ndarray]:
    """The filtered rows (filter byte first), `rows_per_band` at a time (fewer last);
    the stream must hold every row."""
    row = found.stride + 1
    band = np.empty(rows_per_band * row, np.uint8)
    filled, rows_left = 0, found.height
    for piece in _inflated(found.idat):
        source = np.frombuffer(piece, np.uint8)
        while source.size and rows_left:
            wanted = min(rows_per_band, rows_left) * row
            take = min(source.size, wanted - filled)
            band[filled:filled + take] = source[:take]
            filled, source = filled + take, source[take:]
            if filled == wanted:
                yield band[:wanted].reshape(-1, row)
                rows_left -= wanted // row
                filled = 0
        if not rows_left:
            return
    raise PngError("truncated PNG: the image data ends before its last row")


def reduced_luma(found: Layout, factor: int) -> np.ndarray:
    """Luma reduced by `factor` on both axes (partial edge blocks averaged over the
    pixels they hold, as Pillow's `reduce` does): ceil(height / factor) rows."""
    from takedown.media import pngkernels  # numba loads on the first large PNG only

    out_w, out_h = -(-found.width // factor), -(-found.height // factor)
    out = np.empty((out_h, out_w), np.uint8)
    previous = np.zeros(found.stride, np.uint8)
    sums = np.zeros(out_w, np.uint32)
    rows_per_band = factor * max(1, _BAND_BYTES // (factor * (found.stride + 1)))
    done = 0
    for band in _filtered_bands(found, rows_per_band):
        status = pngkernels.reduce_band(
            band, previous, found.bpp, found.kind, np.array(found.offsets, np.int64),
            found.lut, factor, found.width, sums, out[done // factor:])
        if status:
            raise PngError(f"corrupt PNG data: unknown row filter {status - 1}")
        done += band.shape[0]
    return out


def memory_needed(found: Layout) -> int:
    """Bytes `reduced_luma` holds at its peak: a band, an inflated piece, the output."""
    row = found.stride + 1
    band = max(row, _BAND_BYTES // row * row)
    return 2 * band + 2 * _INFLATE_STEP + found.width * found.height // 4
