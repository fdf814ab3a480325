"""Hamming range search at radius 31: takedown's index against faiss.

    .venv/bin/python -m bench.index_bench --sizes 1000000 10000000

Data: random 256-bit hashes; 20% of them in near-duplicate families (sizes drawn
from a Zipf law, members within ~0-40 bits of the family's centre: how a viral
image's copies look in real PDQ collections); and for each planted query, copies at
every distance 0..40. Half the queries are planted, half land inside families.
Ground truth: faiss IndexBinaryFlat (exact brute force). Baseline: faiss
IndexBinaryMultiHash(256, 16, 16) with nflip=1, what HMA uses. One core each.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from bench.common import machine, table
from takedown.index.hamming import HammingIndex, Segment, default_table_bits

RADIUS = 31


def as_bytes(words: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(words.astype(">u8")).view(np.uint8).reshape(-1, 32)


def flip_bits(rng: np.random.Generator, words: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Flip each bit of row i with probability[i] (Bernoulli): distances ~ Binomial."""
    out = words.copy()
    for start in range(0, len(words), 250_000):
        stop = min(len(words), start + 250_000)
        bits = rng.random((stop - start, 256), dtype=np.float32) < probability[start:stop, None]
        masks = np.packbits(bits, axis=1).view(">u8").astype(np.uint64)
        out[start:stop] ^= masks
    return out


