"""Action delivery: claim due actions (see pipeline.outbox), POST them signed to the
platform in batches, record the outcome; retried with backoff until a 2xx. The
platform deduplicates on action_id, so a rare second send after a lost lease is
harmless by contract.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import httpx

from takedown.pipeline.outbox import claim_due, record_outcome
from takedown.platform.webhooks import body_for, signed_headers
from takedown.store.db import Database
from takedown.store.tables import ActionRow, PlatformRow


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
        rows = claim_due(self.db, ActionRow, worker_id, self.batch, self.lease,
                         (ActionRow.id, ActionRow.platform_id, ActionRow.payload))
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
        record_outcome(self.db, ActionRow, worker_id, [a.id for a in actions], error)
