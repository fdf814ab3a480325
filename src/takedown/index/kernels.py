"""Compiled inner loops of the Hamming index (numba), over plain numpy arrays.

Imported lazily by `takedown.index.hamming` on the first build or search, so that
importing the index (every CLI start does) neither loads numba nor compiles. Each
function compiles on its first call and is cached on disk (`cache=True`, next to
this file in __pycache__); `nogil=True` lets other Python threads run meanwhile.
No function here uses more than one core.

Conventions: hashes are (n, 4) uint64 rows, most significant bit first; a chunk is
`width` bits starting at bit `offset`; its key is those bits as an integer. Table
entries are uint32: `position << ENTRY_SHIFT | extra`, where `extra` holds the
chunk-key bits just below the bits the table indexes (up to ENTRY_SHIFT of them).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped, unused-ignore]
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

ENTRY_SHIFT = 8  # low bits of a table entry: chunk-key bits the table dropped

PREFETCH_AHEAD = 32  # rows whose hash is requested before it is needed
U64 = np.uint64
jit = numba.njit(cache=True, nogil=True)


def _popcount_typer(typingctx: Any, value: Any) -> Any:
    """The CPU's popcount instruction (LLVM ctpop) on a uint64."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


_popcount: Any = intrinsic(_popcount_typer)


