"""The audit log: who did what, when, from where; tamper-evident.

Each entry's hash is the SHA-256 of its content and the previous entry's hash, so
changing or deleting any entry breaks every hash after it. Appends lock the single
`audit_head` row, so concurrent appends queue up and the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.store.tables import AuditEntryRow, AuditHeadRow

GENESIS = "0" * 64


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, target: str,
               source: str, details: dict[str, Any]) -> str:
    canonical = json.dumps({
        "prev": prev_hash, "at": at.astimezone(UTC).isoformat(), "actor": actor,
        "action": action, "target": target, "source": source, "details": details,
    }, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(session: Session, actor: str, action: str, target: str, source: str,
           details: dict[str, Any] | None = None) -> AuditEntryRow:
    """Append one entry in the caller's transaction."""
    head = session.scalar(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update())
    if head is None:
        raise RuntimeError("audit_head is missing: run `takedown migrate`")
    at = utcnow()
    body = dict(details or {})
    digest = entry_hash(head.last_hash, at, actor, action, target, source, body)
    row = AuditEntryRow(at=at, actor=actor, action=action, target=target, source=source,
                        details=body, prev_hash=head.last_hash, hash=digest)
    session.add(row)
    head.last_hash = digest
    session.flush()
    return row


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    first_broken: int | None
    problem: str | None


def verify(session: Session) -> Verdict:
    """Walk the whole chain; name the first entry that does not fit."""
    expected = GENESIS
    count = 0
    for row in session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.id)
                               .execution_options(yield_per=1000)):
        count += 1
        if row.prev_hash != expected:
            return Verdict(False, count, row.id, "does not follow the entry before it "
                                                 "(an entry was deleted or inserted)")
        actual = entry_hash(row.prev_hash, row.at, row.actor, row.action, row.target,
                            row.source, row.details)
        if actual != row.hash:
            return Verdict(False, count, row.id, "its content was changed after it was "
                                                 "written")
        expected = row.hash
    head = session.get(AuditHeadRow, 1)
    if head is not None and head.last_hash != expected:
        return Verdict(False, count, None, "the newest entries were deleted")
    return Verdict(True, count, None, None)


def ensure_head(session: Session) -> None:
    if session.get(AuditHeadRow, 1) is None:
        session.add(AuditHeadRow(id=1, last_hash=GENESIS))
