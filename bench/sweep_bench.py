"""Sweep: with 1M media registered, how long to find every copy of a newly banked hash.

    .venv/bin/python -m bench.sweep_bench [--media 1000000]

A real SQLite database (takedown's schema) holds the media, their PDQ signals and
their content items; 40 copies of one picture are planted at PDQ distances 0..31 with
the rest random. Measured: the live index's cold start from the database (no media
is hashed again), then the sweep's lookup (index search + SQL from media to items) —
against the brute-force baseline a tool without an index runs: every stored hash
compared with numpy, and faiss IndexBinaryFlat.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy import insert

from bench.common import machine, table
from bench.index_bench import as_bytes, exact_flips
from takedown.cases.graph import ContentGraph
from takedown.cases.sweeps import Sweeper
from takedown.config import Settings
from takedown.index.hamming import distances
from takedown.store.tables import (
    BankEntryRow,
    ContentMediaRow,
    ContentRow,
    MediaRow,
    PlatformRow,
    SignalChangeRow,
    SignalRow,
)
from takedown.system import Takedown


def populate(system: Takedown, words: np.ndarray) -> None:
    now = datetime.now(UTC)
    hexes = [bytes(row).hex() for row in as_bytes(words)]
    with system.db.engine.begin() as conn:
        conn.execute(insert(PlatformRow), [{"id": 1, "name": "bench", "api_key_hash": "x",
                                            "webhook_url": "http://127.0.0.1:9",
                                            "webhook_secret": "s", "created_at": now}])
        for start in range(0, len(hexes), 100_000):
            ids = range(start + 1, min(len(hexes), start + 100_000) + 1)
            conn.execute(insert(MediaRow), [{"id": i, "sha256": f"{i:064x}", "size": 1,
                                             "mime": "image/jpeg", "created_at": now}
                                            for i in ids])
            conn.execute(insert(SignalRow), [{"id": i, "media_id": i, "signal_type": "pdq",
                                              "value": hexes[i - 1], "lookup": hexes[i - 1],
                                              "quality": 100} for i in ids])
            conn.execute(insert(SignalChangeRow), [{"kind": "media", "op": "add", "ref_id": i,
                                                    "at": now} for i in ids])
            conn.execute(insert(ContentRow), [{
                "id": i, "platform_id": 1, "external_id": f"post-{i}", "author_id": "a",
                "text": "", "created_at": now, "registered_at": now, "views": 0, "shares": 0,
                "views_per_hour": 0.0, "moderation_state": "visible"} for i in ids])
            conn.execute(insert(ContentMediaRow), [{"content_id": i, "media_id": i}
                                                   for i in ids])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=int, default=1_000_000)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    banned = rng.integers(0, 2**64, size=4, dtype=np.uint64)
    copies = np.array([exact_flips(rng, banned, d % 32) for d in range(40)])
    words = np.concatenate([rng.integers(0, 2**64, size=(args.media - 40, 4),
                                         dtype=np.uint64), copies])
    planted = set(range(args.media - 39, args.media + 1))  # media ids of the copies
    with tempfile.TemporaryDirectory() as scratch:
        system = Takedown(Settings(data_dir=Path(scratch), inprocess_workers=0))
        system.migrate()
        started = time.perf_counter()
        populate(system, words)
        fill = time.perf_counter() - started
        entry = BankEntryRow(id=1, bank="ncmec", signal_type="pdq",
                             value=bytes(as_bytes(banned[None, :])[0]).hex(), lookup="x")
        with system.db.transaction() as session:
            started = time.perf_counter()
            system.indexes.media.sync(session)
            cold = time.perf_counter() - started
            sweeper, graph = Sweeper(session, system.indexes, system.media_store), \
                ContentGraph(session)
            started = time.perf_counter()
            for _ in range(20):
                found = graph.carriers(sweeper.media_for_entry(entry, 31))
            sweep_ms = (time.perf_counter() - started) / 20 * 1000
        system.close()
    assert found == planted, (len(found), len(planted))
    started = time.perf_counter()
    for _ in range(5):
        near = np.nonzero(distances(words, np.broadcast_to(banned, words.shape)) <= 31)[0]
    numpy_ms = (time.perf_counter() - started) / 5 * 1000
    assert len(near) == 40
    flat = faiss.IndexBinaryFlat(256)
    flat.add(as_bytes(words))
    started = time.perf_counter()
    for _ in range(20):
        flat.range_search(as_bytes(banned[None, :]), 32)
    flat_ms = (time.perf_counter() - started) / 20 * 1000
    print(f"# Sweep over {args.media:,} registered media — {machine()}\n")
    print(f"database filled in {fill:.0f} s (not part of any figure)\n")
    print(table(["step", "time", "found"], [
        ["takedown: live index cold start from the database", f"{cold:.1f} s", "-"],
        ["takedown: find every copy of a banked hash (index + SQL to items)",
         f"{sweep_ms:.1f} ms", f"{len(found)}/40"],
        ["baseline: numpy brute force over every stored hash", f"{numpy_ms:.1f} ms", "40/40"],
        ["baseline: faiss IndexBinaryFlat range search", f"{flat_ms:.1f} ms", "40/40"],
    ]))


if __name__ == "__main__":
    main()
