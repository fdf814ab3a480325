"""Hamming range search at radius 31: takedown's index against faiss.

    .venv/bin/python -m bench.index_bench --sizes 1000000 10000000 [--json]

Data: random 256-bit hashes; 20% of them in near-duplicate families (sizes drawn
from a Zipf law, members within ~0-40 bits of the family's centre: how a viral
image's copies look in real PDQ collections); and for each planted query, copies at
every distance 0..40. Half the queries are planted, half land inside families.
Ground truth: faiss IndexBinaryFlat's exact range search (radius 31 means distance
<= 31; faiss takes a strict bound, so 32). Baselines: faiss IndexBinaryFlat (exact
brute force) and IndexBinaryMultiHash(256, 16, 16) with nflip=1, what HMA uses.
One core each: takedown's kernels never use more than one thread, faiss runs with
one OpenMP thread (the ground truth alone is computed on two).

Rates are queries per second per core, the best of --repeat passes over each half
of the queries (takedown in batches of 100), from the CPU time of the thread that
runs them, so that other work time-sharing the cores does not count (the wall-clock
rate over all queries is printed beside it); "all" is the rate over the whole query
set (the harmonic mean of the two halves). "insert visible" is one `add` followed
by a search that finds the new hash (wall clock).

With --json, one JSON object per index row (one line each): size, name, default
(true for the configuration takedown itself builds at that size: one per size),
qps_planted, qps_families, qps_all (per core), wall_qps_all (wall clock), recall
(a fraction, 0..1, of the true pairs found), bytes_per_hash, build_s,
insert_visible_ms (null for faiss), machine.
Without it, a markdown table per size.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from bench.common import machine, table
from takedown.index.hamming import (
    HammingIndex,
    default_chunk_bits,
    default_table_bits,
)

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


@dataclass(frozen=True)
class Rate:
    """Queries per second per core (the thread's CPU time) and by the wall clock."""

    cpu: float
    wall: float


def rate(search: Callable[[np.ndarray], object], queries: np.ndarray, repeat: int) -> Rate:
    """Queries per second of `search` over all of `queries`, best of `repeat` passes.
    The per-core rate divides by the CPU time of this thread (faiss runs in it with one
    OpenMP thread), so that other processes sharing the machine's cores while it
    runs do not count against it; on an idle machine the two rates are the same."""
    cpu = wall = float("inf")
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.thread_time()
        search(queries)
        cpu = min(cpu, time.thread_time() - started_cpu)
        wall = min(wall, time.perf_counter() - started)
    return Rate(len(queries) / max(cpu, 1e-9), len(queries) / wall)


@dataclass
class Row:
    size: int
    name: str
    default: bool
    qps_planted: float
    qps_families: float
    qps_all: float
    wall_qps_all: float
    recall: float
    bytes_per_hash: float
    build_s: float
    insert_visible_ms: float | None
    machine: str = ""

    def cells(self) -> list[str]:
        return [self.name + (" — default" if self.default else ""),
                f"{self.qps_planted:,.0f}", f"{self.qps_families:,.0f}",
                f"{self.qps_all:,.0f}", f"{self.wall_qps_all:,.0f}",
                f"{100 * self.recall:.1f}%",
                f"{self.bytes_per_hash:.1f}", f"{self.build_s:.1f}",
                "-" if self.insert_visible_ms is None else f"{self.insert_visible_ms:.1f}"]


def both(planted: float, families: float) -> float:
    """The rate over the whole query set, half planted and half in families."""
    return 2 / (1 / planted + 1 / families)


def make_row(size: int, name: str, default: bool, planted: Rate, families: Rate,
             found: float, per_hash: float, build: float, insert_ms: float | None) -> Row:
    return Row(size=size, name=name, default=default, qps_planted=planted.cpu,
               qps_families=families.cpu, qps_all=both(planted.cpu, families.cpu),
               wall_qps_all=both(planted.wall, families.wall), recall=found,
               bytes_per_hash=per_hash, build_s=build, insert_visible_ms=insert_ms)


def warm_up() -> None:
    """Load (or compile, the first time) the compiled loops, so that no figure below
    includes it."""
    rng = np.random.default_rng(2)
    index = HammingIndex.bulk(np.arange(5000), rng.integers(0, 2**64, (5000, 4),
                                                            dtype=np.uint64))
    index.add([5000], rng.integers(0, 2**64, (1, 4), dtype=np.uint64))
    index.search(rng.integers(0, 2**64, (2, 4), dtype=np.uint64), RADIUS)


def timed_halves(search: Callable[[np.ndarray], object], queries: np.ndarray,
                 repeat: int, count: int | None = None) -> tuple[Rate, Rate]:
    """Rates on the planted half and on the family half (the first `count` of each)."""
    half = len(queries) // 2
    count = half if count is None else count
    planted = rate(search, queries[:count], repeat)
    families = rate(search, queries[half:half + count], repeat)
    return planted, families


def faiss_flat(size: int, packed: np.ndarray, queries: np.ndarray, flat_queries: int,
               repeat: int) -> tuple[Row, list[set[int]]]:
    """The exact brute-force baseline, and the ground truth for every query."""
    started = time.perf_counter()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(packed)
    build = time.perf_counter() - started
    planted, families = timed_halves(lambda q: flat.range_search(q, RADIUS + 1), queries,
                                     repeat, flat_queries // 2)
    faiss.omp_set_num_threads(2)  # ground truth for every query, faster
    truth = results(*flat.range_search(queries, RADIUS + 1)[::2])
    faiss.omp_set_num_threads(1)
    row = make_row(size, "faiss IndexBinaryFlat (exact)", False, planted, families, 1.0,
                   packed.nbytes / size, build, None)
    return row, truth


def faiss_multi_hash(size: int, packed: np.ndarray, queries: np.ndarray, repeat: int,
                     truth: list[set[int]]) -> Row:
    """HMA's configuration: 16 tables of 16 bits, one flip each."""
    started = time.perf_counter()
    multi = faiss.IndexBinaryMultiHash(256, 16, 16)
    multi.nflip = 1
    multi.add(packed)
    build = time.perf_counter() - started
    planted, families = timed_halves(lambda q: multi.range_search(q, RADIUS + 1), queries,
                                     repeat)
    lims, _, labels = multi.range_search(queries, RADIUS + 1)
    return make_row(size, "faiss IndexBinaryMultiHash(256,16,16) nflip=1 (HMA)", False,
                    planted, families, recall(results(lims, labels), truth),
                    faiss.serialize_index_binary(multi).nbytes / size, build, None)


def takedown(size: int, name: str, chunk_bits: int | None, table_bits: int | None,
             words: np.ndarray, queries: np.ndarray, repeat: int,
             truth: list[set[int]]) -> Row:
    started = time.perf_counter()
    index = HammingIndex.bulk(np.arange(size, dtype=np.int64), words, chunk_bits, table_bits)
    build = time.perf_counter() - started
    segment = index.segments[0]
    found: list[set[int]] = []
    for batch in range(0, len(queries), 100):
        found.extend(ours_results(index, queries[batch:batch + 100]))
    planted, families = timed_halves(
        lambda q: [index.search(q[b:b + 100], RADIUS) for b in range(0, len(q), 100)],
        queries, repeat)
    fresh = exact_flips(np.random.default_rng(1), queries[0], 3)
    started = time.perf_counter()
    index.add([size + 1], fresh[None, :])
    visible = size + 1 in index.search(queries[:1], RADIUS).label
    insert_ms = (time.perf_counter() - started) * 1000
    assert visible
    default = (segment.chunk_bits == default_chunk_bits(size)
               and segment.table_bits == default_table_bits(size, segment.chunk_bits))
    return make_row(size, f"{name} (m={len(segment.layout)}, {segment.table_bits}-bit tables)",
                    default, planted, families, recall(found, truth), index.nbytes / size,
                    build, insert_ms)


def bench(size: int, queries: int, flat_queries: int, repeat: int) -> list[Row]:
    faiss.omp_set_num_threads(1)
    warm_up()
    words, query_words = dataset(size, queries)
    packed, query_packed = as_bytes(words), as_bytes(query_words)
    flat_row, truth = faiss_flat(size, packed, query_packed, flat_queries, repeat)
    rows = [flat_row, faiss_multi_hash(size, packed, query_packed, repeat, truth)]
    configs: list[tuple[str, int | None, int | None]] = [
        ("takedown MIH, 16 x 16-bit chunks", 16, None),
        ("takedown MIH, 11 x 23-24-bit chunks", 24, None),
        ("takedown MIH, 11 x 23-24-bit chunks, smaller tables", 24,
         default_table_bits(size, 24) - 1),
    ]
    rows += [takedown(size, name, chunk_bits, table_bits, words, query_words, repeat, truth)
             for name, chunk_bits, table_bits in configs]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--flat-queries", type=int, default=50,
                        help="queries timed on the brute-force baseline (it is slow)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed passes over the queries; the best counts")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per index row instead of tables")
    args = parser.parse_args()
    if not args.json:
        print(f"# Hamming range search, radius {RADIUS} — {machine()}")
    for size in args.sizes:
        rows = bench(size, args.queries, args.flat_queries, args.repeat)
        if args.json:
            for row in rows:
                row.machine = machine()
                print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                  for k, v in asdict(row).items()}), flush=True)
            continue
        print(f"\n{size:,} hashes, {args.queries} queries (half planted at 0..40 bits, "
              "half inside near-duplicate families)\n")
        print(table(["index", "queries/s planted", "queries/s in families", "queries/s all",
                     "queries/s all, wall clock", "recall", "bytes/hash", "build s",
                     "insert visible ms"],
                    [row.cells() for row in rows]), flush=True)


if __name__ == "__main__":
    main()
