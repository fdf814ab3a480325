"""Signal types own their matching: borders trimmed, references of a reported file,
and the rule each type applies to an upload."""

from __future__ import annotations

import numpy as np
import pdqhash
import pytest

from takedown.demo.edits import border, clip, generated_video, jpeg, opened
from takedown.demo.media import generated_photo, harmless_photo
from takedown.media import pdq
from takedown.media.decode import DecodeLimits, image_luma
from takedown.media.signals import (
    PERCEPTUAL,
    compute_signals,
    parse_vpdq,
    perceptual,
    reference_signals,
)

PHOTO = generated_photo(4)
IMAGE, VIDEO = PERCEPTUAL["pdq"], PERCEPTUAL["vpdq"]


@pytest.mark.parametrize("where", ["letterbox", "pillarbox", "frame"])
@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (40, 140, 60)])
def test_borders_of_any_colour_are_trimmed_back_to_the_picture(
        where: str, colour: tuple[int, int, int]) -> None:
    boxed = image_luma(jpeg(border(0.15, where, colour)(opened(PHOTO)), 60), DecodeLimits())
    inside = pdq.trim_borders(boxed)
    assert inside is not None
    original = pdq.pdq(image_luma(PHOTO, DecodeLimits()))[0]
    assert pdq.distance(pdq.pdq(inside)[0], original) <= 20
    assert pdq.distance(pdq.pdq(boxed)[0], original) > 31  # what trimming is for


def test_a_picture_without_borders_is_left_as_it_is() -> None:
    # (A flat band along an edge, like a cloudless sky, does count as a border: the
    # trimmed picture is then hashed as well, which costs a signal, not a match.)
    for photo in (PHOTO, generated_photo(5), harmless_photo(1), harmless_photo(2)):
        assert pdq.trim_borders(image_luma(photo, DecodeLimits())) is None


def test_an_upload_with_borders_carries_the_trimmed_hash_too() -> None:
    boxed = jpeg(border(0.1, "letterbox")(opened(PHOTO)))
    notes = [s.note for s in compute_signals(boxed, "image/jpeg") if s.signal_type == "pdq"]
    assert notes == [None, "borders trimmed"]
    assert [s.note for s in compute_signals(PHOTO, "image/jpeg")
            if s.signal_type == "pdq"] == [None]


def test_an_image_reference_is_the_image_after_each_edit_re_uploaders_make() -> None:
    references = [s for s in reference_signals(PHOTO, "image/jpeg") if s.signal_type == "pdq"]
    notes = {s.note or "" for s in references}
    assert any("rotated +5 degrees" in n for n in notes)
    assert any("cropped 10% from the left" in n for n in notes)
    assert any("every side" in n for n in notes)
    assert len({s.value for s in references}) == len(references)  # no duplicates
    assert all(s.quality is None or s.quality >= IMAGE.min_quality for s in references)


def test_a_video_reference_has_every_frame_and_a_clip_finds_each_of_its_frames() -> None:
    video = generated_video(11, seconds=6)
    sampled = parse_vpdq(next(s.value for s in compute_signals(video, "video/mp4")
                              if s.signal_type == "vpdq"))
    reference = parse_vpdq(next(s.value for s in reference_signals(video, "video/mp4")
                                if s.signal_type == "vpdq"))
    assert len(sampled) == 6 and len(reference) > 100  # 24 frames a second, kept once
    cut = parse_vpdq(next(s.value for s in compute_signals(clip(video, 1.4, 3), "video/mp4")
                          if s.signal_type == "vpdq"))
    every = [h for _, _, h, _ in reference]
    nearest = [min(pdq.distance(h, r) for r in every) for _, _, h, _ in cut]
    assert max(nearest) <= 16
    one_per_second = [h for _, _, h, _ in sampled]
    assert max(min(pdq.distance(h, r) for r in one_per_second) for _, _, h, _ in cut) > 31


def test_the_upload_side_judges_a_match() -> None:
    assert IMAGE.accepts(1, 1, IMAGE) and IMAGE.accepts(1, 1, VIDEO)  # a frame as a picture
    assert not IMAGE.accepts(0, 1, VIDEO)
    assert VIDEO.accepts(8, 10, VIDEO) and not VIDEO.accepts(7, 10, VIDEO)  # upstream's 80%
    assert VIDEO.accepts(2, 30, IMAGE) and not VIDEO.accepts(1, 30, IMAGE)  # a slideshow
    assert VIDEO.accepts(1, 1, IMAGE)  # a one-second video of the picture
    assert not VIDEO.accepts(0, 0, VIDEO)


def test_perceptual_types_gate_on_quality_and_exact_ones_are_not_perceptual() -> None:
    flat = np.full((64, 64), 128, np.uint8)
    value, quality = pdq.pdq(flat)
    assert quality < IMAGE.min_quality and IMAGE.hashes(value, quality) == []
    assert IMAGE.hashes(value, None) == [value]  # imported hashes carry no quality
    assert perceptual("sha256") is None and perceptual("md5") is None


def test_a_picture_too_poor_in_detail_has_no_perceptual_references() -> None:
    flat = jpeg(opened(generated_photo(1)).resize((8, 6)).resize((640, 480)), 90)
    assert pdq.pdq(image_luma(flat, DecodeLimits()))[1] < IMAGE.min_quality
    kinds = {s.signal_type for s in reference_signals(flat, "image/jpeg")}
    assert kinds == {"sha256", "md5"}  # rotating it would lend it corners' detail


def test_the_rotations_and_mirrors_are_pdqhashs_bit_for_bit() -> None:
    for seed in range(6):
        luma = image_luma(generated_photo(seed, (500 + 40 * seed, 380)), DecodeLimits())
        hashes, quality = pdqhash.compute_dihedral(np.repeat(luma[:, :, None], 3, axis=2))
        expected = [np.packbits(np.asarray(h, np.uint8)).tobytes().hex() for h in hashes]
        assert pdq.pdq_dihedral(luma) == (expected, quality)
        assert pdq.pdq(luma) == (expected[0], quality)


@pytest.mark.parametrize("where", ["letterbox", "pillarbox", "frame"])
def test_looking_for_borders_stops_early_only_where_there_are_none(where: str) -> None:
    # A line that is not flat ends the search on its side at once; a flat band along
    # one edge still counts, however uneven the rest.
    photo = image_luma(PHOTO, DecodeLimits())
    noisy = photo.copy()
    noisy[:, :3] = 0  # three black columns: under 1.5% of 384, not a border
    assert pdq.trim_borders(noisy) is None
    boxed = image_luma(jpeg(border(0.05, where, (250, 250, 250))(opened(PHOTO)), 90),
                       DecodeLimits())
    inside = pdq.trim_borders(boxed)
    assert inside is not None and inside.shape < boxed.shape
