"""The shared shape of an outbox table (actions, notifications): claim due rows with a
lease, then record each outcome — delivered, or failing with the error and a next
attempt after exponential backoff. Retried until delivered, never dropped.

Claiming is one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING:
on PostgreSQL concurrent workers skip each other's rows; on SQLite the statement runs
under BEGIN IMMEDIATE, which serialises writers. A worker that dies releases its rows
when the lease runs out.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import aliased

from takedown.clock import utcnow
from takedown.store.db import Database

BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 3600.0


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s ... up to an hour, with jitter so retries do not arrive in step."""
    delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.8, 1.0))


def claim_due(db: Database, table: Any, worker_id: str, batch: int, lease: timedelta,
              columns: Sequence[Any], in_order_of: Sequence[str] = (),
              where: Sequence[Any] = ()) -> list[Any]:
    """Lease up to `batch` due rows of `table` (most urgent first); returns `columns`.

    `in_order_of`: columns that name a target (e.g. platform, target type and id). A row
    is due only once every earlier row for the same target is delivered, so that after
    an outage a platform still receives `restrict` before the `remove` or `restore`
    that follows it, whatever each one's back-off. `where`: further conditions (a row
    that is not yet meant to be sent, e.g. a CyberTipline draft)."""
    now = utcnow()
    due = (
        select(table.id)
        .where(table.status != "delivered", table.next_attempt_at <= now,
               or_(table.lease_until.is_(None), table.lease_until < now),
               *_first_for_target(table, in_order_of), *where)
        .order_by(table.priority.desc(), table.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    with db.transaction() as session:
        return list(session.execute(
            update(table).where(table.id.in_(due))
            .values(lease_until=now + lease, claimed_by=worker_id, attempts=table.attempts + 1)
            .returning(*columns)
            .execution_options(synchronize_session=False)).all())


def _first_for_target(table: Any, in_order_of: Sequence[str]) -> list[Any]:
    if not in_order_of:
        return []
    earlier = aliased(table)
    return [~exists().where(
        *(getattr(earlier, c) == getattr(table, c) for c in in_order_of),
        earlier.status != "delivered", earlier.created_at < table.created_at)]


def record_outcome(db: Database, table: Any, worker_id: str, ids: list[Any],
                   error: str | None) -> None:
    """Delivered, or failing with `error` and a next attempt; only rows still leased to
    this worker are touched, so a lease taken over meanwhile is left alone."""
    now = utcnow()
    with db.transaction() as session:
        mine = [table.id.in_(ids), table.claimed_by == worker_id]
        if error is None:
            session.execute(update(table).where(*mine).values(
                status="delivered", delivered_at=now, lease_until=None, last_error=None)
                .execution_options(synchronize_session=False))
            return
        for row in session.scalars(select(table).where(*mine)):
            row.status = "failing"
            row.last_error = error[:2000]
            row.lease_until = None
            row.next_attempt_at = now + backoff(row.attempts)
