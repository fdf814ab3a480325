"""Matching robustness: how often an edited copy of a banked picture or video is still
matched, and how often a harmless picture is mistaken for a banked one — before and
after, side by side in one run.

    .venv/bin/python -m bench.matching_bench [--sources 40] [--harmless 10000]
        [--banked 200] [--videos 6] [--workers 2] [--json]

"after" is the current code: a banked file is represented by
`reference_signals(data, mime)`, an upload by `compute_signals(data, mime)`, and the
signal types' own rule decides (`PerceptualType.query`, `hashes`, `accepts`; what
`takedown.banks.matching.Matcher` does against a database, here in numpy).

"before" is the approach in place until 2026-11-25, reproduced here as the baseline:
an uploaded image is its PDQ with 7 rotations/mirrors as stand-ins (no trimmed
borders); a banked image is its 8 rotation/mirror hashes plus the PDQ of centred crops
cutting 1.5%, 3% and 4.5% from every side; a video on both sides is its 1 frame/s
vPDQ; an image never matched a video, nor a video an image.

Sources: harmless generated pictures (`generated_photo`, `harmless_photo`) and the
photos scikit-image ships on disk (read from its data folder; nothing is downloaded).
Each edit of `takedown.demo.edits.EDITS` is applied to every source; a copy
counts as matched when it matches its own source. False matches: `--banked` banked
`harmless_photo` pictures (seeds 1,000,000+i) against `--harmless` others (seeds
0..N-1) plus the scikit-image photos not used as sources and their quarters.

Without --json, markdown tables; with --json, one JSON object per row (one line
each), every row with a `section` key: source, edit, kind, video, false_match,
nearest, hashes, run.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from bench.common import machine, table
from takedown.demo.edits import (
    EDITS,
    clip,
    frame_at,
    generated_video,
    slideshow,
)
from takedown.demo.media import generated_photo, harmless_photo
from takedown.media import pdq
from takedown.media.decode import DecodeLimits, image_luma
from takedown.media.signals import (
    PERCEPTUAL,
    Signal,
    compute_signals,
    reference_signals,
)

JPEG = "image/jpeg"
MP4 = "video/mp4"
LIMITS = DecodeLimits()
BEFORE_CROPS = (0.015, 0.03, 0.045)  # what `pdq_augmented` cut from every side
BANKED_SEED = 1_000_000  # banked pictures for the false-match part
SOURCE_SEED = 500_000  # harmless_photo sources (generated_photo sources use 0..)
OTHER_SEED = 2_000_000  # the other pictures of a slideshow
VIDEO_SEED = 10  # banked videos; unrelated ones from VIDEO_SEED + 1000

# scikit-image's photos: those used as sources (banked and edited), and those that
# only ever appear as harmless uploads. Tiny or non-photo files are left out.
SKIMAGE_SOURCES = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "camera.png",
                   "horse.png", "hubble_deep_field.jpg", "ihc.png")
SKIMAGE_HARMLESS = ("brick.png", "cell.png", "chessboard_RGB.png", "clock_motion.png",
                    "coins.png", "color.png", "grass.png", "gravel.png", "logo.png",
                    "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png",
                    "phantom.png", "retina.jpg", "text.png")
TILE_MIN = 256  # photos at least this big on both sides are also cut into quarters

Uploads = list[Signal]  # one file's signals, as an upload or as a bank entry
Pair = tuple[Uploads, Uploads]  # (after, before)
Row = dict[str, object]
T = TypeVar("T")
R = TypeVar("R")


# --- before: the approach in place until today ---------------------------------------

def is_exact(signal: Signal) -> bool:
    return signal.signal_type not in PERCEPTUAL


def exact_signals(data: bytes) -> list[Signal]:
    return [s for s in compute_signals(data, None) if is_exact(s)]


def before_image_upload(data: bytes) -> Uploads:
    """The PDQ of the image with its 7 rotations/mirrors as stand-ins; no trimmed one."""
    hashes, quality = pdq.pdq_dihedral(image_luma(data, LIMITS))
    return [*exact_signals(data), Signal("pdq", hashes[0], quality, tuple(hashes[1:]))]


def before_image_bank(data: bytes) -> Uploads:
    """The 8 rotation/mirror hashes plus centred crops (what `pdq_augmented` did),
    gated on the image's own quality as the stored signal was."""
    luma = image_luma(data, LIMITS)
    hashes, quality = pdq.pdq_dihedral(luma)
    height, width = luma.shape
    for fraction in BEFORE_CROPS:
        dy, dx = round(height * fraction), round(width * fraction)
        if height - 2 * dy > 8 and width - 2 * dx > 8:
            hashes.append(pdq.pdq(np.ascontiguousarray(luma[dy:height - dy, dx:width - dx]))[0])
    return [*exact_signals(data), *(Signal("pdq", h, quality) for h in dict.fromkeys(hashes))]


