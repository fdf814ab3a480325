"""The second step of a trusted report, off the request path: compute the references
of the reported files (about 65 hashes of edited versions of a picture, every frame of
a video: up to seconds), then hide the perceptual copies they find and hold the
references in `under_review`.

The report is stored, and what it reaches hidden, before it is acknowledged; this
step is best effort on top. It runs on a thread of its own so that a flood of reports
never waits for hashing, and the credible report in the flood is answered at once. A
process that dies with reports still queued loses nothing: a catch-up pass finds open,
restricted cases whose credible files have no references yet (and the decision's
sweep would find the copies in any case).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable

from sqlalchemy import select

from takedown.cases.enforcement import credible
from takedown.cases.intake import ReportIntake
from takedown.cases.sweeps import References, Sweeper
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import CaseStatus, MediaVia
from takedown.index.live import Indexes
from takedown.media.storage import MediaStore
from takedown.store.db import Database
from takedown.store.tables import CaseMediaRow, CaseRow, MediaRow

log = logging.getLogger(__name__)
OPEN = [s.value for s in CaseStatus if not s.is_closed]
CATCH_UP_BATCH = 20


class CopyHunt:
    def __init__(self, db: Database, policy: Policy, store: MediaStore, indexes: Indexes,
                 wake: Callable[[], None], catch_up_s: float = 30.0) -> None:
        self.db, self.policy, self.store, self.indexes = db, policy, store, indexes
        self.wake = wake
        self.catch_up_s = catch_up_s
        # Report ids; an Event to set once what came before is done; None to stop.
        self._queue: queue.Queue[str | threading.Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._settled: dict[int, int] = {}  # case -> event count when it needed nothing

    # --- the thread ----------------------------------------------------------------

    def enqueue(self, report_id: str) -> None:
        self.start()
        self._queue.put(report_id)

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="takedown-copies",
                                                daemon=True)
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def drain(self, timeout_s: float = 120.0) -> None:
        """Wait until every report queued so far is done (tests, orderly shutdown)."""
        if self._thread is None:
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout_s)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.catch_up_s)
            except queue.Empty:
                self._attempt(self.catch_up)
                continue
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            self._attempt(functools.partial(self.for_report, item))

    @staticmethod
    def _attempt(step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:  # best effort: the catch-up pass or the decision's sweep retries
            log.exception("finding copies failed")

    # --- the work ------------------------------------------------------------------

    def for_report(self, report_id: str) -> None:
        with self.db.transaction() as s:
            case_id, files = ReportIntake(s, self.policy).files_to_hash(report_id)
            missing = References(s, self.store).missing(files)
        if missing:
            self._hide(case_id, missing)

    def catch_up(self) -> int:
        """Open, restricted cases whose credible files still lack references: a report
        queued in a process that died. Returns how many cases were handled."""
        handled = 0
        for case_id, events in self._candidates():
            with self.db.transaction() as s:
                state = ReportIntake(s, self.policy).book.state(case_id)
                files = credible(s, self.policy, case_id, state)[1]
                missing = References(s, self.store).missing(files)
            if missing:
                self._hide(case_id, missing)
                handled += 1
            else:
                self._settled[case_id] = events
        return handled

    def _candidates(self) -> list[tuple[int, int]]:
        with self.db.transaction() as s:
            rows = s.execute(
                select(CaseRow.id, CaseRow.event_count, CaseRow.priority).distinct()
                .join(CaseMediaRow, CaseMediaRow.case_id == CaseRow.id)
                .join(MediaRow, MediaRow.id == CaseMediaRow.media_id)
                .where(CaseRow.status.in_(OPEN), CaseRow.restricted.is_(True),
                       CaseMediaRow.via != MediaVia.COPY.value,
                       MediaRow.references_at.is_(None))
                .order_by(CaseRow.priority.desc()).limit(CATCH_UP_BATCH * 5)).all()
        return [(r.id, r.event_count) for r in rows
                if self._settled.get(r.id) != r.event_count][:CATCH_UP_BATCH]

    def _hide(self, case_id: int, missing: set[int]) -> None:
        References.compute_missing(self.db, self.store, missing)
        with self.db.transaction() as s:
            sweeper = Sweeper(s, self.indexes, self.store, compute=True)
            ReportIntake(s, self.policy, sweeper).hide_copies(case_id)
        self.wake()
