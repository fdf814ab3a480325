"""Action delivery: claim due actions, POST them signed to the platform, record the
outcome. Retried with exponential backoff until the platform answers 2xx.

Claiming is one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING:
on PostgreSQL concurrent workers skip each other's rows; on SQLite the statement
runs under BEGIN IMMEDIATE, which serialises writers. A claim is a lease: a worker
that dies releases its rows when the lease runs out. The platform deduplicates on
action_id, so a rare second send after a lost lease is harmless by contract.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import or_, select, update

from takedown.clock import utcnow
from takedown.platform.webhooks import body_for, signed_headers
from takedown.store.db import Database
from takedown.store.tables import ActionRow, PlatformRow

BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 3600.0


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s ... up to an hour, with jitter so retries do not arrive in step."""
    delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.8, 1.0))


@dataclass(frozen=True)
class Claimed:
    id: str
    platform_id: int
    payload: dict[str, object]


class ActionDeliverer:
    def __init__(self, db: Database, *, batch: int = 100, lease_s: float = 60.0,
                 timeout_s: float = 10.0) -> None:
        self.db = db
        self.batch = batch
        self.lease = timedelta(seconds=lease_s)
        self.http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def claim(self, worker_id: str) -> list[Claimed]:
        now = utcnow()
        due = (
            select(ActionRow.id)
            .where(ActionRow.status != "delivered", ActionRow.next_attempt_at <= now,
                   or_(ActionRow.lease_until.is_(None), ActionRow.lease_until < now))
            .order_by(ActionRow.priority.desc(), ActionRow.created_at)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        with self.db.transaction() as session:
            rows = session.execute(
                update(ActionRow).where(ActionRow.id.in_(due))
                .values(lease_until=now + self.lease, claimed_by=worker_id,
                        attempts=ActionRow.attempts + 1)
                .returning(ActionRow.id, ActionRow.platform_id, ActionRow.payload)
                .execution_options(synchronize_session=False)).all()
        return [Claimed(r.id, r.platform_id, r.payload) for r in rows]

    def run_once(self, worker_id: str) -> int:
        """Deliver one claimed batch; returns how many actions were attempted."""
        claimed = self.claim(worker_id)
        by_platform: dict[int, list[Claimed]] = defaultdict(list)
        for action in claimed:
            by_platform[action.platform_id].append(action)
        for platform_id, actions in by_platform.items():
            self._send(worker_id, platform_id, actions)
        return len(claimed)

    def _send(self, worker_id: str, platform_id: int, actions: list[Claimed]) -> None:
        with self.db.transaction() as session:
            platform = session.get(PlatformRow, platform_id)
            assert platform is not None  # actions reference platforms by foreign key
            url, secret = platform.webhook_url, platform.webhook_secret
        body = body_for([a.payload for a in actions])
        error = None
        try:
            response = self.http.post(url, content=body, headers=signed_headers(secret, body))
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._record(worker_id, [a.id for a in actions], error)

    def _record(self, worker_id: str, ids: list[str], error: str | None) -> None:
        now = utcnow()
        with self.db.transaction() as session:
            mine = [ActionRow.id.in_(ids), ActionRow.claimed_by == worker_id]
            if error is None:
                session.execute(update(ActionRow).where(*mine).values(
                    status="delivered", delivered_at=now, lease_until=None, last_error=None)
                    .execution_options(synchronize_session=False))
                return
            for row in session.scalars(select(ActionRow).where(*mine)):
                row.status = "failing"
                row.last_error = error
                row.lease_until = None
                row.next_attempt_at = now + backoff(row.attempts)
