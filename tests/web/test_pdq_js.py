"""pdq.js, the browser's own PDQ and MD5 (a victim's file is hashed on their device and
only the hash is sent), in Debian's chromium: against the reference set's hashes, against
pdqhash on the same pixels, and checked never to send the file anywhere."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageFilter

from takedown.media.pdq import MATCH_DISTANCE, MIN_QUALITY
from tests.helpers import REFERENCE
from tests.web.browser import CHROMIUM, HAVE_CHROMIUM, NO_CHROMIUM

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)

STATIC = Path(__file__).resolve().parents[2] / "src" / "takedown" / "web" / "static"
PDQ_DIR = REFERENCE / "pdq"
NO_REFERENCE = f"reference data not found at {PDQ_DIR}"
ORIGINAL = "aaa-orig.jpg"
EDITS = ["blur-a-little.jpg", "blur-a-lot.jpg", "high-contrast.jpg", "high-saturation.jpg",
         "sharpen-a-little.jpg", "sharpen-a-lot.jpg", "shrink-a-little.jpg",
         "shrink-a-lot.jpg", "square-128x128.jpg", "square-256x256.jpg",
         "square-512x512.jpg"]
CONFORMANCE_DISTANCE = 16  # upstream's tolerance for another implementation of PDQ
CHUNK = 4 * 1024 * 1024  # md5FromFile's read size

# Served by the test rather than shipped in static/: the page that uses pdq.js is the
# product's; this one only exposes the module to page.evaluate.
HARNESS = b"""<!doctype html><meta charset="utf-8"><title>pdq.js harness</title>
<input type="file" id="file">
<script type="module">import * as pdq from "/pdq.js"; window.pdq = pdq;</script>"""
CHOSEN = "() => document.getElementById('file').files[0]"
HASH_CHOSEN = f"async () => window.pdq.pdqFromFile(({CHOSEN})())"
MD5_CHOSEN = f"""async () => {{ const seen = [];
    const md5 = await window.pdq.md5FromFile(({CHOSEN})(), (done) => seen.push(done));
    return [md5, seen]; }}"""
HASH_RGBA = """async ([b64, width, height]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return window.pdq.pdqFromRGBA(bytes, width, height); }"""


class _Handler(SimpleHTTPRequestHandler):
    """static/ as the product serves it, plus the harness page; any body sent is kept."""

    def do_GET(self) -> None:
        if self.path != "/pdq-test.html":
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(HARNESS)))
        self.end_headers()
        self.wfile.write(HARNESS)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest's output to the failures

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        cast(_Server, self.server).bodies.append(self.rfile.read(length))
        self.send_error(405)

    do_PUT = do_PATCH = do_POST


class _Server(ThreadingHTTPServer):
    """Keeps every request body it is sent: Playwright reports a File or Blob body as
    empty, so a page posting the chosen file would slip past its request events."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), partial(_Handler, directory=str(STATIC)))
        self.bodies: list[bytes] = []


@dataclass
class Harness:
    url: str
    browser: Any
    bodies: list[bytes]  # as the server received them
    requests: list[tuple[str, bytes]] = field(default_factory=list)

    def page(self) -> Any:
        """A fresh page with pdq.js loaded; every request its context makes is recorded
        (URL and body), workers' included."""
        context = self.browser.new_context()
        context.on("request", lambda r: self.requests.append((r.url, r.post_data_buffer or b"")))
        page = context.new_page()
        page.goto(f"{self.url}/pdq-test.html")
        page.wait_for_function("() => window.pdq !== undefined")
        return page


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    from playwright.sync_api import sync_playwright

    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            yield Harness(f"http://127.0.0.1:{server.server_address[1]}", browser, server.bodies)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Conformance:
    results: dict[str, dict[str, Any]]  # file name -> {"hash", "quality"} from pdq.js
    requests_while_hashing: list[tuple[str, bytes]]
    bodies: list[tuple[str, bytes]]  # every request's, from the browser's and server's side


