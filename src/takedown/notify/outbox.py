"""Queueing a message: one row in the notifications outbox per dedupe key, delivered
and retried by the workers (pipeline.escalation.NotificationSender)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.store.tables import NotificationRow


def enqueue(session: Session, *, dedupe_key: str, channel: str, target: str, subject: str,
            body: dict[str, Any], priority: float = 0.0) -> None:
    """`body` is sent as JSON to a webhook; by e-mail, its `text` (or key: value lines)."""
    now = utcnow()
    session.add(NotificationRow(
        dedupe_key=dedupe_key, channel=channel, target=target, subject=subject, body=body,
        priority=priority, created_at=now, status="pending", attempts=0,
        next_attempt_at=now - timedelta(seconds=1)))
