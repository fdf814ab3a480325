"""An exact Hamming range index for 256-bit hashes: multi-index hashing (MIH) in
compact sorted arrays, organised as a log-structured merge of segments.

Why this shape (measured in bench/index_bench.py, figures in docs/performance.md):

* Exact by the pigeonhole rule. A hash is cut into m chunks; two hashes within
  distance r = s*m + a (0 <= a < m) differ by at most s bits in one of the first a+1
  chunks or by at most s-1 bits in one of the others (otherwise they would differ by
  at least r+1 bits). Probing every key within that many bit flips of each query
  chunk therefore finds every hash within r — no hash is missed, which a
  child-safety match cannot afford.
* Few random memory reads. At 10M hashes the cost of a query is its cache misses.
  Bucket tables index the top T bits of a chunk (T near log2(N) - 1, so the tables
  stay small); each table entry is one uint32 holding the hash's position in its
  segment (24 bits) and the chunk-key bits the table dropped, so a hash whose chunk
  lies too far from the query's is skipped without reading its 32 bytes. A segment
  keeps its hashes sorted by their first chunk: that chunk's buckets are row ranges
  (no entries at all) and near-duplicates sit together. A per-query bitset over the
  segment's rows means a hash found through several chunks is read once.
* Small: 32 bytes of hash and 8 of label, 4 per chunk after the first, and the
  bucket offsets (4 bytes per bucket per chunk): under 100 bytes per hash.
* Incremental. New hashes go to a small buffer searched by brute force, so an add
  is visible to the next query; full buffers become segments, and segments of
  similar size merge (a binary counter, up to 2**24 hashes a segment), so a hash is
  rebuilt O(log N) times over its life and an add costs no full rebuild. Removals
  are tombstones that take effect at once and are dropped at the next merge.

The inner loops are compiled with numba (`takedown.index.kernels`, loaded on first
use): every array stays a plain numpy array, and nothing needs a C toolchain.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

BITS = 256
WORDS = BITS // 64
MAX_RADIUS = 31
BUFFER_LIMIT = 4096
SEGMENT_LIMIT = 1 << 24  # a table entry holds a position in 24 bits (kernels.ENTRY_SHIFT)
TABLE_BYTES = 19.5  # bucket offsets may cost at most this many bytes per hash


def _kernels() -> ModuleType:
    """The compiled loops, imported on first use (numba loads in ~0.2 s)."""
    from takedown.index import kernels
    return kernels


def words_from_hex(hashes: Iterable[str]) -> np.ndarray:
    """(n, 4) uint64, most significant word first."""
    raw = b"".join(bytes.fromhex(h) for h in hashes)
    if len(raw) % 32:
        raise ValueError("every hash must be 64 hex digits")
    words: np.ndarray = np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, WORDS)
    return words


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance of two (n, 4) uint64 arrays."""
    result: np.ndarray = np.bitwise_count(a ^ b).sum(axis=1, dtype=np.int32)
    return result


def chunk_layout(chunk_bits: int) -> list[tuple[int, int]]:
    """(offset, width) of each chunk: m = ceil(256 / bits) chunks of near-equal width,
    the wider ones first."""
    count = math.ceil(BITS / chunk_bits)
    base, extra = divmod(BITS, count)
    widths = [base + 1] * extra + [base] * (count - extra)
    offsets = list(itertools.accumulate([0, *widths[:-1]]))
    return list(zip(offsets, widths, strict=True))


def chunk_keys(words: np.ndarray, offset: int, width: int) -> np.ndarray:
    word, shift = divmod(offset, 64)
    top = words[:, word] << np.uint64(shift) if shift else words[:, word].copy()
    if shift + width > 64:
        top |= words[:, word + 1] >> np.uint64(64 - shift)
    return (top >> np.uint64(64 - width)).astype(np.uint32)


@cache
def flip_masks(width: int, flips: int) -> np.ndarray:
    """Every key difference of at most `flips` bits within `width` bits, fewest
    flips first."""
    masks = [0]
    for k in range(1, flips + 1):
        masks.extend(sum(1 << b for b in bits)
                     for bits in itertools.combinations(range(width), k))
    return np.array(masks, dtype=np.uint32)


@cache
def _probe_masks(width: int, flips: int) -> tuple[np.ndarray, np.ndarray]:
    """flip_masks and, for each f <= flips, how many of them have at most f flips."""
    counts = np.array([sum(math.comb(width, k) for k in range(f + 1))
                       for f in range(flips + 1)], dtype=np.int64)
    return flip_masks(width, flips), counts


