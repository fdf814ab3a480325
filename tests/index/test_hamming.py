"""The index never misses a hash within the radius: checked against brute force."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from takedown.index.hamming import (
    HammingIndex,
    Hits,
    Segment,
    chunk_keys,
    chunk_layout,
    distances,
    words_from_hex,
)


def random_words(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)


def flip(rng: np.random.Generator, words: np.ndarray, bits: int) -> np.ndarray:
    """A copy of one hash with exactly `bits` bits flipped."""
    out = words.copy()
    for b in rng.choice(256, size=bits, replace=False):
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def brute(labels: np.ndarray, words: np.ndarray, queries: np.ndarray,
          radius: int) -> set[tuple[int, int, int]]:
    found = set()
    for q, query in enumerate(queries):
        dist = distances(words, np.broadcast_to(query, words.shape))
        for i in np.nonzero(dist <= radius)[0]:
            found.add((q, int(labels[i]), int(dist[i])))
    return found


def as_set(hits: Hits) -> set[tuple[int, int, int]]:
    return {(int(q), int(lb), int(d))
            for q, lb, d in zip(hits.query, hits.label, hits.distance, strict=True)}


def planted(rng: np.random.Generator, n: int, queries: int) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """Random hashes plus, for each query, copies at every distance 0..40."""
    words = random_words(rng, n)
    query_words = random_words(rng, queries)
    near = [flip(rng, q, d) for q in query_words for d in range(0, 41, 1)]
    words = np.concatenate([words, np.array(near)])
    return np.arange(len(words), dtype=np.int64) + 1000, words, query_words


def test_chunks_cover_every_bit_once() -> None:
    for bits in (8, 16, 21, 22, 23, 24):
        layout = chunk_layout(bits)
        assert sum(w for _, w in layout) == 256
        assert all(o2 == o1 + w1 for (o1, w1), (o2, _) in itertools.pairwise(layout))


def test_chunk_keys_read_the_right_bits() -> None:
    words = words_from_hex(["80" + "00" * 7 + "ff" + "00" * 23])
    assert chunk_keys(words, 0, 1)[0] == 1
    assert chunk_keys(words, 60, 12)[0] == 0xFF  # 0000 from word 0, 11111111 from word 1
    assert chunk_keys(words, 64, 8)[0] == 0xFF


@pytest.mark.parametrize("radius", [0, 5, 16, 31])
@pytest.mark.parametrize("chunk_bits", [10, 16, 21])
def test_segment_search_equals_brute_force(radius: int, chunk_bits: int) -> None:
    rng = np.random.default_rng(radius * 100 + chunk_bits)
    labels, words, queries = planted(rng, 3000, 12)
    segment = Segment(words, labels, chunk_bits)
    assert as_set(segment.search(queries, radius)) == brute(labels, words, queries, radius)


def test_clustered_hashes_are_found_too() -> None:
    """Real PDQ hashes cluster; many near-identical hashes stress the buckets."""
    rng = np.random.default_rng(7)
    centres = random_words(rng, 20)
    words = np.array([flip(rng, centres[i % 20], int(rng.integers(0, 60)))
                      for i in range(4000)])
    labels = np.arange(4000, dtype=np.int64)
    queries = np.array([flip(rng, c, 10) for c in centres])
    index = HammingIndex(buffer_limit=512)
    index.add(labels, words)
    assert as_set(index.search(queries, 31)) == brute(labels, words, queries, 31)


def test_incremental_adds_and_removals_take_effect_at_once() -> None:
    rng = np.random.default_rng(3)
    labels, words, queries = planted(rng, 5000, 6)
    index = HammingIndex(buffer_limit=700)
    for start in range(0, len(labels), 333):  # many freezes and merges
        index.add(labels[start:start + 333], words[start:start + 333])
    assert index.segments and index._buffered < 700  # frozen and merged along the way
    assert as_set(index.search(queries, 31)) == brute(labels, words, queries, 31)
    gone = labels[-41 * 6:][::3]
    index.remove(gone)
    keep = ~np.isin(labels, gone)
    assert as_set(index.search(queries, 31)) == brute(labels[keep], words[keep], queries, 31)
    index.add(gone[:5], words[np.isin(labels, gone[:5])])  # re-enabled
    keep |= np.isin(labels, gone[:5])
    assert as_set(index.search(queries, 31)) == brute(labels[keep], words[keep], queries, 31)
    fresh = np.array([flip(rng, queries[0], 3)])
    index.add([99_999_999], fresh)
    assert 99_999_999 in index.search(queries[:1], 31).label


def test_removed_hashes_are_dropped_at_merge() -> None:
    rng = np.random.default_rng(5)
    index = HammingIndex(buffer_limit=100)
    index.add(np.arange(100), random_words(rng, 100))
    index.remove(range(50))
    index.add(np.arange(100, 200), random_words(rng, 100))  # freeze + merge
    assert len(index) == 150 and not index.dead


def test_save_and_load_without_rehashing(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    labels, words, queries = planted(rng, 2000, 4)
    index = HammingIndex(buffer_limit=500)
    index.add(labels, words)
    index.remove(labels[:10])
    expected = as_set(index.search(queries, 31))
    index.save(tmp_path / "idx")
    assert as_set(HammingIndex.load(tmp_path / "idx").search(queries, 31)) == expected


def test_radius_is_bounded() -> None:
    with pytest.raises(ValueError):
        HammingIndex().search(np.zeros((1, 4), np.uint64), 32)
