"""Action delivery: claim due actions (see pipeline.outbox), POST them signed to the
platform in batches, record the outcome; retried with backoff until a 2xx. The
platform deduplicates on action_id, so a rare second send after a lost lease is
harmless by contract. Actions on one item or account go out one after another, in
the order they were made: the next is sent only once the platform acknowledged the one
before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import httpx

from takedown.pipeline.outbox import claim_due, record_outcome
from takedown.platform.webhooks import batch_id, body_for, live_secrets, signed_headers
from takedown.store.db import Database
from takedown.store.tables import ActionRow, PlatformRow

# Actions on one target reach the platform in the order they were made.
IN_ORDER_OF = ("platform_id", "target_type", "target_id")


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
                         (ActionRow.id, ActionRow.platform_id, ActionRow.payload,
                          ActionRow.created_at), in_order_of=IN_ORDER_OF)
        rows.sort(key=lambda r: r.created_at)  # a batch's body lists them as they were made
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
            url = platform.webhook_url
            secrets = live_secrets(platform.webhook_secret, platform.previous_webhook_secrets)
        body = body_for([a.payload for a in actions])
        error = None
        try:
            headers = signed_headers(secrets, body, batch_id(a.id for a in actions))
            response = self.http.post(url, content=body, headers=headers)
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        record_outcome(self.db, ActionRow, worker_id, [a.id for a in actions], error)