def expected() -> dict[str, str]:
    with (PDQ_DIR / "expected.csv").open() as handle:
        return {row["file"]: row["pdq_hex"] for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def conformance(harness: Harness) -> Conformance:
    """Every reference image chosen in the file input and hashed by pdqFromFile, on one
    page, noting which requests happened from the first choice on."""
    if not PDQ_DIR.exists():
        pytest.skip(NO_REFERENCE)
    page = harness.page()
    loaded = len(harness.requests)
    results = {}
    for name in expected():
        page.set_input_files("#file", str(PDQ_DIR / name))
        results[name] = page.evaluate(HASH_CHOSEN)
    hashing = harness.requests[loaded:]
    page.context.close()
    bodies = harness.requests + [("(server)", body) for body in harness.bodies]
    return Conformance(results, hashing, bodies)


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def pdqhash_hex(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def rgb_of(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_every_good_image_is_within_16_bits_of_the_reference(
        conformance: Conformance) -> None:
    far = {}
    for name, reference in expected().items():
        ours = conformance.results[name]
        if max(ours["quality"], pdqhash_hex(rgb_of(PDQ_DIR / name))[1]) < 80:
            continue
        if distance(ours["hash"], reference) > CONFORMANCE_DISTANCE:
            far[name] = (ours["hash"], reference, distance(ours["hash"], reference))
    assert not far, far


@pytest.mark.parametrize("name", EDITS)
def test_every_edited_variant_matches_the_original(conformance: Conformance,
                                                  name: str) -> None:
    ours = conformance.results[name]["hash"]
    assert distance(ours, expected()[ORIGINAL]) <= MATCH_DISTANCE


def test_a_flat_image_scores_low(conformance: Conformance) -> None:
    assert conformance.results["small.jpg"]["quality"] < MIN_QUALITY


def test_the_file_never_leaves_the_page(conformance: Conformance) -> None:
    """Hashing fetched nothing (the module was loaded before the first file was chosen),
    and no request at all carried an image's bytes."""
    assert conformance.requests_while_hashing == []
    heads = [(PDQ_DIR / name).read_bytes()[:64] for name in expected()]
    for url, body in conformance.bodies:
        assert not any(head in body for head in heads), url


def _synthetic(seed: int, size: tuple[int, int], amplitude: float, blur: float) -> np.ndarray:
    """Blurred noise: pictures whose quality falls between 0 and 100 (the reference set's
    are all 0 or 100), so the quality formula itself is compared."""
    rng = np.random.default_rng(seed)
    noise = (128 + amplitude * rng.standard_normal((size[1], size[0], 3))).clip(0, 255)
    image = Image.fromarray(noise.astype(np.uint8))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(blur)) if blur else image)


def _prescaled(rgb: np.ndarray) -> np.ndarray:
    """What the reference tool hashes: above 512 px on a side, a 512x512 nearest-
    neighbour resize (pixel floor(i * size / 512)); pdqhash alone does not do this."""
    height, width = rgb.shape[:2]
    if max(height, width) <= 512:
        return rgb
    rows, cols = np.arange(512) * height // 512, np.arange(512) * width // 512
    return np.asarray(rgb[rows][:, cols])


def test_pdq_from_rgba_is_pdqhash_on_the_same_pixels(harness: Harness) -> None:
    """The algorithm alone, free of any decoder difference. Identical when measured;
    2 bits and 1 point of slack, since pdqhash's float32 against float64 here could flip
    a coefficient sitting on the median or move a truncation in the quality."""
    cases = [_synthetic(1, (300, 200), 4, 0), _synthetic(2, (640, 480), 30, 4),
             _synthetic(3, (90, 70), 2, 0), _synthetic(4, (45, 600), 80, 3)]
    if PDQ_DIR.exists():
        cases.append(rgb_of(PDQ_DIR / ORIGINAL))
    page = harness.page()
    for rgb in cases:
        height, width = rgb.shape[:2]
        rgba = np.dstack([rgb, np.full((height, width), 255, np.uint8)])
        ours = page.evaluate(HASH_RGBA, [base64.b64encode(rgba.tobytes()).decode(),
                                         width, height])
        reference, quality = pdqhash_hex(_prescaled(rgb))
        assert distance(ours["hash"], reference) <= 2, (width, height)
        assert abs(ours["quality"] - quality) <= 1, (width, height)
    page.context.close()


@pytest.mark.skipif(not PDQ_DIR.exists(), reason=NO_REFERENCE)
def test_exif_orientation_is_applied(harness: Harness, tmp_path: Path) -> None:
    """A phone's portrait photo: pixels stored sideways, with an EXIF tag saying to turn
    them a quarter clockwise. Hashed upright, as everyone else sees it."""
    with Image.open(PDQ_DIR / ORIGINAL) as image:
        sideways = image.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "sideways.jpg"
    sideways.save(path, quality=95, exif=exif.tobytes())
    page = harness.page()
    page.set_input_files("#file", str(path))
    ours = page.evaluate(HASH_CHOSEN)["hash"]
    page.context.close()
    assert distance(ours, expected()[ORIGINAL]) <= CONFORMANCE_DISTANCE


def test_md5_is_hashlib_md5(harness: Harness, tmp_path: Path) -> None:
    """Several 4 MiB chunks and a partial block at the end, so reading in slices and
    padding are both exercised; progress is told after each chunk and at the end."""
    page = harness.page()
    for size in (0, 55, 9 * 1024 * 1024 + 13):
        data = os.urandom(size)
        path = tmp_path / f"video-{size}.bin"
        path.write_bytes(data)
        page.set_input_files("#file", str(path))
        md5, progress = page.evaluate(MD5_CHOSEN)
        assert md5 == hashlib.md5(data).hexdigest(), size
        assert progress == [*range(CHUNK, size + 1, CHUNK), size]
    page.context.close()

