"""Intake workers: work received reports into their cases, most urgent first.

A report is acknowledged once its row in `report_inbox` is committed (one small
insert: a flood of reports is answered as fast as the server answers anything). The
workers here then do the rest — find or open the case, link the content and files,
append the events, restrict first when the reporter is trusted — one report per
transaction, marking the inbox row done in the same transaction, so that each report
is worked in exactly once even if a worker dies (its lease runs out and another takes
the row). The inbox is claimed by urgency (category severity x the reporter's
relation), so the depicted person's report in a flood of ordinary ones goes first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from takedown.cases.intake import ReportIntake
from takedown.cases.sweeps import Sweeper
from takedown.clock import utcnow
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import Category, Relation
from takedown.pipeline.copies import CopyHunt
from takedown.pipeline.outbox import claim_due, record_outcome
from takedown.store.db import Database, is_transient
from takedown.store.tables import ReportInboxRow

log = logging.getLogger(__name__)
RETRIES = 4


class IntakeWorker:
    def __init__(self, db: Database, policy: Policy, sweeper: Callable[[Session], Sweeper],
                 copies: CopyHunt, wake: Callable[[], None], *, batch: int = 50,
                 lease_s: float = 60.0, poll_interval_s: float = 0.25) -> None:
        self.db, self.policy, self.sweeper = db, policy, sweeper
        self.copies, self.wake_delivery = copies, wake
        self.batch, self.lease = batch, timedelta(seconds=lease_s)
        self.poll_interval_s = poll_interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, worker_id: str) -> int:
        """Work in one claimed batch, most urgent first; returns how many reports were
        claimed. Reports about the same content (the flood a viral item brings) are
        worked in together."""
        claimed = claim_due(self.db, ReportInboxRow, worker_id, self.batch, self.lease,
                            (ReportInboxRow.id, ReportInboxRow.submission,
                             ReportInboxRow.priority, ReportInboxRow.created_at))
        claimed.sort(key=lambda r: (-r.priority, r.created_at))
        groups: dict[tuple[object, ...], list[str]] = {}
        for row in claimed:
            groups.setdefault(same_content(row.submission), []).append(row.id)
        trusted = {row.id for row in claimed if self._restricts_first(row.submission)}
        for ids in groups.values():
            self._work_in(ids, worker_id, trusted)
        if claimed:
            self.wake_delivery()
        return len(claimed)

    def process_all(self, worker_id: str = "inline") -> int:
        """Work in everything due now, in this thread (tests; processes without workers)."""
        total = 0
        while (done := self.run_once(worker_id)) > 0:
            total += done
        return total

    def _restricts_first(self, submission: dict[str, object]) -> bool:
        """Whether the policy trusts this report to hide before review: only then are
        its files' references worth computing now (pipeline.copies)."""
        rules = self.policy.for_category(Category(str(submission["category"])))
        return rules.restrict_first and \
            Relation(str(submission["relation"])) in rules.restrict_first_relations

    def _work_in(self, report_ids: list[str], worker_id: str, trusted: set[str]) -> None:
        try:
            self._in_one_transaction(report_ids, worker_id)
        except Exception:
            if len(report_ids) > 1:  # one bad report must not hold up the rest
                for report_id in report_ids:
                    self._work_in([report_id], worker_id, trusted)
                return
            log.exception("working in report %s failed", report_ids[0])
            record_outcome(self.db, ReportInboxRow, worker_id, report_ids,
                           "working the report into its case failed; see the logs")
            return
        for report_id in report_ids:
            if report_id in trusted:
                self.copies.enqueue(report_id)

    def _in_one_transaction(self, report_ids: list[str], worker_id: str) -> None:
        for attempt in range(RETRIES):
            try:
                with self.db.transaction() as s:
                    rows = [row for row in (s.get(ReportInboxRow, i) for i in report_ids)
                            if row is not None and row.status != "delivered"
                            and row.claimed_by == worker_id]  # else done after a lost lease
                    if not rows:
                        return
                    ReportIntake(s, self.policy, self.sweeper(s)).work_in(rows)
                    now = utcnow()
                    for row in rows:
                        row.status, row.delivered_at = "delivered", now
                        row.lease_until, row.last_error = None, None
                return
            except OperationalError as exc:  # a deadlock PostgreSQL broke: run it again
                if not is_transient(exc) or attempt == RETRIES - 1:
                    raise


    # --- the thread ----------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self, worker_id: str) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(worker_id,),
                                        name="takedown-intake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once(worker_id)
            except Exception:  # the loop must outlive one bad pass; leases retry it
                log.exception("intake pass failed")
                done = 0
            if done == 0:
                self._wake.wait(self.poll_interval_s)
                self._wake.clear()


def same_content(submission: dict[str, object]) -> tuple[object, ...]:
    """Reports that name the same content, in the same category, are worked in together."""
    return (submission.get("platform"), submission.get("category"),
            tuple(sorted(map(str, submission.get("content_ids") or []))),  # type: ignore[call-overload]
            tuple(sorted(map(str, submission.get("urls") or []))),  # type: ignore[call-overload]
            tuple(sorted(str(h) for h in submission.get("hashes") or [])))  # type: ignore[attr-defined]
