"""Shared bits for the benchmarks: timing and a machine description."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            "every figure on one core")


def per_second(count: int, work: Callable[[], object], min_seconds: float = 1.0) -> float:
    """Items per second for `work`, which processes `count` items, repeated for at
    least `min_seconds`."""
    done, started = 0, time.perf_counter()
    while True:
        work()
        done += count
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed


def table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
