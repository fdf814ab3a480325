"""The statements worker: sends statements of reasons to the EU DSA Transparency
Database (legal.tdb) from their outbox (store.tables.StatementRow), up to 100 a call.

A statement ends `delivered` once the database has it (201, or it held the puid
already), or `rejected` when the database refused it for itself: its message is kept
for the console, and it is not sent again until a person re-queues it. When the whole
call fails (no answer, 401, 429, 5xx) the batch stays `pending` and is tried again
after a back-off. Each answer is committed before the next call, and a crash between
the database's answer and that commit only means the batch goes again: the database
keeps one statement per puid, and answers those it holds as such.

Off unless configured (TAKEDOWN_DSA_TDB_URL and _TOKEN): statements then wait,
pending, and the backlog goes when it is turned on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from takedown.clock import utcnow
from takedown.config import Settings
from takedown.legal.tdb import (
    MAX_BATCH,
    Outcome,
    StatementOutcome,
    TransparencyDatabase,
    TransparencyUnavailable,
)
from takedown.pipeline.outbox import backoff, claim_due, record_outcome
from takedown.store.db import Database
from takedown.store.tables import StatementRow

log = logging.getLogger(__name__)
# One pass sends at most this many batches, so that a backlog of thousands does not
# hold up the worker's other duties; the next pass goes on.
MAX_BATCHES_PER_PASS = 20
PENDING, REJECTED = "pending", "rejected"


class StatementSender:
    def __init__(self, db: Database, settings: Settings,
                 client: Callable[[], TransparencyDatabase] | None = None,
                 batch: int = MAX_BATCH) -> None:
        self.db = db
        self.settings = settings
        self._client = client
        self.batch = min(batch, MAX_BATCH)
        # A lease that runs out during a slow call only lets another worker send the
        # batch again, which the puids make harmless.
        self.lease = timedelta(seconds=settings.lease_s)

    @property
    def enabled(self) -> bool:
        return self._client is not None or self.settings.dsa_tdb_configured

    def client(self) -> TransparencyDatabase:
        if self._client is not None:
            return self._client()
        s = self.settings
        return TransparencyDatabase(s.dsa_tdb_url, s.dsa_tdb_token.get_secret_value(),
                                    timeout_s=s.dsa_tdb_timeout_s)

    def run_once(self, worker_id: str) -> int:
        """Send what is due; returns how many statements were attempted."""
        if not self.enabled:
            return 0
        rows = self._claim(worker_id)
        if not rows:
            return 0  # the usual pass: no client, no connection
        attempted = 0
        with self.client() as tdb:
            for _ in range(MAX_BATCHES_PER_PASS):
                attempted += len(rows)
                if not self.send(tdb, worker_id, rows):
                    break  # the database is not answering: later, not batch after batch
                if len(rows) < self.batch or not (rows := self._claim(worker_id)):
                    break
        return attempted

    def _claim(self, worker_id: str) -> dict[str, dict[str, Any]]:
        claimed = claim_due(self.db, StatementRow, worker_id, self.batch, self.lease,
                            (StatementRow.puid, StatementRow.body),
                            where=[StatementRow.status == PENDING])
        return {puid: body for puid, body in claimed}

    def send(self, tdb: TransparencyDatabase, worker_id: str,
             rows: Mapping[str, dict[str, Any]]) -> bool:
        """Send claimed statements (puid -> body) until each has an outcome; False when
        the database did not take the call (the rest wait for their back-off)."""
        waiting = dict(rows)
        while waiting:
            try:
                result = tdb.send(list(waiting.values()))
            except TransparencyUnavailable as exc:
                return self._failing(worker_id, list(waiting),
                                     f"the Transparency Database did not answer: {exc}")
            if result.failure is not None:
                return self._failing(worker_id, list(waiting), result.failure)
            # By position, not by the body's puid: the row is what is recorded.
            outcomes = dict(zip(waiting, result.outcomes, strict=True))
            self.record(worker_id, outcomes)
            unsettled = [p for p, o in outcomes.items() if o.outcome is Outcome.NOT_STORED]
            if len(unsettled) == len(waiting):  # refused, naming none: do not loop on it
                return self._failing(worker_id, unsettled,
                                     "HTTP 422 naming none of the batch's statements")
            # Refused along with others: nothing of theirs was stored, so at once.
            waiting = {puid: waiting[puid] for puid in unsettled}
        return True

    def record(self, worker_id: str, outcomes: Mapping[str, StatementOutcome]) -> None:
        """The answer's outcomes, committed before the next call (only for the rows this
        worker still holds: a lease taken over meanwhile is the other worker's)."""
        delivered = [p for p, o in outcomes.items()
                     if o.outcome in (Outcome.DELIVERED, Outcome.ALREADY_THERE)]
        if delivered:
            record_outcome(self.db, StatementRow, worker_id, delivered, None)
        rejected = {p: o.error or "rejected" for p, o in outcomes.items()
                    if o.outcome is Outcome.REJECTED}
        if not rejected:
            return
        with self.db.transaction() as s:
            for row in s.scalars(select(StatementRow).where(
                    StatementRow.puid.in_(list(rejected)),
                    StatementRow.claimed_by == worker_id)):
                row.status, row.lease_until = REJECTED, None
                row.last_error = rejected[row.puid][:2000]
        log.warning("the Transparency Database rejected %d statement(s): %s",
                    len(rejected), ", ".join(sorted(rejected)))

    def _failing(self, worker_id: str, puids: list[str], error: str) -> bool:
        """The call failed as a whole: the rows stay pending (the claim takes only
        pending ones) with the error and a next attempt after a back-off."""
        now = utcnow()
        with self.db.transaction() as s:
            for row in s.scalars(select(StatementRow).where(
                    StatementRow.puid.in_(puids), StatementRow.claimed_by == worker_id)):
                row.last_error, row.lease_until = error[:2000], None
                row.next_attempt_at = now + backoff(row.attempts)
        log.warning("%d statement(s) not sent: %s", len(puids), error)
        return False