def _prefetch_typer(typingctx: Any, array: Any, index: Any) -> Any:
    """Ask the CPU to start loading array[index] (its first element, for a row of a 2-D
    array) into cache: a hint, never a fault, so the index needs no bounds check."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        where = [args[1]] + [zero] * (array_type.ndim - 1)
        pointer = cgutils.get_item_pointer(  # type: ignore[no-untyped-call, unused-ignore]
            context, builder, array_type, data, where, wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call, unused-ignore]
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0i8")  # read, keep in all cache levels, data
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(array, types.intp), codegen


prefetch: Any = intrinsic(_prefetch_typer)


@numba.njit(inline="always", nogil=True, cache=True)
def popcount(value: Any) -> Any:
    return _popcount(U64(value))


@numba.njit(inline="always", nogil=True, cache=True)
def key_of(words: Any, row: Any, offset: Any, width: Any) -> Any:
    """Bits offset .. offset+width of one hash row, as an integer (uint64)."""
    word = offset >> 6
    shift = offset & 63
    top = words[row, word] << U64(shift)
    if shift + width > 64:
        top |= words[row, word + 1] >> U64(64 - shift)
    return top >> U64(64 - width)


@numba.njit(inline="always", nogil=True, cache=True)
def distance(words: Any, row: Any, query: Any) -> Any:
    return (popcount(words[row, 0] ^ query[0]) + popcount(words[row, 1] ^ query[1])
            + popcount(words[row, 2] ^ query[2]) + popcount(words[row, 3] ^ query[3]))


@jit
def bucket_order(words: Any, offset: int, width: int, table_bits: int,
                 offsets: Any) -> Any:
    """A stable counting sort of the rows by the top `table_bits` bits of one chunk:
    fills `offsets` (2**table_bits + 1, zeroed) and returns the permutation."""
    n = words.shape[0]
    shift = U64(width - table_bits)
    for row in range(n):
        offsets[np.int64(key_of(words, row, offset, width) >> shift) + 1] += 1
    for b in range(1, offsets.shape[0]):
        offsets[b] += offsets[b - 1]
    cursor = offsets[:-1].copy()
    order = np.empty(n, np.int64)
    for row in range(n):
        bucket = np.int64(key_of(words, row, offset, width) >> shift)
        order[cursor[bucket]] = row
        cursor[bucket] += 1
    return order


@jit
def permute(words: Any, labels: Any, order: Any, words_out: Any, labels_out: Any) -> None:
    """words_out[i] = words[order[i]], and the same for labels."""
    for i in range(order.shape[0]):
        row = order[i]
        for w in range(words.shape[1]):
            words_out[i, w] = words[row, w]
        labels_out[i] = labels[row]


@jit
def fill_table(words: Any, offset: int, width: int, table_bits: int, offsets: Any,
               entries: Any, scratch: Any) -> None:
    """One chunk's bucket table: `offsets` (2**table_bits + 1, zeroed) and `entries`
    (n uint32: position and the dropped key bits), positions ascending per bucket.

    A two-level radix sort, so that no pass writes all over a large array: first the
    (bucket, entry) pairs are split into 256 parts by the bucket's top bits (into
    `scratch`, n uint64), then each part, whose buckets span a small range of
    `offsets` and `entries`, is placed by counting sort."""
    n = words.shape[0]
    drop = width - table_bits
    extra_bits = min(drop, ENTRY_SHIFT)
    extra_mask = U64((1 << extra_bits) - 1)
    extra_shift = U64(drop - extra_bits)
    udrop = U64(drop)
    low = U64(max(0, table_bits - 8))  # bucket bits below the part's
    parts = np.zeros((1 << (table_bits - np.int64(low))) + 1, np.int64)
    for row in range(n):
        bucket = key_of(words, row, offset, width) >> udrop
        parts[np.int64(bucket >> low) + 1] += 1
    for p in range(1, parts.shape[0]):
        parts[p] += parts[p - 1]
    cursor = parts[:-1].copy()
    for row in range(n):
        key = key_of(words, row, offset, width)
        bucket = key >> udrop
        part = np.int64(bucket >> low)
        scratch[cursor[part]] = ((bucket << U64(32)) | U64(row << ENTRY_SHIFT)
                                 | ((key >> extra_shift) & extra_mask))
        cursor[part] += 1
    for i in range(n):
        offsets[np.int64(scratch[i] >> U64(32)) + 1] += 1
    for b in range(1, offsets.shape[0]):
        offsets[b] += offsets[b - 1]
    for p in range(parts.shape[0] - 1):
        first = (p << np.int64(low))
        last = ((p + 1) << np.int64(low))
        place = offsets[first:last].astype(np.int64)
        for i in range(parts[p], parts[p + 1]):
            pair = scratch[i]
            slot = np.int64(pair >> U64(32)) - first
            entries[place[slot]] = np.uint32(pair & U64(0xFFFFFFFF))
            place[slot] += 1


@numba.njit(inline="always", nogil=True, cache=True)
def _reserve(array: Any, used: int, more: int) -> Any:
    """`array`, or a copy twice as large or more, with room for `more` after `used`."""
    if used + more <= array.shape[0]:
        return array
    bigger = np.empty(max(2 * array.shape[0], used + more), array.dtype)
    bigger[:used] = array[:used]
    return bigger


@jit
def search_segment(words: Any, offsets: Any, entries: Any, chunk_offset: Any,
                   chunk_width: Any, chunk_table: Any, chunk_flips: Any, masks: Any,
                   mask_flips: Any, queries: Any, radius: int,
                   visited: Any) -> tuple[Any, Any, Any]:
    """Every (query, position, distance) within `radius`, each pair once.

    Chunk c (c = 0 .. m-1) is probed at every bucket within chunk_flips[c] bit flips
    of the query's chunk: `masks` lists every flip pattern over the widest table,
    fewest flips first, `mask_flips[f]` how many patterns have at most f flips.
    Chunk 0 has no entries: the segment's rows are sorted by it, so its buckets are
    row ranges. Other chunks' entries carry the key bits below the table's, so a row
    whose chunk lies too far from the query's is skipped without reading its hash.
    `visited` (a zeroed bitset over rows, zeroed again on return) marks the rows
    whose distance is known, so a row found through several chunks is read once.

    Memory latency is the cost, so each query runs in passes whose loads do not
    depend on each other and whose loops do not branch on loaded data: bucket
    bounds for every chunk, then the entries that pass the key filter, then the
    rows not seen yet, then the distances of those rows.
    """
    chunks = chunk_offset.shape[0]
    probes = chunks * masks.shape[0]
    bucket_start = np.empty(probes, np.int64)
    bucket_stop = np.empty(probes, np.int64)
    bucket_budget = np.empty(probes, np.int64)
    chunk_start = np.empty(chunks + 1, np.int64)
    query_extra = np.zeros(chunks, np.int64)
    candidates = np.empty(4096, np.int64)
    rows = np.empty(4096, np.int64)
    out_query = np.empty(1024, np.int64)
    out_row = np.empty(1024, np.int64)
    out_dist = np.empty(1024, np.int32)
    found = 0
    for q in range(queries.shape[0]):
        query = queries[q]
        # Pass 1: the bounds of every bucket to read, all chunks.
        probed = 0
        for c in range(chunks):
            chunk_start[c] = probed
            flips = chunk_flips[c]
            if flips < 0:
                continue
            table_bits = U64(chunk_table[c])
            drop = chunk_width[c] - chunk_table[c]
            extra_bits = min(drop, ENTRY_SHIFT)
            key = key_of(queries, q, chunk_offset[c], chunk_width[c])
            query_extra[c] = np.int64((key >> U64(drop - extra_bits))
                                      & U64((1 << extra_bits) - 1))
            query_table = key >> U64(drop)
            for m in range(mask_flips[flips]):
                mask = U64(masks[m])
                if mask >> table_bits:
                    continue
                bucket = np.int64(query_table ^ mask)
                start = np.int64(offsets[c, bucket])
                bucket_start[probed] = start
                bucket_stop[probed] = offsets[c, bucket + 1]
                if c:  # the next pass reads there
                    prefetch(entries[c - 1], start)
                else:
                    prefetch(words, start)
                bucket_budget[probed] = flips - np.int64(popcount(mask))
                probed += 1
        chunk_start[chunks] = probed
        # Pass 2: chunk 0's rows, then other chunks' entries that pass the filter.
        seen = 0
        for b in range(chunk_start[0], chunk_start[1]):
            rows = _reserve(rows, seen, bucket_stop[b] - bucket_start[b])
            for row in range(bucket_start[b], bucket_stop[b]):
                rows[seen] = row
                visited[row >> 6] |= U64(1) << U64(row & 63)
                seen += 1
        passed = 0
        for c in range(1, chunks):
            extra = query_extra[c]
            for b in range(chunk_start[c], chunk_start[c + 1]):
                budget = bucket_budget[b]
                candidates = _reserve(candidates, passed, bucket_stop[b] - bucket_start[b])
                for k in range(bucket_start[b], bucket_stop[b]):
                    entry = np.int64(entries[c - 1, k])
                    candidates[passed] = entry >> ENTRY_SHIFT
                    passed += np.int64(popcount((entry ^ extra) & 0xFF)) <= budget
        # Pass 3: rows not seen yet.
        rows = _reserve(rows, seen, passed)
        for i in range(passed):
            row = candidates[i]
            bit = U64(1) << U64(row & 63)
            old = visited[row >> 6]
            visited[row >> 6] = old | bit
            rows[seen] = row
            seen += (old & bit) == 0
        # Pass 4: their distances.
        out_query = _reserve(out_query, found, seen)
        out_row = _reserve(out_row, found, seen)
        out_dist = _reserve(out_dist, found, seen)
        for i in range(seen):
            row = rows[i]
            prefetch(words, rows[min(i + PREFETCH_AHEAD, seen - 1)])
            dist = distance(words, row, query)
            out_query[found] = q
            out_row[found] = row
            out_dist[found] = dist
            found += dist <= radius
        for i in range(seen):
            visited[rows[i] >> 6] = 0
    return out_query[:found].copy(), out_row[:found].copy(), out_dist[:found].copy()


@jit
def search_flat(words: Any, queries: Any, radius: int) -> tuple[Any, Any, Any]:
    """Brute force: every (query, row, distance) within `radius`."""
    capacity = 1024
    out_query = np.empty(capacity, np.int64)
    out_row = np.empty(capacity, np.int64)
    out_dist = np.empty(capacity, np.int32)
    found = 0
    for q in range(queries.shape[0]):
        query = queries[q]
        for row in range(words.shape[0]):
            dist = distance(words, row, query)
            if dist <= radius:
                out_query = _reserve(out_query, found, 1)
                out_row = _reserve(out_row, found, 1)
                out_dist = _reserve(out_dist, found, 1)
                out_query[found] = q
                out_row[found] = row
                out_dist[found] = dist
                found += 1
    return out_query[:found].copy(), out_row[:found].copy(), out_dist[:found].copy()
