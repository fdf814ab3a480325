"""An exact Hamming range index for 256-bit hashes: multi-index hashing (MIH) in
compact sorted arrays, organised as a log-structured merge of segments.

Why this shape (measured in bench/index_bench.py, figures in docs/performance.md):

* Exact by the pigeonhole rule. A hash is cut into m chunks; two hashes within
  distance r differ in at most floor(r/m) bits of some chunk. Probing every key within
  that many bit flips of each query chunk therefore finds every hash within r — no
  hash is missed, which a child-safety match cannot afford.
* Chunk width near log2(N) keeps buckets at a few entries, so a query verifies
  thousands, not millions, of candidates. Each chunk table is a permutation (uint32
  per hash) plus a bucket offset array (uint32 per key value): about 4 bytes per hash
  per chunk, plus 32 bytes for the hash and 8 for its label.
* Incremental. New hashes go to a small buffer searched by brute force; full buffers
  become segments, and segments of equal size merge (a binary counter), so a hash is
  rebuilt O(log N) times over its life and an add costs no full rebuild. Removals are
  tombstones that take effect at once and are dropped physically at the next merge.

numpy does the work in batches of queries; `np.bitwise_count` is the popcount.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

BITS = 256
WORDS = BITS // 64
MAX_RADIUS = 31
BUFFER_LIMIT = 4096


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
    """(offset, width) of each chunk: m = ceil(256 / bits) chunks of near-equal width."""
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
    """Every key difference of at most `flips` bits within `width` bits."""
    masks = [0]
    for k in range(1, flips + 1):
        masks.extend(sum(1 << b for b in bits)
                     for bits in itertools.combinations(range(width), k))
    return np.array(masks, dtype=np.uint32)


LARGE = 4_000_000  # measured crossover between the two layouts (bench/index_bench.py)


def default_chunk_bits(size: int) -> int:
    """16 chunks of 16 bits (1 flip each at radius 31) below LARGE hashes; above, 11
    chunks of 23-24 bits (2 flips each), whose near-empty buckets keep the candidates
    few. At 1M the first is 2x faster, at 10M the second is 2.6x (docs/performance.md)."""
    return 16 if size < LARGE else 24


def default_table_bits(size: int, chunk_bits: int) -> int:
    """Bucket tables may index only a chunk's top bits, to bound their memory (about
    one byte per hash per chunk); the distance check filters the wider buckets. Wider
    tables are faster and cost memory: 22 bits at 10M double the planted-query rate
    for 9 more bytes a hash."""
    if chunk_bits <= 16:
        return chunk_bits
    return int(min(chunk_bits, max(8, round(math.log2(max(2, size))) - 2)))


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
        return Hits(np.concatenate([p.query for p in parts]),
                    np.concatenate([p.label for p in parts]),
                    np.concatenate([p.distance for p in parts]))


class Segment:
    """An immutable block of hashes with one MIH table per chunk."""

    def __init__(self, words: np.ndarray, labels: np.ndarray, chunk_bits: int | None = None,
                 table_bits: int | None = None) -> None:
        self.words = np.ascontiguousarray(words, dtype=np.uint64)
        self.labels = np.ascontiguousarray(labels, dtype=np.int64)
        self.chunk_bits = chunk_bits or default_chunk_bits(len(labels))
        self.table_bits = table_bits or default_table_bits(len(labels), self.chunk_bits)
        self.layout = chunk_layout(self.chunk_bits)
        self.orders: list[np.ndarray] = []
        self.offsets: list[np.ndarray] = []
        for offset, width in self.layout:
            keys = self._table_keys(chunk_keys(self.words, offset, width), width)
            self.orders.append(np.argsort(keys, kind="stable").astype(np.uint32))
            counts = np.bincount(keys, minlength=1 << min(width, self.table_bits))
            self.offsets.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32))

    def _table_keys(self, keys: np.ndarray, width: int) -> np.ndarray:
        drop = width - min(width, self.table_bits)
        return keys >> np.uint32(drop) if drop else keys

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def nbytes(self) -> int:
        return (self.words.nbytes + self.labels.nbytes + sum(o.nbytes for o in self.orders)
                + sum(o.nbytes for o in self.offsets))

    def candidates(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """(query index, position) pairs that share a near chunk; may repeat."""
        flips = radius // len(self.layout)
        found_q, found_p = [], []
        for (offset, width), order, starts_of in zip(self.layout, self.orders, self.offsets,
                                                     strict=True):
            probes = self._table_keys(
                chunk_keys(queries, offset, width)[:, None] ^ flip_masks(width, flips), width)
            starts = starts_of[probes].astype(np.int64)
            lengths = starts_of[probes + 1].astype(np.int64) - starts
            if width > self.table_bits and probes.shape[1] > 1:
                # Flips below the table's bits land in one bucket: read it once.
                probes.sort(axis=1)
                starts = starts_of[probes].astype(np.int64)
                lengths = starts_of[probes + 1].astype(np.int64) - starts
                lengths[:, 1:][probes[:, 1:] == probes[:, :-1]] = 0
            starts, lengths = starts.ravel(), lengths.ravel()
            total = int(lengths.sum())
            if total == 0:
                continue
            owner = np.repeat(np.arange(probes.size) // probes.shape[1], lengths)
            begin = np.repeat(np.cumsum(lengths) - lengths, lengths)
            found_p.append(order[np.repeat(starts, lengths) + np.arange(total) - begin])
            found_q.append(owner)
        if not found_q:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(found_q), np.concatenate(found_p).astype(np.int64)

    def search(self, queries: np.ndarray, radius: int) -> Hits:
        query, position = self.candidates(queries, radius)
        if not len(query):
            return Hits.empty()
        # A hash near a query shows up once per chunk it shares: keep one of each.
        _, first = np.unique(query * len(self.labels) + position, return_index=True)
        query, position = query[first], position[first]
        dist = distances(self.words[position], queries[query])
        near = dist <= radius
        return Hits(query[near], self.labels[position[near]], dist[near])


class HammingIndex:
    """Add, remove and range-search 256-bit hashes by integer label, exactly."""

    def __init__(self, buffer_limit: int = BUFFER_LIMIT) -> None:
        self.buffer_limit = buffer_limit
        self.segments: list[Segment] = []
        self._buffer_words: list[np.ndarray] = []
        self._buffer_labels: list[np.ndarray] = []
        self._buffered = 0
        self.dead: set[int] = set()

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments) + self._buffered - len(self.dead)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments) + self._buffered * 40

    def add(self, labels: np.ndarray | list[int], words: np.ndarray) -> None:
        """Index hashes. A label removed earlier whose hash is still stored comes back
        to life instead of being stored twice (a signal's value never changes)."""
        ids: np.ndarray = np.asarray(labels, dtype=np.int64).reshape(-1)
        if self.dead:
            revived = np.fromiter((int(x) in self.dead for x in ids), bool, len(ids))
            self.dead.difference_update(int(x) for x in ids[revived])
            ids, words = ids[~revived], words[~revived]
        if not len(ids):
            return
        self._buffer_words.append(np.asarray(words, dtype=np.uint64))
        self._buffer_labels.append(ids)
        self._buffered += len(ids)
        if self._buffered >= self.buffer_limit:
            self._freeze()

    def remove(self, labels: Iterable[int]) -> None:
        """Takes effect for the next query; the bytes go at the next merge."""
        self.dead.update(int(x) for x in labels)

    def search(self, queries: np.ndarray, radius: int = MAX_RADIUS) -> Hits:
        if not 0 <= radius <= MAX_RADIUS:
            raise ValueError(f"radius must be within 0..{MAX_RADIUS}")
        queries = np.ascontiguousarray(queries, dtype=np.uint64).reshape(-1, WORDS)
        parts = [segment.search(queries, radius) for segment in self.segments]
        parts.append(self._search_buffer(queries, radius))
        hits = Hits.concat(parts)
        if self.dead and len(hits.label):
            alive = np.fromiter((int(x) not in self.dead for x in hits.label), bool,
                                len(hits.label))
            hits = Hits(hits.query[alive], hits.label[alive], hits.distance[alive])
        return hits

    def _search_buffer(self, queries: np.ndarray, radius: int) -> Hits:
        if not self._buffered:
            return Hits.empty()
        words = np.concatenate(self._buffer_words)
        labels = np.concatenate(self._buffer_labels)
        dist = np.bitwise_count(queries[:, None, :] ^ words[None, :, :]).sum(
            axis=2, dtype=np.int32)
        query, position = np.nonzero(dist <= radius)
        return Hits(query, labels[position], dist[query, position])

    def _freeze(self) -> None:
        words = np.concatenate(self._buffer_words)
        labels = np.concatenate(self._buffer_labels)
        self._buffer_words, self._buffer_labels, self._buffered = [], [], 0
        self.segments.append(Segment(words, labels))
        # Merge equal-sized neighbours: segment sizes stay a sum of powers of two.
        while len(self.segments) >= 2 and \
                len(self.segments[-2]) <= 2 * len(self.segments[-1]):
            right = self.segments.pop()
            left = self.segments.pop()
            self.segments.append(self._merge(left, right))

    def _merge(self, left: Segment, right: Segment) -> Segment:
        words = np.concatenate([left.words, right.words])
        labels = np.concatenate([left.labels, right.labels])
        if self.dead:
            gone = np.fromiter((int(x) in self.dead for x in labels), bool, len(labels))
            self.dead.difference_update(int(x) for x in labels[gone])
            words, labels = words[~gone], labels[~gone]
        return Segment(words, labels)

    def compact(self) -> None:
        """Fold everything into one segment (used after a bulk load)."""
        if self._buffered:
            self.segments.append(Segment(np.concatenate(self._buffer_words),
                                         np.concatenate(self._buffer_labels)))
            self._buffer_words, self._buffer_labels, self._buffered = [], [], 0
        while len(self.segments) > 1:
            right = self.segments.pop()
            left = self.segments.pop()
            self.segments.append(self._merge(left, right))

    @classmethod
    def bulk(cls, labels: np.ndarray, words: np.ndarray) -> HammingIndex:
        index = cls()
        if len(labels):
            index.segments.append(Segment(words, labels))
        return index

    # --- persistence -------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Hashes, labels and tombstones; tables are rebuilt on load (no re-hashing)."""
        self.compact()
        folder.mkdir(parents=True, exist_ok=True)
        segment = self.segments[0] if self.segments else None
        np.save(folder / "words.npy", segment.words if segment else np.empty((0, WORDS),
                                                                            np.uint64))
        np.save(folder / "labels.npy", segment.labels if segment else np.empty(0, np.int64))
        (folder / "meta.json").write_text(json.dumps({"dead": sorted(self.dead)}))

    @classmethod
    def load(cls, folder: Path) -> HammingIndex:
        index = cls.bulk(np.load(folder / "labels.npy"), np.load(folder / "words.npy"))
        index.dead = set(json.loads((folder / "meta.json").read_text())["dead"])
        return index
