"""Harmless generated pictures for the demo and the tests: photo-like noise and shapes,
and the alterations re-uploaders make to them."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def generated_photo(seed: int, size: tuple[int, int] = (1024, 768), quality: int = 88) -> bytes:
    """A harmless photo-like JPEG (blurred colour noise and shapes): rich enough in
    detail for PDQ quality 100, unlike flat pictures."""
    rng = np.random.default_rng(seed)
    width, height = size
    noise = (rng.random((max(1, height // 16), max(1, width // 16), 3)) * 255).astype(np.uint8)
    image = Image.fromarray(noise).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(10, max(11, width // 6)))
        draw.ellipse([x, y, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    image = image.filter(ImageFilter.GaussianBlur(1.5))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


ALTERATIONS = ("re-encoded", "resized", "cropped", "watermarked", "mirrored", "greyscaled")
"""The names of `altered_copies`, in its order."""


def altered_copies(data: bytes) -> dict[str, bytes]:
    """What re-uploaders do to dodge exact hashes: re-encode, resize, crop a few percent,
    watermark, mirror, greyscale. Each must still match the original."""
    from PIL import ImageOps

    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size

    def jpeg(picture: Image.Image, quality: int = 85) -> bytes:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality)
        return out.getvalue()

    marked = image.copy()
    draw = ImageDraw.Draw(marked)
    draw.rectangle([width - 260, height - 60, width - 20, height - 20], fill=(255, 255, 255))
    draw.text((width - 250, height - 50), "reposted by @someone", fill=(0, 0, 0))
    crop = round(width * 0.03), round(height * 0.03)
    return {
        "re-encoded": jpeg(image, 55),
        "resized": jpeg(image.resize((width // 2, height // 2), Image.Resampling.LANCZOS)),
        "cropped": jpeg(image.crop((crop[0], crop[1], width - crop[0], height - crop[1]))),
        "watermarked": jpeg(marked),
        "mirrored": jpeg(ImageOps.mirror(image)),
        "greyscaled": jpeg(ImageOps.grayscale(image).convert("RGB")),
    }


def look_alike(seed: int) -> bytes:
    """A different picture in the same style as `generated_photo(seed)`: same size,
    same kind of colours and shapes. It must never match."""
    return generated_photo(seed + 10_000)


def _fractal_noise(rng: np.random.Generator, height: int, width: int,
                   octaves: int) -> np.ndarray:
    out = np.zeros((height, width))
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        small = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
        layer = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), float)
        out += layer / 255 / 2 ** octave
    result: np.ndarray = out / out.max()
    return result


def _scene(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Sky, horizon and ground, with buildings, suns and hills."""
    horizon = int(height * rng.uniform(0.3, 0.8))
    top, bottom = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
    t = np.linspace(0, 1, horizon)[:, None, None]
    sky = (top * (1 - t) + bottom * t) * np.ones((1, width, 1))
    texture = _fractal_noise(rng, height - horizon, width, 4)[:, :, None]
    ground = rng.integers(0, 255, 3) * (0.6 + 0.4 * texture)
    picture = Image.fromarray(np.concatenate([sky, ground]).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(int(rng.integers(3, 25))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        s = int(rng.integers(8, max(9, width // 4)))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse([x, y, x + s, y + s], fill=colour)
        elif kind == 1:
            draw.rectangle([x, y, x + s // 2, y + s * 2], fill=colour)
        else:
            draw.polygon([(x, y), (x + s, y + int(rng.integers(-s, s))),
                          (x + int(rng.integers(-s, s)), y + s)], fill=colour)
    return picture.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3))))


def _texture(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    channels = [_fractal_noise(rng, height, width, int(rng.integers(2, 6))) for _ in range(3)]
    return Image.fromarray((np.stack(channels, axis=2) * 255).astype(np.uint8))


def _blobs(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    noise = (rng.random((max(1, height // 16), max(1, width // 16), 3)) * 255).astype(np.uint8)
    picture = Image.fromarray(noise).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(picture)
    for _ in range(30):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(10, max(11, width // 6)))
        draw.ellipse([x, y, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return picture.filter(ImageFilter.GaussianBlur(1.5))


def harmless_photo(seed: int) -> bytes:
    """One of endlessly many distinct harmless photo-like JPEGs, in three styles
    (landscapes with shapes, textures, colour blobs) and four shapes, for measuring
    how often matching mistakes unrelated pictures for each other."""
    rng = np.random.default_rng(seed)
    width = int(rng.choice([480, 640, 800]))
    height = int(width * rng.choice([0.75, 0.5625, 1.0, 1.333]))
    picture = (_scene, _texture, _blobs)[seed % 3](rng, width, height)
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=int(rng.integers(70, 95)))
    return out.getvalue()