def before_video(data: bytes) -> Uploads:
    """Upload and bank alike: the first 1 frame/s vPDQ of `compute_signals`."""
    signals = compute_signals(data, MP4)
    video = [s for s in signals if s.signal_type == "vpdq"][:1]
    return [s for s in signals if is_exact(s)] + video


def upload_pair(data: bytes, mime: str) -> Pair:
    before = before_video(data) if mime == MP4 else before_image_upload(data)
    return compute_signals(data, mime), before


def bank_pair(data: bytes, mime: str) -> Pair:
    before = before_video(data) if mime == MP4 else before_image_bank(data)
    return reference_signals(data, mime), before


# --- matching: the signal types' rule over packed hashes ------------------------------

def pack(hashes: Sequence[str]) -> npt.NDArray[np.uint64]:
    """64-hex-digit hashes as rows of four 64-bit words."""
    raw = bytes.fromhex("".join(hashes))
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4).copy()


def distances(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint16]:
    """Hamming distance of every row of `a` to every row of `b`."""
    out = np.zeros((len(a), len(b)), np.uint16)
    for word in range(4):
        out += np.bitwise_count(a[:, word, None] ^ b[None, :, word])
    return out


@dataclass(frozen=True)
class Found:
    items: frozenset[int]  # the bank items the upload matches
    nearest: int | None  # nearest perceptual distance (None: no usable hash)


