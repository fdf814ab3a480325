"""Intake under a flood: durable reports per second and their latency, beside the same
server's `/healthz` (the baseline: what the HTTP stack alone does on this machine in
this run), and upload screening of a 1 MP JPEG.

    .venv/bin/python -m bench.intake_bench [--clients 16] [--seconds 10]
        [--backends sqlite postgresql]

`takedown serve` runs as its own process on the embedded default (SQLite) and on
PostgreSQL (127.0.0.1:5432, database `test`, a schema of its own), with its in-process
workers delivering to a webhook sink in this process. Reports are the flood a viral
item brings: most are ordinary users' reports on the one item (or its reposts), one
in twenty is a credible report (the depicted person) on an item of its own; the
credible ones' latency is shown apart, since they must not wait behind the flood.
Every report answered 202 is stored before the answer (the server commits first).

Targets (issue 10): reports/s >= 0.6 x /healthz in the same run, p99 <= 100 ms;
screening p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from bench.common import machine, table
from takedown.demo.media import generated_photo
from takedown.server import BackgroundServer, free_port

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
WHEN = "2020-01-20T10:00:00Z"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class Load:
    """`clients` threads, each sending requests made by `make(n)` for `seconds`."""

    def __init__(self, url: str, clients: int, seconds: float) -> None:
        self.url, self.clients, self.seconds = url, clients, seconds

    def run(self, make: Callable[[int], tuple[str, str, dict[str, Any] | None]]
            ) -> tuple[float, dict[str, list[float]], int]:
        latencies: dict[str, list[float]] = {}
        errors = 0
        lock = threading.Lock()
        counter = iter(range(10**9))
        stop = time.perf_counter() + self.seconds

        def client() -> None:
            nonlocal errors
            with httpx.Client(base_url=self.url, timeout=60) as http:
                while time.perf_counter() < stop:
                    with lock:
                        n = next(counter)
                    label, path, body = make(n)
                    started = time.perf_counter()
                    response = http.post(path, json=body) if body is not None else http.get(path)
                    took = (time.perf_counter() - started) * 1000
                    with lock:
                        if response.status_code >= 300:
                            errors += 1
                        latencies.setdefault(label, []).append(took)

        began = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        done = sum(len(v) for v in latencies.values())
        return done / elapsed, latencies, errors


@contextmanager
def sink() -> Iterator[str]:
    """A platform webhook endpoint that acknowledges everything."""
    app = FastAPI()

    @app.post("/hook")
    def hook() -> dict[str, bool]:
        return {"ok": True}

    with BackgroundServer(app, free_port()) as server:
        yield f"{server.url}/hook"


@contextmanager
def pg_schema() -> Iterator[str]:
    schema = f"intake_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (f"postgresql+psycopg://postgres@127.0.0.1:5432/test"
               f"?options=-csearch_path%3D{schema}")
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def server(database_url: str, hook: str, src: str | None = None
           ) -> Iterator[tuple[str, str]]:
    """`takedown serve` in its own process (from the source tree `src`, e.g. a checkout
    of an earlier commit, if given); yields (base URL, platform API key)."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "TAKEDOWN_DATA_DIR": scratch, "TAKEDOWN_DATABASE_URL": database_url,
               "TAKEDOWN_LOG_FORMAT": "text",
               # a load test: the flood comes from one address on purpose
               "TAKEDOWN_REPORT_RATE_LIMIT": "off", "TAKEDOWN_REPORT_RATE_LIMIT_PER_CONTENT": "off"}
        if src:
            env["PYTHONPATH"] = src
        cli = [sys.executable, "-m", "takedown.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        added = subprocess.run([*cli, "platform", "add", "bench", "--webhook-url", hook],
                               env=env, check=True, capture_output=True, text=True).stdout
        key = next(line.split(":", 1)[1].strip() for line in added.splitlines()
                   if line.lower().startswith("api key"))
        port = free_port()
        process = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, process)
            yield url, key
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("takedown serve exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("takedown serve did not start")


def register(http: httpx.Client, key: str, content_id: str, jpeg: bytes | None = None,
             repost_of: str | None = None) -> float:
    body: dict[str, Any] = {"content_id": content_id, "author_id": f"a-{content_id}",
                            "created_at": WHEN}
    if jpeg is not None:
        body["media"] = [{"data_base64": base64.b64encode(jpeg).decode()}]
    if repost_of:
        body["repost_of"] = repost_of
    started = time.perf_counter()
    response = http.post("/v1/content", json=body, headers={"X-Api-Key": key})
    took = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.text
    return took


def report_body(n: int, credible_items: int, every: int) -> tuple[str, str, dict[str, Any]]:
    if every and n % every == 0:
        item = f"own{(n // every) % credible_items}"
        return "credible", "/v1/reports", {"content_ids": [item],
                                           "category": "child_sexual_abuse",
                                           "reporter_relation": "depicted_person"}
    item = "viral" if n % 3 else f"viral-rp{n % 50}"
    return "flood", "/v1/reports", {"content_ids": [item], "category": "child_sexual_abuse",
                                    "reporter_relation": "other_user",
                                    "text": f"report {n}"}


def run_backend(name: str, database_url: str, hook: str, args: argparse.Namespace,
                src: str | None = None) -> list[list[object]]:
    with server(database_url, hook, src) as (url, key), httpx.Client(base_url=url,
                                                                    timeout=60) as http:
        register(http, key, "viral", generated_photo(1, (640, 480)))
        for n in range(50):
            register(http, key, f"viral-rp{n}", repost_of="viral")
        credible_items = 400
        for n in range(credible_items):
            register(http, key, f"own{n}", generated_photo(1000 + n, (320, 240)))
        # Screening first, on an idle server: after the flood, the workers are still
        # hashing the credible reports' references for a while.
        screening = [register(http, key, f"upload{n}", generated_photo(5000 + n, (1155, 866)))
                     for n in range(args.uploads)]
        load = Load(url, args.clients, args.seconds)
        health_rate, health, _ = load.run(lambda n: ("healthz", "/healthz", None))
        report_rate, reports, errors = load.run(
            lambda n: report_body(n, credible_items, args.credible_every))
    everything = [v for values in reports.values() for v in values]
    ratio = report_rate / health_rate if health_rate else 0.0
    rows: list[list[object]] = [
        [name, "GET /healthz (baseline)", f"{health_rate:,.0f}/s",
         f"{statistics.median(health['healthz']):.1f}",
         f"{percentile(health['healthz'], 0.99):.1f}", ""],
        [name, "POST /v1/reports, all", f"{report_rate:,.0f}/s ({ratio:.2f}x)",
         f"{statistics.median(everything):.1f}", f"{percentile(everything, 0.99):.1f}",
         f">=0.6x, p99<=100; {errors} non-2xx"],
        [name, f"  of which credible (1 in {args.credible_every})", "",
         f"{statistics.median(reports.get('credible', [0])):.1f}",
         f"{percentile(reports.get('credible', []), 0.99):.1f}", "p99<=100"],
        [name, "POST /v1/content, 1 MP JPEG, 1 client", f"{len(screening)} uploads",
         f"{statistics.median(screening):.1f}", f"{percentile(screening, 0.99):.1f}",
         "p99<=20"],
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--credible-every", type=int, default=20,
                        help="one report in this many is credible (0: none)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--before", metavar="SRC",
                        help="also run the server from this source tree (e.g. the src/ of a "
                             "checkout of an earlier commit), labelled 'before'")
    args = parser.parse_args()
    print(f"intake_bench: {machine()}; {args.clients} clients, {args.seconds:.0f} s per phase")
    rows: list[list[object]] = []
    trees: list[tuple[str, str | None]] = [("", None)]
    if args.before:
        trees.insert(0, ("before: ", args.before))
    with sink() as hook:
        for label, src in trees:
            for backend in args.backends:
                if backend == "sqlite":
                    with tempfile.TemporaryDirectory() as scratch:
                        db = f"sqlite:///{Path(scratch) / 'takedown.db'}"
                        rows += run_backend(f"{label}SQLite", db, hook, args, src)
                else:
                    with pg_schema() as db:
                        rows += run_backend(f"{label}PostgreSQL", db, hook, args, src)
    print(table(["backend", "what", "rate", "p50 ms", "p99 ms", "target"], rows))


if __name__ == "__main__":
    main()
