"""Actions for the platform. Requesting one records it (and the item's new state)
in the caller's transaction; the delivery workers send it after commit.

Each action has a dedupe key naming the step that caused it, so a retried step
finds the action it made before instead of making a second, different one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind, ModerationState
from takedown.legal import statements
from takedown.legal.statements import ItemFacts, StatementBasis, item_facts, puid_for
from takedown.notify.uploader import uploader_notice
from takedown.store.batches import chunks
from takedown.store.tables import ActionRow, ContentRow, StatementRow

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
    ActionKind.REINSTATE: "reinstated: the decision that suspended the account was "
                          "reversed on appeal",
    ActionKind.APPEAL_DECIDED: "appeal decided: show the uploader the text in `notice`",
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
    # What the statement of reasons rests on (legal.statements); every restriction and
    # removal of content has one.
    basis: StatementBasis | None = None
    # More for the platform (e.g. an appeal's outcome and the uploader's text).
    extra: Mapping[str, Any] = field(default_factory=dict)


def content_action(kind: ActionKind, item: ContentRow, *, step: str, case_id: int | None,
                   reason: str, category: str | None, priority: float,
                   basis: StatementBasis | None = None) -> ActionRequest:
    return ActionRequest(
        kind=kind, platform_id=item.platform_id, target_type="content",
        target_id=item.external_id, dedupe_key=f"{kind.value}:{step}:content:{item.id}",
        case_id=case_id, reason=reason, category=category, priority=priority, content=item,
        basis=basis)


def account_action(kind: ActionKind, platform_id: int, account_id: str, *, step: str,
                   case_id: int | None, reason: str, category: str | None,
                   priority: float) -> ActionRequest:
    return ActionRequest(
        kind=kind, platform_id=platform_id, target_type="account", target_id=account_id,
        dedupe_key=f"{kind.value}:{step}:account:{platform_id}:{account_id}",
        case_id=case_id, reason=reason, category=category, priority=priority)


class ActionLedger:
    def __init__(self, session: Session, policy: Policy) -> None:
        self.session = session
        self.policy = policy
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
                **req.extra,
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
        self.session.add_all(self._statements(
            [(row, req) for row, req in zip(rows, pending.values(), strict=True)]))
        self.created += len(rows)
        return rows

    def _statements(self, made: list[tuple[ActionRow, ActionRequest]]) -> list[StatementRow]:
        """A statement of reasons for each new restriction and removal (and reversal),
        put in the action for the uploader and kept for the Transparency Database."""
        explained = [(row, req) for row, req in made if req.content is not None
                     and req.basis is not None and req.basis.explains(req.kind)]
        by_basis: dict[int, list[tuple[ActionRow, ActionRequest]]] = {}
        for row, req in explained:
            by_basis.setdefault(id(req.basis), []).append((row, req))
        statements = []
        for group in by_basis.values():
            basis = group[0][1].basis
            assert basis is not None  # filtered above
            facts = item_facts(self.session, basis, [req.content for _, req in group
                                                     if req.content is not None])
            statements += [self._statement(row, req, basis, facts) for row, req in group]
        return statements

    def _statement(self, row: ActionRow, req: ActionRequest, basis: StatementBasis,
                   facts: dict[int, ItemFacts]) -> StatementRow:
        assert req.content is not None  # only content actions are explained
        today = row.created_at.date()
        puid = puid_for(row.id)
        replaces = basis.replaces.get(req.content.id)
        body = statements.build(req.kind, basis, facts[req.content.id], self.policy, puid,
                                today, replaces)
        appeal_until = today + self.policy.dsa.appeal_window
        row.payload = {**row.payload, "statement": body, "notice": uploader_notice(
            req.kind, basis.mode, basis.category, req.content.author_language, puid,
            appeal_until)}
        return StatementRow(
            puid=puid, action_id=row.id, platform_id=row.platform_id, case_id=row.case_id,
            content_id=req.content.id, kind=row.kind, body=body, replaces=replaces,
            priority=row.priority, created_at=row.created_at, status="pending", attempts=0,
            next_attempt_at=row.created_at)
