"""PDQ and vPDQ against the reference sets in ../shared/reference (see its README)."""

import csv
import itertools

import numpy as np
import pdqhash
import pytest
from PIL import Image

from takedown.media import pdq
from takedown.media.decode import DecodeLimits, image_luma
from takedown.media.signals import SIGNAL_TYPES, compute_signals, parse_vpdq, video_match
from takedown.media.storage import sniff_mime
from tests.helpers import REFERENCE

PDQ_DIR, VIDEO_DIR = REFERENCE / "pdq", REFERENCE / "video"
pytestmark = pytest.mark.skipif(not PDQ_DIR.exists(),
                                reason=f"reference data not found at {REFERENCE}")
EDITS = ["blur-a-little.jpg", "blur-a-lot.jpg", "high-contrast.jpg", "high-saturation.jpg",
         "sharpen-a-little.jpg", "sharpen-a-lot.jpg", "shrink-a-little.jpg",
         "shrink-a-lot.jpg", "square-128x128.jpg", "square-256x256.jpg",
         "square-512x512.jpg"]


def expected() -> dict[str, str]:
    with (PDQ_DIR / "expected.csv").open() as handle:
        return {row["file"]: row["pdq_hex"] for row in csv.DictReader(handle)}


def ours(name: str) -> tuple[str, int]:
    data = (PDQ_DIR / name).read_bytes()
    signal = next(s for s in compute_signals(data, sniff_mime(data)) if s.signal_type == "pdq")
    assert signal.quality is not None
    return signal.value, signal.quality


@pytest.mark.parametrize("name", sorted(expected()) if PDQ_DIR.exists() else [])
def test_pdq_is_within_16_bits_of_the_reference(name: str) -> None:
    value, quality = ours(name)
    if quality >= 80:
        assert pdq.distance(value, expected()[name]) <= 16
    else:
        assert name == "small.jpg" and quality < pdq.MIN_QUALITY  # flat: never matched on


@pytest.mark.parametrize("name", EDITS)
def test_every_edited_variant_matches_the_original(name: str) -> None:
    assert pdq.distance(ours(name)[0], ours("aaa-orig.jpg")[0]) <= pdq.MATCH_DISTANCE


def _full_resolution(data: bytes) -> str:
    luma = image_luma(data, DecodeLimits(), reduce=False)
    bits, _ = pdqhash.compute(np.repeat(luma[:, :, None], 3, axis=2))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def test_the_fast_path_stays_close_to_full_resolution_pdqhash() -> None:
    from tests.helpers import photo_jpeg

    samples = [(PDQ_DIR / n).read_bytes() for n in sorted(expected())]
    samples += [photo_jpeg(seed) for seed in range(20)]
    distances = [pdq.distance(pdq.pdq(image_luma(d, DecodeLimits()))[0], _full_resolution(d))
                 for d in samples]
    assert np.mean(distances) <= 10, distances


def test_dihedral_hashes_catch_a_mirror_image() -> None:
    image = Image.open(PDQ_DIR / "aaa-orig.jpg")
    mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    import io

    out = io.BytesIO()
    mirrored.save(out, "JPEG", quality=90)
    mirror_hash = ours_bytes(out.getvalue())
    original = ours("aaa-orig.jpg")[0]
    assert pdq.distance(mirror_hash, original) > pdq.MATCH_DISTANCE
    variants, _ = pdq.pdq_dihedral(image_luma((PDQ_DIR / "aaa-orig.jpg").read_bytes(),
                                              DecodeLimits()))
    assert min(pdq.distance(mirror_hash, v) for v in variants) <= pdq.MATCH_DISTANCE


def ours_bytes(data: bytes) -> str:
    return pdq.pdq(image_luma(data, DecodeLimits()))[0]


def video(name: str) -> list[tuple[int, int, str, float]]:
    data = (VIDEO_DIR / name).read_bytes()
    signal = next(s for s in compute_signals(data, sniff_mime(data)) if s.signal_type == "vpdq")
    return parse_vpdq(signal.value)


def reference_frames(name: str) -> dict[int, tuple[int, str]]:
    text = (VIDEO_DIR / name.replace(".mp4", ".vpdq.txt")).read_text()
    return {n: (q, h) for n, q, h, _ in parse_vpdq(text)}


VIDEOS = ["chair-orig-22-sd-bar.mp4", "chair-22-sd-grey-bar.mp4", "pattern-sd-grey-bar.mp4",
          "doorknob-hd-no-bar.mp4"]


@pytest.mark.parametrize("name", VIDEOS)
def test_vpdq_samples_one_frame_per_second_close_to_the_reference(name: str) -> None:
    frames = video(name)
    reference = reference_frames(name)
    times = [t for _, _, _, t in frames]
    assert times[0] == 0.0 and all(0.9 <= b - a <= 1.1 for a, b in itertools.pairwise(times))
    for number, quality, value, _ in frames:
        if quality >= 80:
            assert pdq.distance(value, reference[number][1]) <= 16, number


def test_chair_videos_match_each_other_and_nothing_else() -> None:
    hashed = {name: video(name) for name in VIDEOS}
    chair, grey = "chair-orig-22-sd-bar.mp4", "chair-22-sd-grey-bar.mp4"
    assert video_match(hashed[chair], hashed[grey]) and video_match(hashed[grey], hashed[chair])
    for a in VIDEOS:
        for b in VIDEOS:
            if a != b and {a, b} != {chair, grey}:
                assert not video_match(hashed[a], hashed[b]), (a, b)


def test_the_reference_outputs_obey_the_same_rule() -> None:
    frames = {n: [(k, q, h, 0.0) for k, (q, h) in reference_frames(n).items()] for n in VIDEOS}
    assert video_match(frames["chair-orig-22-sd-bar.mp4"], frames["chair-22-sd-grey-bar.mp4"])
    assert not video_match(frames["chair-orig-22-sd-bar.mp4"],
                           frames["pattern-sd-grey-bar.mp4"])


def test_every_signal_type_is_registered_once() -> None:
    assert sorted(SIGNAL_TYPES) == ["md5", "pdq", "sha256", "vpdq"]
