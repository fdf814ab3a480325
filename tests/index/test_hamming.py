"""The index never misses a hash within the radius: checked against brute force."""

import itertools
import math
import threading
from pathlib import Path

import numpy as np
import pytest

from takedown.index import hamming
from takedown.index.hamming import (
    LARGE,
    HammingIndex,
    Hits,
    Segment,
    chunk_flips,
    chunk_keys,
    chunk_layout,
    default_chunk_bits,
    default_table_bits,
    distances,
    words_from_hex,
)
from takedown.index.kernels import ENTRY_SHIFT

# (chunk bits, table bits): the small-index layout; the large one with tables that
# keep every dropped bit in the entry, with tables that drop more bits than an entry
# holds, and with the 22-bit tables of the 10M layout (buckets nearly all empty here).
LAYOUTS = [(16, None), (24, None), (24, 16), (24, 12), (24, 22), (21, 15), (10, None)]


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


def families(rng: np.random.Generator, n: int, centres: int,
             queries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near-duplicate families (members 0..45 bits from their centre) in random
    hashes; queries a few bits from the centres."""
    middle = random_words(rng, centres)
    members = np.array([flip(rng, middle[i % centres], int(rng.integers(0, 46)))
                        for i in range(n // 2)])
    words = np.concatenate([random_words(rng, n - len(members)), members])
    query_words = np.array([flip(rng, middle[i % centres], int(rng.integers(0, 6)))
                            for i in range(queries)])
    return np.arange(len(words), dtype=np.int64) * 7 + 3, words, query_words


def exact_chunk_distances(rng: np.random.Generator, query: np.ndarray,
                          layout: list[tuple[int, int]], table_bits: int,
                          per_chunk: list[int], low: bool) -> np.ndarray:
    """A copy of `query` whose chunk c differs by per_chunk[c] bits: in the chunk's
    dropped low bits first (below the table's bits) when `low`, else in its top bits."""
    out = query.copy()
    for (offset, width), count in zip(layout, per_chunk, strict=True):
        top = min(width, table_bits)
        low_bits = list(range(top, width))  # bit index within the chunk, from the top
        high_bits = list(range(top))
        order = (low_bits + high_bits) if low else (high_bits + low_bits)
        chosen = order[:count] if low else list(rng.permutation(high_bits))[:count]
        if len(chosen) < count:
            chosen += [b for b in order if b not in chosen][:count - len(chosen)]
        for b in chosen:
            bit = offset + b
            out[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return out


@pytest.mark.parametrize(("chunk_bits", "table_bits"), LAYOUTS)
def test_every_layout_equals_brute_force_at_every_radius(chunk_bits: int,
                                                         table_bits: int | None) -> None:
    rng = np.random.default_rng(chunk_bits * 100 + (table_bits or 0))
    labels, words, queries = planted(rng, 1500, 4)
    fam_labels, fam_words, fam_queries = families(rng, 1500, 6, 6)
    labels = np.concatenate([labels, fam_labels + 10**6])
    words = np.concatenate([words, fam_words])
    queries = np.concatenate([queries, fam_queries])
    segment = Segment(words, labels, chunk_bits, table_bits)
    all_distances = np.array([distances(words, np.broadcast_to(q, words.shape))
                              for q in queries])
    for radius in range(32):
        hits = segment.search(queries, radius)
        query, row = np.nonzero(all_distances <= radius)
        expected = set(zip(query.tolist(), labels[row].tolist(),
                           all_distances[query, row].tolist(), strict=True))
        assert as_set(hits) == expected, radius
        assert len(hits.label) == len(expected)  # each pair once


@pytest.mark.parametrize(("chunk_bits", "table_bits"), LAYOUTS)
@pytest.mark.parametrize("low", [True, False])
def test_a_match_caught_by_one_chunk_only_is_found(chunk_bits: int, table_bits: int | None,
                                                   low: bool) -> None:
    """Hashes at distance exactly 31 whose only chunk within its flips is chunk c (every
    other chunk one bit beyond its flips), with chunk c's flips in the bits its table
    drops (same bucket, told apart only by the entry) or in the table's bits; and the
    same hashes one bit further (32), which must not be found at 31."""
    rng = np.random.default_rng(chunk_bits + (table_bits or 0) + low)
    background = random_words(rng, 2000)
    probe = Segment(background[:1], np.zeros(1, np.int64), chunk_bits, table_bits)
    layout, table = probe.layout, probe.table_bits
    allowed = chunk_flips(31, len(layout)).tolist()
    queries = random_words(rng, 3)
    near, far = [], []
    for query in queries:
        for c in range(len(layout)):
            per_chunk = [a + 1 for a in allowed]
            per_chunk[c] = allowed[c]
            if any(d > w for d, (_, w) in zip(per_chunk, layout, strict=True)):
                continue
            assert sum(per_chunk) == 31
            near.append(exact_chunk_distances(rng, query, layout, table, per_chunk, low))
            per_chunk[c] += 1
            far.append(exact_chunk_distances(rng, query, layout, table, per_chunk, low))
    words = np.concatenate([background, np.array(near), np.array(far)])
    labels = np.arange(len(words), dtype=np.int64)
    segment = Segment(words, labels, chunk_bits, table_bits)
    found = as_set(segment.search(queries, 31))
    assert found == brute(labels, words, queries, 31)
    near_labels = set(range(len(background), len(background) + len(near)))
    assert near_labels <= {label for _, label, _ in found}
    assert {d for _, label, d in found if label in near_labels} == {31}


def test_entries_keep_the_dropped_bits() -> None:
    """Two hashes whose chunk keys differ only below the table's bits share a bucket
    and are told apart by their entries."""
    rng = np.random.default_rng(11)
    query = random_words(rng, 1)[0]
    segment = Segment(np.array([query, query]), np.array([1, 2]), 24, 20)
    assert segment.entries.shape == (10, 2)
    assert segment.entries.dtype == np.uint32
    positions = np.sort(segment.entries[:, :] >> np.uint32(ENTRY_SHIFT), axis=1)
    assert (positions == [0, 1]).all()
    for c, (offset, width) in enumerate(segment.layout[1:], start=1):
        extra = min(8, width - 20)
        keys = chunk_keys(segment.words, offset, width)
        expected = (keys >> np.uint32(width - 20 - extra)) & np.uint32((1 << extra) - 1)
        stored = segment.entries[c - 1] & np.uint32(0xFF)
        rows = segment.entries[c - 1] >> np.uint32(ENTRY_SHIFT)
        assert (stored == expected[rows]).all()


@pytest.mark.parametrize("large_layout", [False, True])
def test_index_equals_brute_force_through_buffer_merges_removals_and_reloads(
        large_layout: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if large_layout:  # every segment in the 11-chunk layout, however small
        monkeypatch.setattr(hamming, "LARGE", 0)
    rng = np.random.default_rng(21 + large_layout)
    labels, words, queries = families(rng, 3000, 5, 5)
    p_labels, p_words, p_queries = planted(rng, 500, 3)
    labels = np.concatenate([labels, p_labels + 10**7])
    words = np.concatenate([words, p_words])
    queries = np.concatenate([queries, p_queries])
    order = rng.permutation(len(labels))
    labels, words = labels[order], words[order]
    index = HammingIndex(buffer_limit=300)
    alive = np.zeros(len(labels), bool)

    def check(radius: int = 31) -> None:
        assert as_set(index.search(queries, radius)) == \
            brute(labels[alive], words[alive], queries, radius)

    shapes = set()
    for start in range(0, len(labels), 437):
        index.add(labels[start:start + 437], words[start:start + 437])
        alive[start:start + 437] = True
        shapes.add((len(index.segments), bool(index._buffered)))
        check()
    assert (1, True) in shapes and any(n > 1 for n, _ in shapes)  # segments and a buffer
    if large_layout:
        assert all(len(s.layout) == 11 for s in index.segments)
    for radius in (0, 7, 22, 30):
        check(radius)
    gone = rng.choice(len(labels), 600, replace=False)
    index.remove(labels[gone])
    alive[gone] = False
    check()
    index.add(labels[gone[:200]], words[gone[:200]])  # re-enabled
    alive[gone[:200]] = True
    check()
    more = random_words(rng, 700)
    more_labels = np.arange(700, dtype=np.int64) + 5 * 10**7
    index.add(more_labels, more)  # more merges; removed hashes dropped on the way
    labels, words = np.concatenate([labels, more_labels]), np.concatenate([words, more])
    alive = np.concatenate([alive, np.ones(700, bool)])
    check()
    assert len(index) == int(alive.sum())
    index.save(tmp_path / "idx")
    loaded = HammingIndex.load(tmp_path / "idx")
    assert as_set(loaded.search(queries, 31)) == brute(labels[alive], words[alive], queries, 31)
    index.compact()
    assert len(index.segments) == 1
    check()


def test_labels_round_trip_as_int64(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    words = random_words(rng, 600)
    labels = np.array([2**32 + 1, 2**40 + 7, 2**62 + 3, -(2**33), 2**63 - 1,
                       *range(2**33, 2**33 + 595)], dtype=np.int64)
    index = HammingIndex(buffer_limit=256)
    index.add(labels[:400], words[:400])
    index.add(labels[400:], words[400:])
    assert index.segments and index._buffered
    hits = index.search(words, 0)
    assert hits.label.dtype == np.int64
    assert sorted(hits.label.tolist()) == sorted(labels.tolist())
    assert (labels[hits.query] == hits.label).all()
    index.remove([2**62 + 3])
    assert 2**62 + 3 not in index.search(words[2:3], 0).label.tolist()
    index.save(tmp_path / "idx")
    loaded = HammingIndex.load(tmp_path / "idx")
    assert (labels[loaded.search(words, 0).query] == loaded.search(words, 0).label).all()
    assert sorted(loaded.search(words, 0).label.tolist()) == \
        sorted(set(labels.tolist()) - {2**62 + 3})


def test_segments_stay_within_the_entry_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A position must fit an entry: no segment grows past SEGMENT_LIMIT, by bulk
    loading, merging or compacting."""
    monkeypatch.setattr(hamming, "SEGMENT_LIMIT", 1000)
    rng = np.random.default_rng(17)
    labels, words, queries = planted(rng, 2300, 3)
    pieces = -(-len(labels) // 1000)
    assert pieces == 3
    index = HammingIndex.bulk(labels, words)
    assert len(index.segments) == pieces and max(len(s) for s in index.segments) <= 1000
    assert as_set(index.search(queries, 31)) == brute(labels, words, queries, 31)
    index = HammingIndex(buffer_limit=200)
    for start in range(0, len(labels), 150):
        index.add(labels[start:start + 150], words[start:start + 150])
    assert max(len(s) for s in index.segments) <= 1000
    assert as_set(index.search(queries, 31)) == brute(labels, words, queries, 31)
    index.compact()
    assert len(index.segments) == pieces
    assert as_set(index.search(queries, 31)) == brute(labels, words, queries, 31)
    with pytest.raises(ValueError):
        Segment(words[:1001], labels[:1001])


def test_concurrent_searches_agree() -> None:
    """Each searcher has its own visited-bitset (the kernels release the GIL)."""
    rng = np.random.default_rng(19)
    labels, words, queries = families(rng, 4000, 4, 8)
    index = HammingIndex.bulk(labels, words)
    expected = as_set(index.search(queries, 31))
    results: list[set[tuple[int, int, int]]] = []

    def work() -> None:
        for _ in range(20):
            results.append(as_set(index.search(queries, 31)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80 and all(r == expected for r in results)


def test_defaults_stay_under_100_bytes_a_hash() -> None:
    """From LARGE hashes a segment (hashes, labels, entries, offsets, one visited
    bitset) costs at most 100 bytes a hash, also just past each table-size step."""
    sizes = {int(n) for n in np.geomspace(LARGE, hamming.SEGMENT_LIMIT, 300)}
    sizes |= {math.ceil(2**t * 44 / hamming.TABLE_BYTES) + d for t in range(17, 25)
              for d in (-1, 0, 1)}
    for size in sorted(n for n in sizes if LARGE <= n <= hamming.SEGMENT_LIMIT):
        bits = default_chunk_bits(size)
        chunks = math.ceil(256 / bits)
        table = default_table_bits(size, bits)
        per_hash = (32 + 8 + 4 * (chunks - 1) + 4 * chunks * (2**table + 1) / size
                    + 8 * (size // 64 + 1) / size)
        assert per_hash <= 100, size
    assert default_chunk_bits(10_000_000) == 24 and default_table_bits(10_000_000, 24) == 22
    segment = Segment(random_words(np.random.default_rng(1), 5000), np.arange(5000), 24, 12)
    assert segment.nbytes == 5000 * (32 + 8 + 40) + 11 * (2**12 + 1) * 4 + 8 * (5000 // 64 + 1)


def test_small_and_empty_inputs() -> None:
    index = HammingIndex()
    assert len(index.search(np.zeros((3, 4), np.uint64), 31).label) == 0
    index.add(np.array([5]), np.zeros((1, 4), np.uint64))
    assert len(index.search(np.zeros((0, 4), np.uint64), 31).label) == 0
    assert index.search(np.zeros(4, np.uint64), 31).label.tolist() == [5]
    index.add(np.array([], np.int64), np.zeros((0, 4), np.uint64))
    assert len(index) == 1