def exact_flips(rng: np.random.Generator, word: np.ndarray, bits: int) -> np.ndarray:
    out = word.copy()
    for b in rng.choice(256, size=bits, replace=False):
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def dataset(size: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    planted_queries = rng.integers(0, 2**64, size=(queries // 2, 4), dtype=np.uint64)
    planted = np.array([exact_flips(rng, q, d) for q in planted_queries for d in range(41)])
    clustered = int(size * 0.2)
    family_sizes = np.minimum(rng.zipf(1.6, size=clustered), 20_000)
    family_sizes = family_sizes[np.cumsum(family_sizes) <= clustered]
    centres = rng.integers(0, 2**64, size=(len(family_sizes), 4), dtype=np.uint64)
    members = np.repeat(centres, family_sizes, axis=0)
    members = flip_bits(rng, members, rng.uniform(0.0, 0.12, size=len(members)))
    random_count = size - len(planted) - len(members)
    background = rng.integers(0, 2**64, size=(random_count, 4), dtype=np.uint64)
    words = np.concatenate([background, members, planted])
    big = np.argsort(family_sizes)[-(queries - len(planted_queries)):]
    family_queries = flip_bits(rng, centres[big], np.full(len(big), 0.02))
    return words, np.concatenate([planted_queries, family_queries])


def results(lims: np.ndarray, labels: np.ndarray) -> list[set[int]]:
    return [set(labels[lims[i]:lims[i + 1]].tolist()) for i in range(len(lims) - 1)]


def ours_results(index: HammingIndex, queries: np.ndarray) -> list[set[int]]:
    hits = index.search(queries, RADIUS)
    found: list[set[int]] = [set() for _ in range(len(queries))]
    for q, label in zip(hits.query.tolist(), hits.label.tolist(), strict=True):
        found[q].add(label)
    return found


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    total = sum(len(t) for t in truth)
    return sum(len(f & t) for f, t in zip(found, truth, strict=True)) / max(1, total)


def rate(search: object, queries: np.ndarray) -> float:
    """Queries per second for one call of `search` on all of `queries`."""
    started = time.perf_counter()
    search(queries)  # type: ignore[operator]
    return len(queries) / (time.perf_counter() - started)


def speeds(pair: list[float]) -> list[str]:
    """Planted and family rates, and their harmonic mean over the whole query set."""
    both = 2 / (1 / pair[0] + 1 / pair[1])
    return [f"{pair[0]:,.0f}", f"{pair[1]:,.0f}", f"{both:,.0f}"]


def bench(size: int, queries: int, flat_queries: int) -> list[list[object]]:
    faiss.omp_set_num_threads(1)
    words, query_words = dataset(size, queries)
    packed, query_packed = as_bytes(words), as_bytes(query_words)
    rows: list[list[object]] = []

    started = time.perf_counter()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(packed)
    flat_build = time.perf_counter() - started
    half = len(query_packed) // 2
    flat_qps = [rate(lambda q: flat.range_search(q, RADIUS + 1), query_packed[part])
                for part in (slice(0, flat_queries // 2), slice(half, half + flat_queries // 2))]
    faiss.omp_set_num_threads(2)  # ground truth for every query, faster
    truth = results(*flat.range_search(query_packed, RADIUS + 1)[::2])
    faiss.omp_set_num_threads(1)
    rows.append(["faiss IndexBinaryFlat (exact)", *speeds(flat_qps), "100.0%",
                 f"{packed.nbytes / size:.0f}", f"{flat_build:.1f}", "-"])

    started = time.perf_counter()
    multi = faiss.IndexBinaryMultiHash(256, 16, 16)
    multi.nflip = 1
    multi.add(packed)
    multi_build = time.perf_counter() - started
    multi_qps = [rate(lambda q: multi.range_search(q, RADIUS + 1), query_packed[part])
                 for part in (slice(0, half), slice(half, None))]
    lims, _, labels = multi.range_search(query_packed, RADIUS + 1)
    multi_bytes = faiss.serialize_index_binary(multi).nbytes / size
    rows.append(["faiss IndexBinaryMultiHash(256,16,16) nflip=1 (HMA)", *speeds(multi_qps),
                 f"{100 * recall(results(lims, labels), truth):.1f}%", f"{multi_bytes:.0f}",
                 f"{multi_build:.1f}", "-"])

    labels_all = np.arange(size, dtype=np.int64)
    configs = [("takedown MIH, 16 x 16-bit chunks (default below 4M)", 16, 16),
               ("takedown MIH, 11 x 24-bit chunks (default from 4M)", 24, None),
               ("takedown MIH, 11 x 24-bit chunks, wider tables", 24,
                default_table_bits(size, 24) + 1)]
    for name, chunk_bits, table_bits in configs:
        started = time.perf_counter()
        index = HammingIndex()
        index.segments.append(Segment(words, labels_all, chunk_bits, table_bits))
        build = time.perf_counter() - started
        segment = index.segments[0]
        found: list[set[int]] = []
        for batch in range(0, len(query_words), 100):
            found.extend(ours_results(index, query_words[batch:batch + 100]))
        qps = [rate(lambda q: [index.search(q[b:b + 100], RADIUS)  # noqa: B023
                               for b in range(0, len(q), 100)], query_words[part])
               for part in (slice(0, half), slice(half, None))]
        fresh = exact_flips(np.random.default_rng(1), query_words[0], 3)
        started = time.perf_counter()
        index.add([size + 1], fresh[None, :])
        visible = size + 1 in index.search(query_words[:1], RADIUS).label
        insert_ms = (time.perf_counter() - started) * 1000
        assert visible
        label = (f"{name} (m={len(segment.layout)}, {segment.chunk_bits}-bit chunks, "
                 f"{segment.table_bits}-bit tables)")
        rows.append([label, *speeds(qps), f"{100 * recall(found, truth):.1f}%",
                     f"{segment.nbytes / size:.0f}", f"{build:.1f}", f"{insert_ms:.1f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--flat-queries", type=int, default=50,
                        help="queries timed on the brute-force baseline (it is slow)")
    args = parser.parse_args()
    print(f"# Hamming range search, radius {RADIUS} — {machine()}")
    for size in args.sizes:
        rows = bench(size, args.queries, args.flat_queries)
        print(f"\n{size:,} hashes, {args.queries} queries (half planted at 0..40 bits, "
              "half inside near-duplicate families)\n")
        print(table(["index", "queries/s planted", "queries/s in families", "queries/s all",
                     "recall", "bytes/hash", "build s", "insert visible ms"], rows))


if __name__ == "__main__":
    main()
