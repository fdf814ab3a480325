"""The worker loop: in threads inside the API process by default, or as
`takedown worker` processes in production (several per host, many hosts)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from takedown.pipeline.delivery import ActionDeliverer

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, deliverer: ActionDeliverer, threads: int, poll_interval_s: float) -> None:
        self.deliverer = deliverer
        self.threads = threads
        self.poll_interval_s = poll_interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._running: list[threading.Thread] = []
        self.prefix = f"{socket.gethostname()}:{os.getpid()}"

    def wake(self) -> None:
        """New work was committed in this process: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        for n in range(self.threads):
            thread = threading.Thread(target=self.run, args=(f"{self.prefix}:{n}",),
                                      name=f"takedown-worker-{n}", daemon=True)
            thread.start()
            self._running.append(thread)

    def run(self, worker_id: str | None = None) -> None:
        worker_id = worker_id or f"{self.prefix}:{uuid.uuid4().hex[:8]}"
        while not self._stop.is_set():
            try:
                done = self.deliverer.run_once(worker_id)
            except Exception:  # a worker must outlive one bad batch; the lease retries it
                log.exception("delivery batch failed")
                done = 0
            if done == 0:
                self._wake.wait(self.poll_interval_s)
                self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._running:
            thread.join(timeout=10)
        self._running.clear()