@dataclass
class Bank:
    """Bank entries (one file's reference signals each) searched the way `Matcher`
    does: an upload signal U matches a reference signal R when
    `ut.accepts(matched, len(ut.query(U)), rt)`, `matched` counting the positions of
    `ut.query(U)` with a stand-in within `ut.match_distance` of a hash of R.
    `cross_media=False` is the "before" rule: images and videos never match."""

    cross_media: bool = True
    labels: list[str] = field(default_factory=list)
    hashes_per_item: list[int] = field(default_factory=list)
    _exact: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    _hashes: list[str] = field(default_factory=list)
    _owner: list[int] = field(default_factory=list)  # reference signal per hash
    _signal_item: list[int] = field(default_factory=list)
    _signal_type: list[str] = field(default_factory=list)

    def add(self, label: str, references: Iterable[Signal]) -> int:
        item = len(self.labels)
        self.labels.append(label)
        count = 0
        for signal in references:
            kind = PERCEPTUAL.get(signal.signal_type)
            if kind is None:
                self._exact[(signal.signal_type, signal.value)].add(item)
                continue
            values = kind.hashes(signal.value, signal.quality)
            if not values:
                continue
            number = len(self._signal_item)
            self._signal_item.append(item)
            self._signal_type.append(signal.signal_type)
            self._hashes.extend(values)
            self._owner.extend([number] * len(values))
            count += len(values)
        self.hashes_per_item.append(count)
        return item

    def search(self, uploads: Sequence[Uploads], cells: int = 4_000_000) -> list[Found]:
        """What each upload matches, and its nearest distance, in one pass."""
        found: list[set[int]] = [set() for _ in uploads]
        # one query row per stand-in: (upload, (upload, signal) key, position)
        keys: list[tuple[int, str]] = []  # (upload, signal type) per key
        usable: list[int] = []
        rows: list[str] = []
        row_key: list[int] = []
        row_pos: list[int] = []
        for u, signals in enumerate(uploads):
            for signal in signals:
                kind = PERCEPTUAL.get(signal.signal_type)
                if kind is None:
                    found[u] |= self._exact.get((signal.signal_type, signal.value), set())
                    continue
                query = kind.query(signal)
                if not query:
                    continue
                key = len(keys)
                keys.append((u, signal.signal_type))
                usable.append(len(query))
                for position, stand_ins in enumerate(query):
                    rows.extend(stand_ins)
                    row_key.extend([key] * len(stand_ins))
                    row_pos.extend([position] * len(stand_ins))
        nearest = np.full(len(uploads), 1 << 10, np.int64)
        if not rows or not self._hashes:
            return [Found(frozenset(f), None) for f in found]
        bank = pack(self._hashes)
        owner = np.asarray(self._owner, np.int64)
        col_sequence = np.asarray([PERCEPTUAL[t].sequence for t in self._signal_type])[owner]
        keys_upload = np.asarray([u for u, _ in keys], np.int64)
        keys_sequence = np.asarray([PERCEPTUAL[t].sequence for _, t in keys])
        keys_radius = np.asarray([PERCEPTUAL[t].match_distance for _, t in keys], np.int64)
        query_words = pack(rows)
        row_key_a = np.asarray(row_key, np.int64)
        row_pos_a = np.asarray(row_pos, np.int64)
        step = max(1, cells // len(bank))
        hits: list[npt.NDArray[np.int64]] = []
        for start in range(0, len(rows), step):
            stop = min(len(rows), start + step)
            d = distances(query_words[start:stop], bank).astype(np.int64)
            chunk_keys = row_key_a[start:stop]
            if not self.cross_media:
                other_media = keys_sequence[chunk_keys][:, None] != col_sequence[None, :]
                d[other_media] = 1 << 10
            np.minimum.at(nearest, keys_upload[chunk_keys], d.min(axis=1))
            r, c = np.nonzero(d <= keys_radius[chunk_keys][:, None])
            if len(r):
                hits.append(np.stack([chunk_keys[r], owner[c], row_pos_a[start + r]], 1))
        if hits:
            # matched positions per (upload signal, reference signal), then the rule
            triples = np.unique(np.concatenate(hits), axis=0)
            pairs, counts = np.unique(triples[:, :2], axis=0, return_counts=True)
            for (key, number), matched in zip(pairs.tolist(), counts.tolist(), strict=True):
                u, upload_type = keys[key]
                other = PERCEPTUAL[self._signal_type[number]]
                if PERCEPTUAL[upload_type].accepts(matched, usable[key], other):
                    found[u].add(self._signal_item[number])
        has_query = np.zeros(len(uploads), bool)
        has_query[keys_upload] = True
        return [Found(frozenset(f), int(nearest[u]) if has_query[u] and nearest[u] < 1 << 10
                      else None) for u, f in enumerate(found)]


# --- sources -------------------------------------------------------------------------

def skimage_folder() -> Path | None:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def skimage_photos(names: Sequence[str]) -> tuple[dict[str, bytes], dict[str, str]]:
    """The named photos that are on disk, as RGB JPEGs, and why any others are not."""
    folder = skimage_folder()
    photos: dict[str, bytes] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            if folder is None:
                raise FileNotFoundError("scikit-image is not installed")
            with Image.open(folder / name) as opened:
                photos[name.rsplit(".", 1)[0]] = as_jpeg(opened.convert("RGB"))
        except (OSError, ValueError) as exc:
            missing[name] = str(exc)
    return photos, missing


def as_jpeg(picture: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()


def quarters(name: str, data: bytes) -> dict[str, bytes]:
    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
    width, height = picture.size
    if min(width, height) < TILE_MIN:
        return {}
    w, h = width // 2, height // 2
    return {f"{name} quarter {n + 1}": as_jpeg(picture.crop((x, y, x + w, y + h)))
            for n, (x, y) in enumerate(((0, 0), (w, 0), (0, h), (w, h)))}


def source_list(count: int, with_skimage: bool) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    generated = [(f"generated_photo({s})", generated_photo(s)) for s in range((count + 1) // 2)]
    harmless = [(f"harmless_photo({SOURCE_SEED + s})", harmless_photo(SOURCE_SEED + s))
                for s in range(count // 2)]
    photos, missing = skimage_photos(SKIMAGE_SOURCES) if with_skimage else ({}, {})
    return [*generated, *harmless, *((f"skimage {n}", d) for n, d in photos.items())], missing


# --- work done in worker processes ------------------------------------------------------

EDIT_BY_NAME = {e.name: e for e in EDITS}
assert len(EDIT_BY_NAME) == len(EDITS), "edit names must be unique"


@dataclass(frozen=True)
class SourceResult:
    bank: Pair
    quality: int  # PDQ quality of the source as it is
    copies: list[Pair]  # one per edit, in order


def source_task(job: tuple[bytes, tuple[str, ...]]) -> SourceResult:
    data, edit_names = job
    copies = [upload_pair(EDIT_BY_NAME[name].apply(data), JPEG) for name in edit_names]
    quality = pdq.pdq(image_luma(data, LIMITS))[1]
    return SourceResult(bank_pair(data, JPEG), quality, copies)


def harmless_task(seed: int) -> Pair:
    return upload_pair(harmless_photo(seed), JPEG)


def banked_task(seed: int) -> Pair:
    return bank_pair(harmless_photo(BANKED_SEED + seed), JPEG)


def image_upload_task(data: bytes) -> Pair:
    return upload_pair(data, JPEG)


CLIPS = ((1.37, 4.0), (3.5, 4.0))  # (offset, seconds): never a whole second
FRAMES = (2.5, 6.2)  # seconds into the video of a frame posted as an image
VIDEO_CASES = (*(f"clip of {s:g} s from {o:g} s" for o, s in CLIPS),
               *(f"frame at {t:g} s posted as an image" for t in FRAMES),
               "slideshow [other, banked image, other]")


@dataclass(frozen=True)
class VideoResult:
    bank: Pair
    cases: dict[str, Pair]
    unrelated: Pair


def video_task(job: tuple[int, bytes, bytes, bytes]) -> VideoResult:
    seed, banked_image, other_a, other_b = job
    video = generated_video(VIDEO_SEED + seed)
    cases: dict[str, Pair] = {}
    for (offset, seconds), name in zip(CLIPS, VIDEO_CASES, strict=False):
        cases[name] = upload_pair(clip(video, offset, seconds), MP4)
    for at, name in zip(FRAMES, VIDEO_CASES[len(CLIPS):], strict=False):
        cases[name] = upload_pair(frame_at(video, at), JPEG)
    cases[VIDEO_CASES[-1]] = upload_pair(slideshow([other_a, banked_image, other_b]), MP4)
    unrelated = upload_pair(generated_video(VIDEO_SEED + 1000 + seed), MP4)
    return VideoResult(bank_pair(video, MP4), cases, unrelated)


class Workers:
    """A process pool where there is more than one worker, plain calls otherwise."""

    def __init__(self, count: int) -> None:
        self.pool = multiprocessing.Pool(count) if count > 1 else None

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], what: str,
            progress: Callable[[str], None], every: int = 0) -> Iterator[R]:
        started = time.perf_counter()
        results: Iterable[R] = (self.pool.imap(fn, jobs, chunksize=max(1, min(16, every // 8)))
                                if self.pool else map(fn, jobs))
        for n, result in enumerate(results, 1):
            if every and (n % every == 0 or n == len(jobs)):
                progress(f"{what}: {n:,}/{len(jobs):,} "
                         f"({time.perf_counter() - started:.0f} s)")
            yield result

    def close(self) -> None:
        if self.pool:
            self.pool.close()
            self.pool.join()


# --- the run ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    sources: int = 40
    harmless: int = 10_000
    banked: int = 200
    videos: int = 6
    edits: tuple[str, ...] = tuple(e.name for e in EDITS)
    skimage: bool = True
    workers: int = 2


def share(matched: int, total: int) -> float:
    return matched / total if total else 0.0


def percentiles(values: Sequence[int]) -> dict[str, int | None]:
    marks = {"p0.1": 0.1, "p1": 1.0, "p5": 5.0, "p50": 50.0}
    if not values:
        return dict.fromkeys(["min", *marks])
    array = np.asarray(values)
    found: dict[str, int | None] = {"min": int(array.min())}
    for label, q in marks.items():
        found[label] = int(np.percentile(array, q, method="inverted_cdf"))
    return found


def run(settings: Settings, progress: Callable[[str], None]) -> list[Row]:
    started = time.perf_counter()
    rows: list[Row] = []
    workers = Workers(settings.workers)
    try:
        rows += edit_rows(settings, workers, progress)
        rows += false_match_rows(settings, workers, progress)
    finally:
        workers.close()
    rows.append({"section": "run", "seconds": round(time.perf_counter() - started, 1),
                 "machine": machine(), "date": date.today().isoformat(),
                 "settings": {"sources": settings.sources, "harmless": settings.harmless,
                              "banked": settings.banked, "videos": settings.videos,
                              "edits": len(settings.edits), "skimage": settings.skimage,
                              "workers": settings.workers}})
    return rows


def edit_rows(settings: Settings, workers: Workers,
              progress: Callable[[str], None]) -> list[Row]:
    """Each edit applied to every source, then the video cases; one bank of all."""
    sources, missing = source_list(settings.sources, settings.skimage)
    rows: list[Row] = []
    rows += [{"section": "source", "name": name, "used": False, "why": why}
             for name, why in missing.items()]
    edits = [EDIT_BY_NAME[name] for name in settings.edits]
    results = list(workers.map(source_task, [(d, settings.edits) for _, d in sources],
                               "sources x edits", progress, every=1))
    after, before = Bank(), Bank(cross_media=False)
    for (name, _), result in zip(sources, results, strict=True):
        after.add(name, result.bank[0])
        before.add(name, result.bank[1])
        rows.append({"section": "source", "name": name, "used": True,
                     "quality": result.quality})
    rows += [hashes_row("sources", label, bank) for label, bank in (("before", before),
                                                                      ("after", after))]
    videos: list[VideoResult] = []
    video_image: list[int] = []
    if settings.videos:
        jobs = []
        for n in range(settings.videos):
            image = n * len(sources) // settings.videos
            video_image.append(image)
            jobs.append((n, sources[image][1], harmless_photo(OTHER_SEED + 2 * n),
                         harmless_photo(OTHER_SEED + 2 * n + 1)))
        videos = list(workers.map(video_task, jobs, "videos", progress, every=1))
    video_item = [(after.add(f"video {n}", v.bank[0]), before.add(f"video {n}", v.bank[1]))
                  for n, v in enumerate(videos)]

    for e, edit in enumerate(edits):
        copies = [r.copies[e] for r in results]
        rows.append(match_row({"section": "edit", "kind": edit.kind, "edit": edit.name},
                              copies, list(range(len(sources))), after, before))
    rows += kind_rows([r for r in rows if r["section"] == "edit"])
    for case in VIDEO_CASES if videos else ():
        targets = [video_image[n] if case.startswith("slideshow") else video_item[n][0]
                   for n in range(len(videos))]
        rows.append(match_row({"section": "video", "case": case, "false_match": False},
                              [v.cases[case] for v in videos], targets, after, before))
    if videos:
        rows.append(match_row({"section": "video", "case": "unrelated video (must not match)",
                               "false_match": True},
                              [v.unrelated for v in videos], None, after, before))
    return rows


def match_row(row: Row, copies: Sequence[Pair], targets: Sequence[int] | None,
              after: Bank, before: Bank) -> Row:
    """Matched copies (their own target; any item where targets is None, a false match),
    copies matching some other item, and the targets of the copies "after" missed."""
    for label, bank, index in (("after", after, 0), ("before", before, 1)):
        found = bank.search([c[index] for c in copies])
        if targets is None:
            matched = sum(1 for f in found if f.items)
            other = matched
        else:
            matched = sum(1 for f, t in zip(found, targets, strict=True) if t in f.items)
            other = sum(1 for f, t in zip(found, targets, strict=True) if f.items - {t})
            if label == "after":
                row["after_missed"] = [after.labels[t] for f, t in
                                       zip(found, targets, strict=True) if t not in f.items]
        row[f"{label}_matched"] = matched
        row[f"{label}_other"] = other
        row[label] = round(share(matched, len(copies)), 4)
    row["copies"] = len(copies)
    return row


def kind_rows(edit_rows: list[Row]) -> list[Row]:
    by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in edit_rows:
        by_kind[str(row["kind"])].append(row)
    rows: list[Row] = []
    for kind, members in by_kind.items():
        found: Row = {"section": "kind", "kind": kind, "edits": len(members)}
        for label in ("before", "after"):
            shares = [float(str(r[label])) for r in members]
            found[f"{label}_min"] = min(shares)
            found[f"{label}_mean"] = round(sum(shares) / len(shares), 4)
            found[f"{label}_weakest"] = members[shares.index(min(shares))]["edit"]
        rows.append(found)
    return rows


def false_match_rows(settings: Settings, workers: Workers,
                     progress: Callable[[str], None]) -> list[Row]:
    """Harmless pictures against `settings.banked` banked ones."""
    after, before = Bank(), Bank(cross_media=False)
    banked = workers.map(banked_task, list(range(settings.banked)), "banked references",
                         progress, every=max(1, settings.banked // 4))
    for n, (a, b) in enumerate(banked):
        after.add(f"banked {n}", a)
        before.add(f"banked {n}", b)
    rows: list[Row] = []
    sets: list[tuple[str, list[Pair]]] = []
    every = max(1, settings.harmless // 10)
    sets.append((f"harmless_photo seeds 0..{settings.harmless - 1}",
                 list(workers.map(harmless_task, list(range(settings.harmless)),
                                  "harmless pictures", progress, every=every))))
    if settings.skimage:
        used = {Path(n).stem for n in SKIMAGE_SOURCES}
        photos, _ = skimage_photos([n for n in SKIMAGE_HARMLESS if Path(n).stem not in used])
        pictures = dict(photos)
        for name, data in photos.items():
            pictures.update(quarters(name, data))
        sets.append((f"scikit-image photos ({len(photos)}) and their quarters",
                     list(workers.map(image_upload_task, list(pictures.values()),
                                      "scikit-image pictures", progress))))
    everything: list[Pair] = [p for _, group in sets for p in group]
    if len(sets) > 1:
        sets.append(("all harmless pictures", everything))
    nearest: dict[str, list[int]] = {}
    unusable: dict[str, int] = {}
    matched: dict[str, list[bool]] = {}
    for label, bank, index in (("after", after, 0), ("before", before, 1)):
        progress(f"false matches, {label}: {len(everything):,} uploads against "
                 f"{sum(bank.hashes_per_item):,} hashes")
        found = bank.search([p[index] for p in everything])
        matched[label] = [bool(f.items) for f in found]
        nearest[label] = [f.nearest for f in found if f.nearest is not None]
        unusable[label] = sum(1 for f in found if f.nearest is None)
    start = 0
    for name, group in sets:
        span = slice(0, len(everything)) if group is everything else \
            slice(start, start + len(group))
        start += 0 if group is everything else len(group)
        row: Row = {"section": "false_match", "set": name, "uploads": len(group),
                    "banked": settings.banked}
        for label in ("before", "after"):
            row[f"{label}_matched"] = sum(matched[label][span])
            row[label] = share(sum(matched[label][span]), len(group))
        rows.append(row)
    for label in ("before", "after"):
        rows.append({"section": "nearest", "approach": label, "uploads": len(everything),
                     "no_usable_hash": unusable[label],
                     "within_31": sum(1 for d in nearest[label] if d <= pdq.MATCH_DISTANCE),
                     "within_40": sum(1 for d in nearest[label] if d <= 40),
                     **percentiles(nearest[label])})
    rows += [hashes_row(f"{settings.banked} banked harmless_photo", label, bank)
             for label, bank in (("before", before), ("after", after))]
    return rows


def hashes_row(pictures: str, approach: str, bank: Bank) -> Row:
    """Perceptual hashes per banked picture (quality >= 50, duplicates once)."""
    counts = np.asarray(bank.hashes_per_item or [0])
    return {"section": "hashes", "pictures": pictures, "approach": approach,
            "count": len(bank.hashes_per_item), "mean": round(float(counts.mean()), 1),
            "min": int(counts.min()), "max": int(counts.max()), "total": int(counts.sum())}


# --- output --------------------------------------------------------------------------------

def percent(value: object) -> str:
    return f"{float(str(value)):.0%}"


def fine_percent(matched: object, total: object) -> str:
    m, n = int(str(matched)), int(str(total))
    return f"{m:,}/{n:,} ({share(m, n):.2%})"


def render(rows: list[Row]) -> str:
    section: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        section[str(row["section"])].append(row)
    run_row = section["run"][0] if section["run"] else {}
    out = [f"# Matching robustness — {run_row.get('machine', machine())}", ""]
    used = [str(r["name"]) for r in section["source"] if r["used"]]
    skipped = [f"{r['name']} ({r['why']})" for r in section["source"] if not r["used"]]
    out.append(f"Sources ({len(used)}): " + ", ".join(used))
    if skipped:
        out.append("Not found, left out: " + "; ".join(skipped))
    poor = {str(r["name"]): r["quality"] for r in section["source"]
            if r["used"] and int(str(r.get("quality", 100))) < pdq.MIN_QUALITY}
    if poor:
        out += ["", f"{len(poor)} of {len(used)} sources have PDQ quality below "
                f"{pdq.MIN_QUALITY} as they are ("
                + ", ".join(f"{n}: {q}" for n, q in poor.items())
                + "): their own hash is never matched on, before or after, so they count "
                "as misses in every row unless an edit adds enough detail."]
    edits = section["edit"]
    if edits:
        out += ["", table(["kind", "edit", "copies", "before", "after"],
                          [[r["kind"], r["edit"], r["copies"], percent(r["before"]),
                            percent(r["after"])] for r in edits])]
        total = sum(int(str(r["copies"])) for r in edits)
        misses = [(r["edit"], [n for n in missed_list(r) if n not in poor]) for r in edits]
        out += ["", "Copies of usable sources (quality >= 50) missed after: " + (
            "; ".join(f"{e}: {', '.join(m)}" for e, m in misses if m) or "none") + "."]
        out += ["", "Copies matching a source other than their own: before "
                f"{sum(int(str(r['before_other'])) for r in edits)}, after "
                f"{sum(int(str(r['after_other'])) for r in edits)} (of {total:,})."]
        out += ["", table(["kind", "edits", "before min", "after min", "before mean",
                           "after mean", "weakest after"],
                          [[r["kind"], r["edits"], percent(r["before_min"]),
                            percent(r["after_min"]), percent(r["before_mean"]),
                            percent(r["after_mean"]), r["after_weakest"]]
                           for r in section["kind"]])]
    if section["video"]:
        out += ["", table(["video case", "copies", "before", "after"],
                          [[r["case"], r["copies"],
                            fine_percent(r["before_matched"], r["copies"]),
                            fine_percent(r["after_matched"], r["copies"])]
                           for r in section["video"]])]
    if section["false_match"]:
        banked = section["false_match"][0]["banked"]
        out += ["", f"False matches against {banked} banked pictures:", "",
                table(["harmless uploads", "uploads", "before: matched any banked",
                       "after: matched any banked"],
                      [[r["set"], f"{int(str(r['uploads'])):,}",
                        fine_percent(r["before_matched"], r["uploads"]),
                        fine_percent(r["after_matched"], r["uploads"])]
                       for r in section["false_match"]])]
        out += ["", "Nearest distance from each harmless upload to any banked hash:", "",
                table(["approach", "min", "0.1%", "1%", "5%", "50%", "within 31",
                       "within 40", "no usable hash"],
                      [[r["approach"], r["min"], r["p0.1"], r["p1"], r["p5"], r["p50"],
                        r["within_31"], r["within_40"], r["no_usable_hash"]]
                       for r in section["nearest"]])]
    if section["hashes"]:
        out += ["", table(["banked pictures", "approach", "perceptual hashes per picture "
                           "(mean)", "min", "max"],
                          [[r["pictures"], r["approach"], r["mean"], r["min"], r["max"]]
                           for r in section["hashes"]])]
    if run_row:
        out += ["", f"Run time {float(str(run_row['seconds'])):.0f} s "
                f"({run_row['date']}, {settings_line(run_row)})."]
    return "\n".join(out)


def missed_list(row: Row) -> list[str]:
    missed = row.get("after_missed", [])
    assert isinstance(missed, list)
    return [str(n) for n in missed]


def settings_line(run_row: Row) -> str:
    settings = run_row["settings"]
    assert isinstance(settings, dict)
    return ", ".join(f"{k} {v}" for k, v in settings.items())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--sources", type=int, default=40,
                        help="generated source pictures (half generated_photo, half "
                             "harmless_photo), plus scikit-image's photos")
    parser.add_argument("--harmless", type=int, default=10_000)
    parser.add_argument("--banked", type=int, default=200)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-skimage", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings(sources=args.sources, harmless=args.harmless, banked=args.banked,
                        videos=args.videos, skimage=not args.no_skimage, workers=args.workers)
    rows = run(settings, lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print(render(rows))


if __name__ == "__main__":
    main()
