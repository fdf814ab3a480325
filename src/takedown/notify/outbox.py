"""Queueing a message: one row in the notifications outbox per dedupe key, delivered
and retried by the workers (pipeline.escalation.NotificationSender)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.config import Settings
from takedown.store.tables import NotificationRow


def enqueue(session: Session, *, dedupe_key: str, channel: str, target: str, subject: str,
            body: dict[str, Any], priority: float = 0.0) -> None:
    """`body` is sent as JSON to a webhook; by e-mail, its `text` (or key: value lines)."""
    now = utcnow()
    session.add(NotificationRow(
        dedupe_key=dedupe_key, channel=channel, target=target, subject=subject, body=body,
        priority=priority, created_at=now, status="pending", attempts=0,
        next_attempt_at=now - timedelta(seconds=1)))


def on_call_targets(settings: Settings) -> list[tuple[str, str]]:
    """(channel, target) of each way on-call is reached: e-mail and/or a webhook."""
    targets = []
    if settings.oncall_email:
        targets.append(("email", settings.oncall_email))
    if settings.oncall_webhook_url:
        targets.append(("webhook", settings.oncall_webhook_url))
    return targets


def tell_on_call(session: Session, settings: Settings, *, dedupe_key: str, subject: str,
                 body: dict[str, Any], priority: float = 0.0) -> None:
    for channel, target in on_call_targets(settings):
        enqueue(session, channel=channel, target=target, subject=subject, body=body,
                dedupe_key=f"{dedupe_key}:{channel}", priority=priority)
