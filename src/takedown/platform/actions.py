"""Actions for the platform. Requesting one records it (and the item's new state)
in the caller's transaction; the delivery workers send it after commit.

Each action has a dedupe key naming the step that caused it, so a retried step
finds the action it made before instead of making a second, different one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.domain.vocabulary import ActionKind, ModerationState
from takedown.store.batches import chunks
from takedown.store.tables import ActionRow, ContentRow

# The state an item is in once the platform has carried out an action on it.
STATE_AFTER = {
    ActionKind.RESTRICT: ModerationState.RESTRICTED,
    ActionKind.REMOVE: ModerationState.REMOVED,
    ActionKind.RESTORE: ModerationState.VISIBLE,
}


# What the platform is told about why: a fixed phrase per kind. The platform (and so
# whoever reads its logs, the suspect perhaps) never learns who reported, how they are
# related to the content, or which bank matched (a StopNCII match says the person
# depicted went to StopNCII); the case log keeps the full reason for reviewers.
PLATFORM_REASONS = {
    ActionKind.RESTRICT: "restricted pending review",
    ActionKind.REMOVE: "removed: violates the platform's policy",
    ActionKind.RESTORE: "restored: the restriction was lifted",
    ActionKind.SUSPEND: "suspended: the account posted content that violates the "
                        "platform's policy",
    ActionKind.PRESERVE_ACCOUNT: "preserve: keep this account's records for one year "
                                 "(legal preservation) and send them to takedown",
}


@dataclass(frozen=True)
class ActionRequest:
    kind: ActionKind
    platform_id: int
    target_type: str  # 'content' or 'account'
    target_id: str
    dedupe_key: str
    case_id: int | None
    reason: str
    category: str | None
    priority: float
    content: ContentRow | None = None


def content_action(kind: ActionKind, item: ContentRow, *, step: str, case_id: int | None,
                   reason: str, category: str | None, priority: float) -> ActionRequest:
    return ActionRequest(
        kind=kind, platform_id=item.platform_id, target_type="content",
        target_id=item.external_id, dedupe_key=f"{kind.value}:{step}:content:{item.id}",
        case_id=case_id, reason=reason, category=category, priority=priority, content=item)


def account_action(kind: ActionKind, platform_id: int, account_id: str, *, step: str,
                   case_id: int | None, reason: str, category: str | None,
                   priority: float) -> ActionRequest:
    return ActionRequest(
        kind=kind, platform_id=platform_id, target_type="account", target_id=account_id,
        dedupe_key=f"{kind.value}:{step}:account:{platform_id}:{account_id}",
        case_id=case_id, reason=reason, category=category, priority=priority)


class ActionLedger:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.created = 0

    def request(self, requests: Iterable[ActionRequest]) -> list[ActionRow]:
        """Record the actions not recorded before; returns the new ones."""
        pending = {r.dedupe_key: r for r in requests}
        for batch in chunks(list(pending)):
            for known in self.session.scalars(
                    select(ActionRow.dedupe_key).where(ActionRow.dedupe_key.in_(batch))):
                pending.pop(known, None)
        now = utcnow()
        rows = []
        for req in pending.values():
            action_id = str(uuid.uuid4())
            payload = {
                "action_id": action_id,
                "type": req.kind.value,
                "target": {"type": req.target_type, "id": req.target_id},
                "case_id": req.case_id,
                "category": req.category,
                "reason": PLATFORM_REASONS[req.kind],
                "requested_at": now.isoformat(),
            }
            rows.append(ActionRow(
                id=action_id, dedupe_key=req.dedupe_key, platform_id=req.platform_id,
                case_id=req.case_id, kind=req.kind.value, target_type=req.target_type,
                target_id=req.target_id, payload=payload, priority=req.priority,
                created_at=now, status="pending", attempts=0,
                next_attempt_at=now - timedelta(seconds=1)))
            if req.content is not None and req.kind in STATE_AFTER:
                req.content.moderation_state = STATE_AFTER[req.kind].value
                req.content.moderation_case_id = req.case_id
        self.session.add_all(rows)
        self.created += len(rows)
        return rows
