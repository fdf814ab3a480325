"""Harmless generated pictures for the demo and the tests: photo-like noise and shapes,
and the alterations re-uploaders make to them."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def generated_photo(seed: int, size: tuple[int, int] = (1024, 768), quality: int = 88) -> bytes:
    """A harmless photo-like JPEG (blurred colour noise and shapes): rich enough in
    detail for PDQ quality 100, unlike flat pictures."""
    import numpy as np
    from PIL import ImageFilter

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
