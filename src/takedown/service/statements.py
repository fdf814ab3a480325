"""The statements desk: for admins, the statements of reasons the DSA Transparency
Database refused or has not yet taken (with its message for each), and re-queueing a
refused one. A refusal to anyone else, and every re-queue, is in the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from takedown import audit
from takedown.clock import utcnow
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Role
from takedown.errors import Conflict, Forbidden, NotFound
from takedown.pipeline.statements import PENDING, REJECTED
from takedown.service.core import Core
from takedown.store.tables import StatementRow

SHOWN = 500  # the page lists the most recent problems; the rest stay in the database


class StatementDesk(Core):

    def _only_admins(self, reviewer: Reviewer, target: str, source: str, what: str) -> None:
        if reviewer.role is not Role.ADMIN:
            self.audit(reviewer.id, "access_denied", target, source, {"wanted": what})
            raise Forbidden(f"{what} is for admins", code="admin_required")

    def statement_problems(self, reviewer: Reviewer, source: str) -> dict[str, Any]:
        """Statements rejected by the database, or whose last call failed, newest
        first; with the count of each status and whether sending is configured."""
        self._only_admins(reviewer, "statements", source, "the statements page")
        with self.db.transaction() as s:
            return {"configured": self.settings.dsa_tdb_configured,
                    "counts": _counts(s), "problems": _problems(s)}

    def requeue_statement(self, puid: str, reviewer: Reviewer, source: str) -> None:
        """Send a rejected statement again, as it is: for when the cause was on the
        database's side, or is fixed there."""
        target = f"statement:{puid}"
        self._only_admins(reviewer, target, source, "sending a statement again")
        with self.db.transaction() as s:
            row = s.scalar(select(StatementRow).where(StatementRow.puid == puid)
                           .with_for_update())
            if row is None:
                raise NotFound("no such statement", code="statement_not_found")
            if row.status != REJECTED:
                raise Conflict("only a statement the database rejected is sent again",
                               code="statement_not_rejected")
            audit.record(s, reviewer.id, "statement_requeued", target, source,
                         {"rejected_with": (row.last_error or "")[:500]})
            row.status, row.attempts, row.next_attempt_at = PENDING, 0, utcnow()
            # The message goes with the rejection (the audit entry keeps it).
            row.lease_until, row.claimed_by, row.last_error = None, None, None
        self.workers.wake()


def _counts(s: Session) -> dict[str, int]:
    rows = s.execute(select(StatementRow.status, func.count())
                     .group_by(StatementRow.status)).all()
    return {status: count for status, count in rows}


def _problems(s: Session) -> list[dict[str, Any]]:
    failing = (StatementRow.status == PENDING) & StatementRow.last_error.is_not(None)
    rows = s.scalars(select(StatementRow)
                     .where(or_(StatementRow.status == REJECTED, failing))
                     .order_by(StatementRow.created_at.desc()).limit(SHOWN))
    return [{"puid": r.puid, "kind": r.kind, "case_id": r.case_id, "status": r.status,
             "created_at": r.created_at, "attempts": r.attempts, "error": r.last_error,
             "next_attempt_at": r.next_attempt_at if r.status == PENDING else None,
             "resendable": r.status == REJECTED} for r in rows]