def chunk_flips(radius: int, chunks: int) -> np.ndarray:
    """Bit flips to probe per chunk so that every hash within `radius` is found."""
    s, a = divmod(radius, chunks)
    return np.array([s if c <= a else s - 1 for c in range(chunks)], dtype=np.int64)


LARGE = 1_000_000  # measured crossover between the two layouts (bench/index_bench.py)


def default_chunk_bits(size: int) -> int:
    """16 chunks of 16 bits (1 flip each at radius 31) below LARGE hashes; from LARGE
    on, 11 chunks of 23-24 bits (2 flips each, 1 in the last), whose near-empty
    buckets keep the candidates few. At 300k hashes the first is ~1.3-1.5x faster; at
    1M the second is a little faster and smaller (under 100 bytes a hash); at 10M it
    is ~3.5x faster (docs/performance.md)."""
    return 16 if size < LARGE else 24


def default_table_bits(size: int, chunk_bits: int) -> int:
    """Bucket tables index a chunk's top T bits, T as large as TABLE_BYTES per hash
    allows (4 bytes per bucket per chunk): 22 bits at 10M hashes, 18 at 1M. Wider
    tables are faster and cost memory; the bits dropped ride in the entries."""
    chunks = math.ceil(BITS / chunk_bits)
    budget = TABLE_BYTES * max(1, size) / (4 * chunks)
    return int(min(chunk_bits, max(4, math.floor(math.log2(budget)))))


@dataclass(frozen=True)
class Hits:
    """Parallel arrays: which query, which label, at what distance."""

    query: np.ndarray
    label: np.ndarray
    distance: np.ndarray

    @staticmethod
    def empty() -> Hits:
        return Hits(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32))

    @staticmethod
    def concat(parts: list[Hits]) -> Hits:
        parts = [p for p in parts if len(p.query)]
        if not parts:
            return Hits.empty()
        if len(parts) == 1:
            return parts[0]
        return Hits(np.concatenate([p.query for p in parts]),
                    np.concatenate([p.label for p in parts]),
                    np.concatenate([p.distance for p in parts]))


def _as_words(words: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(words, dtype=np.uint64).reshape(-1, WORDS))


