"""The worker loop: in threads inside the API process by default, or as
`takedown worker` processes in production (several per host, many hosts). Each
pass delivers actions and notifications and, every few seconds, escalates overdue
cases and does the legal work (CyberTipline reports, evidence purges, statements of
reasons for the DSA Transparency Database); all are safe to run from any number of
workers at once."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from takedown.pipeline.delivery import ActionDeliverer
from takedown.pipeline.escalation import EscalationScheduler, NotificationSender

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, deliverer: ActionDeliverer, threads: int, poll_interval_s: float,
                 sender: NotificationSender | None = None,
                 scheduler: EscalationScheduler | None = None,
                 escalation_check_s: float = 5.0,
                 anchor: Callable[[], int] | None = None,
                 legal: Callable[[str], int] | None = None,
                 statements: Callable[[str], int] | None = None) -> None:
        self.deliverer = deliverer
        self.legal = legal  # pipeline.tipline.TiplineSender.run_once
        self.statements = statements  # pipeline.statements.StatementSender.run_once
        self.anchor = anchor  # audit.AuditAnchor.run_once: cheap until it is due
        self.sender = sender
        self.scheduler = scheduler
        self.escalation_check_s = escalation_check_s
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
        next_check = next_legal = 0.0
        while not self._stop.is_set():
            done = self._attempt(lambda: self.deliverer.run_once(worker_id), "delivery")
            if self.sender is not None:
                done += self._attempt(lambda: self.sender.run_once(worker_id),  # type: ignore[union-attr]
                                      "notification")
            if self.scheduler is not None and time.monotonic() >= next_check:
                next_check = time.monotonic() + self.escalation_check_s
                done += self._attempt(self.scheduler.run_once, "escalation")
            if self.legal is not None and time.monotonic() >= next_legal:
                next_legal = time.monotonic() + self.escalation_check_s
                done += self._attempt(lambda: self.legal(worker_id),  # type: ignore[misc]
                                      "cybertipline")
                if self.statements is not None:  # same cadence: no one waits on it
                    done += self._attempt(lambda: self.statements(worker_id),  # type: ignore[misc]
                                          "transparency database")
            if self.anchor is not None:
                self._attempt(self.anchor, "audit anchor")  # no queue behind it: not `done`
            if done == 0:
                self._wake.wait(self.poll_interval_s)
                self._wake.clear()

    @staticmethod
    def _attempt(step: Callable[[], int], name: str) -> int:
        try:
            return step()
        except Exception:  # a worker must outlive one bad pass; leases and locks retry it
            log.exception("%s pass failed", name)
            return 0

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._running:
            thread.join(timeout=10)
        self._running.clear()