class Segment:
    """An immutable block of at most SEGMENT_LIMIT hashes with one MIH table per
    chunk. Rows are kept sorted by the first chunk, whose table is therefore only
    bucket offsets; every other chunk has offsets and one uint32 entry per hash."""

    def __init__(self, words: np.ndarray, labels: np.ndarray, chunk_bits: int | None = None,
                 table_bits: int | None = None) -> None:
        words = _as_words(words)
        labels = np.ascontiguousarray(labels, dtype=np.int64).reshape(-1)
        if len(words) != len(labels):
            raise ValueError("one label per hash")
        if len(labels) > SEGMENT_LIMIT:
            raise ValueError(f"a segment holds at most {SEGMENT_LIMIT} hashes")
        self.chunk_bits = chunk_bits or default_chunk_bits(len(labels))
        if not 1 <= self.chunk_bits <= 32:
            raise ValueError("chunks are 1 to 32 bits wide")
        self.table_bits = table_bits or default_table_bits(len(labels), self.chunk_bits)
        self.layout = chunk_layout(self.chunk_bits)
        self._offset = np.array([o for o, _ in self.layout], dtype=np.int64)
        self._width = np.array([w for _, w in self.layout], dtype=np.int64)
        self._table = np.minimum(self._width, self.table_bits)
        widest = int(self._table.max())
        kernels = _kernels()
        self.offsets = np.zeros((len(self.layout), (1 << widest) + 1), dtype=np.uint32)
        first = self.offsets[0, :(1 << int(self._table[0])) + 1]
        order = kernels.bucket_order(words, self._offset[0], self._width[0],
                                     self._table[0], first)
        self.words: np.ndarray = np.empty_like(words)
        self.labels: np.ndarray = np.empty_like(labels)
        kernels.permute(words, labels, order, self.words, self.labels)
        self.entries = np.empty((len(self.layout) - 1, len(labels)), dtype=np.uint32)
        scratch = np.empty(len(labels), dtype=np.uint64)
        for c in range(1, len(self.layout)):
            kernels.fill_table(self.words, self._offset[c], self._width[c], self._table[c],
                               self.offsets[c, :(1 << int(self._table[c])) + 1],
                               self.entries[c - 1], scratch)
        self._scratch: list[np.ndarray] = []  # zeroed visited-bitsets, one per searcher

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def nbytes(self) -> int:
        """Hashes, labels, tables and one visited-bitset (n / 8 bytes)."""
        return (self.words.nbytes + self.labels.nbytes + self.offsets.nbytes
                + self.entries.nbytes + (len(self.labels) // 64 + 1) * 8)

    def search(self, queries: np.ndarray, radius: int) -> Hits:
        if not len(self.labels):
            return Hits.empty()
        queries = _as_words(queries)
        flips = chunk_flips(radius, len(self.layout))
        masks, counts = _probe_masks(int(self._table.max()), max(0, int(flips.max())))
        try:
            visited = self._scratch.pop()
        except IndexError:
            visited = np.zeros(len(self.labels) // 64 + 1, dtype=np.uint64)
        query, row, dist = _kernels().search_segment(
            self.words, self.offsets, self.entries, self._offset, self._width, self._table,
            flips, masks, counts, queries, radius, visited)
        self._scratch.append(visited)  # the kernel leaves it zeroed
        return Hits(query, self.labels[row], dist)


class HammingIndex:
    """Add, remove and range-search 256-bit hashes by integer label, exactly."""

    def __init__(self, buffer_limit: int = BUFFER_LIMIT) -> None:
        self.buffer_limit = buffer_limit
        self.segments: list[Segment] = []
        self._buffer_words: list[np.ndarray] = []
        self._buffer_labels: list[np.ndarray] = []
        self._buffered = 0
        self.dead: set[int] = set()
        self._dead_sorted: np.ndarray | None = None

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments) + self._buffered - len(self.dead)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments) + self._buffered * 40

    def add(self, labels: np.ndarray | list[int], words: np.ndarray) -> None:
        """Index hashes. A label removed earlier whose hash is still stored comes back
        to life instead of being stored twice (a signal's value never changes)."""
        ids: np.ndarray = np.asarray(labels, dtype=np.int64).reshape(-1)
        words = _as_words(words)
        if self.dead:
            revived = np.fromiter((int(x) in self.dead for x in ids), bool, len(ids))
            if revived.any():
                self.dead.difference_update(int(x) for x in ids[revived])
                self._dead_sorted = None
                ids, words = ids[~revived], words[~revived]
        if not len(ids):
            return
        self._buffer_words.append(words)
        self._buffer_labels.append(ids)
        self._buffered += len(ids)
        if self._buffered >= self.buffer_limit:
            self._freeze()

    def remove(self, labels: Iterable[int]) -> None:
        """Takes effect for the next query; the bytes go at the next merge."""
        self.dead.update(int(x) for x in labels)
        self._dead_sorted = None

    def search(self, queries: np.ndarray, radius: int = MAX_RADIUS) -> Hits:
        if not 0 <= radius <= MAX_RADIUS:
            raise ValueError(f"radius must be within 0..{MAX_RADIUS}")
        queries = _as_words(queries)
        if not len(queries):
            return Hits.empty()
        parts = [segment.search(queries, radius) for segment in self.segments]
        parts.append(self._search_buffer(queries, radius))
        hits = Hits.concat(parts)
        if self.dead and len(hits.label):
            if self._dead_sorted is None or len(self._dead_sorted) != len(self.dead):
                self._dead_sorted = np.sort(np.fromiter(self.dead, np.int64, len(self.dead)))
            alive = ~np.isin(hits.label, self._dead_sorted)
            hits = Hits(hits.query[alive], hits.label[alive], hits.distance[alive])
        return hits

    def _buffer(self) -> tuple[np.ndarray, np.ndarray]:
        """The buffered hashes as one array each (joined once, then kept joined)."""
        if len(self._buffer_words) > 1:
            self._buffer_words = [np.concatenate(self._buffer_words)]
            self._buffer_labels = [np.concatenate(self._buffer_labels)]
        return self._buffer_words[0], self._buffer_labels[0]

    def _search_buffer(self, queries: np.ndarray, radius: int) -> Hits:
        if not self._buffered:
            return Hits.empty()
        words, labels = self._buffer()
        query, row, dist = _kernels().search_flat(words, queries, radius)
        return Hits(query, labels[row], dist)

    def _take_buffer(self) -> tuple[np.ndarray, np.ndarray]:
        words, labels = self._buffer()
        self._buffer_words, self._buffer_labels, self._buffered = [], [], 0
        return words, labels

    def _freeze(self) -> None:
        self.segments.append(Segment(*self._take_buffer()))
        # Merge similar-sized neighbours: segment sizes stay near powers of two.
        while len(self.segments) >= 2 and \
                len(self.segments[-2]) <= 2 * len(self.segments[-1]) and \
                len(self.segments[-2]) + len(self.segments[-1]) <= SEGMENT_LIMIT:
            right = self.segments.pop()
            left = self.segments.pop()
            self.segments.extend(self._rebuild([left, right]))

    def _rebuild(self, parts: list[Segment], words: np.ndarray | None = None,
                 labels: np.ndarray | None = None) -> list[Segment]:
        """The hashes of `parts` (and `words`, `labels`) less the removed ones, in
        as few segments as SEGMENT_LIMIT allows."""
        all_words = [p.words for p in parts] + ([] if words is None else [words])
        all_labels = [p.labels for p in parts] + ([] if labels is None else [labels])
        joined_words = np.concatenate(all_words)
        joined_labels = np.concatenate(all_labels)
        if self.dead:
            gone = np.isin(joined_labels,
                           np.fromiter(self.dead, np.int64, len(self.dead)))
            if gone.any():
                self.dead.difference_update(joined_labels[gone].tolist())
                self._dead_sorted = None
                joined_words, joined_labels = joined_words[~gone], joined_labels[~gone]
        return _segments(joined_labels, joined_words)

    def compact(self) -> None:
        """Fold everything into one segment (used after a bulk load); beyond
        SEGMENT_LIMIT hashes, into as few equal segments as fit."""
        if not self._buffered and len(self.segments) <= 1:
            return
        words, labels = self._take_buffer() if self._buffered else (None, None)
        parts, self.segments = self.segments, []
        self.segments = self._rebuild(parts, words, labels)

    @classmethod
    def bulk(cls, labels: np.ndarray, words: np.ndarray, chunk_bits: int | None = None,
             table_bits: int | None = None) -> HammingIndex:
        """An index of these hashes, built at once (segments of up to SEGMENT_LIMIT);
        `chunk_bits` and `table_bits` override the defaults for its segments."""
        index = cls()
        index.segments = _segments(np.asarray(labels, dtype=np.int64).reshape(-1),
                                   _as_words(words), chunk_bits, table_bits)
        return index

    # --- persistence -------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Hashes, labels and tombstones; tables are rebuilt on load (no re-hashing)."""
        self.compact()
        folder.mkdir(parents=True, exist_ok=True)
        words = [s.words for s in self.segments]
        labels = [s.labels for s in self.segments]
        np.save(folder / "words.npy", np.concatenate(words) if words
                else np.empty((0, WORDS), np.uint64))
        np.save(folder / "labels.npy", np.concatenate(labels) if labels
                else np.empty(0, np.int64))
        (folder / "meta.json").write_text(json.dumps({"dead": sorted(self.dead)}))

    @classmethod
    def load(cls, folder: Path) -> HammingIndex:
        index = cls.bulk(np.load(folder / "labels.npy"), np.load(folder / "words.npy"))
        index.dead = set(json.loads((folder / "meta.json").read_text())["dead"])
        return index


def _segments(labels: np.ndarray, words: np.ndarray, chunk_bits: int | None = None,
              table_bits: int | None = None) -> list[Segment]:
    """Hashes in as few equal segments of at most SEGMENT_LIMIT as hold them."""
    if not len(labels):
        return []
    pieces = -(-len(labels) // SEGMENT_LIMIT)
    bounds = np.linspace(0, len(labels), pieces + 1).astype(np.int64)
    return [Segment(words[a:b], labels[a:b], chunk_bits, table_bits)
            for a, b in itertools.pairwise(bounds)]


def warm_up() -> None:
    """Load the compiled loops now (compiling them on a fresh checkout, ~6 s; later
    ~0.6 s from numba's cache), so that a service's first search does not wait."""
    words = np.random.default_rng(0).integers(0, 1 << 62, size=(64, WORDS), dtype=np.uint64)
    for chunk_bits in (16, 24):
        index = HammingIndex.bulk(np.arange(64, dtype=np.int64), words, chunk_bits=chunk_bits)
        index.add([64], words[:1])
        index.search(words[:2], MAX_RADIUS)
