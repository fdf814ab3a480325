"""The evidence vault's records: what was preserved for a case and when, how long it is
kept, legal holds, openings and purging. The bytes are sealed by `legal.vault`; this
module keeps their digests in the database, so an opening or an export proves that what
comes out is what went in.

Retention (18 U.S.C. 2258A(h) as amended by the REPORT Act): a year from the CyberTipline
submission, and a year from preservation until there is one. A legal hold keeps it
until lifted. Items are only ever added; a purge deletes every blob of the case and
keeps the rows (digests, times) as the record that they existed and went.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook
from takedown.clock import utcnow
from takedown.domain.case import EventType, NewEvent
from takedown.domain.policy import Policy
from takedown.errors import Conflict, NotFound
from takedown.legal.records import case_record, confirmed_files
from takedown.legal.vault import Vault
from takedown.media.storage import MediaStore
from takedown.store.tables import EvidenceItemRow, EvidenceSetRow


def as_json(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str).encode()


class EvidenceLocker:
    def __init__(self, session: Session, policy: Policy, vault: Vault) -> None:
        self.session = session
        self.policy = policy
        self.vault = vault

    # --- preserving --------------------------------------------------------------

    def preserve(self, case_id: int, media_store: MediaStore, why: str) -> int:
        """Seal the case's confirmed files and a record of the whole case; returns the
        items added (a file preserved before is not sealed twice)."""
        evidence = self._set(case_id)
        added = 0
        for f in confirmed_files(self.session, case_id, self.policy):
            added += self.add(case_id, f"case-{case_id}/media/{f.file_name}", "media",
                              media_store.get(f.sha256)) is not None
        record = case_record(self.session, case_id, self.policy, media_store)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        added += self.add(case_id, f"case-{case_id}/record-{stamp}.json", "record",
                          as_json({"why": why, **record})) is not None
        CaseBook(self.session, self.policy).append(case_id, [NewEvent(
            EventType.EVIDENCE_PRESERVED, {"items": added, "why": why,
                                           "retain_until": evidence.retain_until.isoformat()})])
        return added

    def add(self, case_id: int, name: str, kind: str, data: bytes) -> EvidenceItemRow | None:
        """Seal one item; None when an item of that name is kept already (a retried step)."""
        self._set(case_id)
        if self.session.scalar(select(EvidenceItemRow.id).where(EvidenceItemRow.name == name)):
            return None
        sealed = self.vault.seal(name, data)
        row = EvidenceItemRow(case_id=case_id, name=name, kind=kind, sha256=sealed.sha256,
                              md5=sealed.md5, size=sealed.size, key_id=sealed.key_id,
                              created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return row

    def _set(self, case_id: int) -> EvidenceSetRow:
        evidence = self.session.get(EvidenceSetRow, case_id)
        now = utcnow()
        if evidence is None:
            evidence = EvidenceSetRow(case_id=case_id, preserved_at=now,
                                      retain_until=now + self.policy.legal.evidence_retention)
            self.session.add(evidence)
            self.session.flush()
        elif evidence.purged_at is not None:  # preserved again after a purge: a new year
            evidence.purged_at = None
            evidence.retain_until = now + self.policy.legal.evidence_retention
        return evidence

    def keep_from(self, case_id: int, start: datetime) -> None:
        """Keep the evidence at least the retention period from `start` (a submission)."""
        evidence = self._set(case_id)
        evidence.retain_until = max(evidence.retain_until,
                                    start + self.policy.legal.evidence_retention)

    # --- holds -------------------------------------------------------------------

    def set_hold(self, case_id: int, agency: str, legal_process: str, by: str) -> dict[str, Any]:
        evidence = self._existing(case_id)
        hold = {"agency": agency, "legal_process": legal_process, "set_by": by,
                "set_at": utcnow().isoformat()}
        evidence.hold = hold
        CaseBook(self.session, self.policy).append(case_id, [NewEvent(
            EventType.EVIDENCE_HOLD_SET, hold, actor=by)])
        return hold

    def lift_hold(self, case_id: int, by: str) -> dict[str, Any]:
        evidence = self._existing(case_id)
        if evidence.hold is None:
            raise Conflict("no legal hold is set on this case's evidence", code="no_hold")
        lifted = {**evidence.hold, "lifted_by": by, "lifted_at": utcnow().isoformat()}
        evidence.hold = None
        CaseBook(self.session, self.policy).append(case_id, [NewEvent(
            EventType.EVIDENCE_HOLD_LIFTED, lifted, actor=by)])
        return lifted

    # --- reading -----------------------------------------------------------------

    def summary(self, case_id: int) -> dict[str, Any]:
        evidence = self._existing(case_id)
        return {
            "case_id": case_id,
            "preserved_at": evidence.preserved_at,
            "retain_until": evidence.retain_until,
            "hold": evidence.hold,
            "purged_at": evidence.purged_at,
            "items": [{"id": i.id, "name": i.name, "kind": i.kind, "sha256": i.sha256,
                       "md5": i.md5, "size": i.size, "created_at": i.created_at,
                       "purged_at": i.purged_at} for i in self.items(case_id)],
        }

    def items(self, case_id: int) -> list[EvidenceItemRow]:
        return list(self.session.scalars(select(EvidenceItemRow).where(
            EvidenceItemRow.case_id == case_id).order_by(EvidenceItemRow.id)))

    def open(self, case_id: int, item_id: int) -> tuple[EvidenceItemRow, bytes]:
        item = self.session.get(EvidenceItemRow, item_id)
        if item is None or item.case_id != case_id:
            raise NotFound("no such evidence item in this case", code="unknown_evidence")
        if item.purged_at is not None:
            raise Conflict(f"this item was purged on {item.purged_at:%Y-%m-%d}",
                           code="evidence_purged")
        return item, self.vault.open(item.name, expected_sha256=item.sha256)

    def _existing(self, case_id: int) -> EvidenceSetRow:
        evidence = self.session.get(EvidenceSetRow, case_id)
        if evidence is None:
            raise NotFound("no evidence is preserved for this case", code="no_evidence")
        return evidence

    # --- purging -----------------------------------------------------------------

    def expired(self, now: datetime, limit: int = 100) -> list[int]:
        """Cases whose evidence is past retention, not held, not yet purged."""
        return list(self.session.scalars(
            select(EvidenceSetRow.case_id).where(
                EvidenceSetRow.retain_until <= now, EvidenceSetRow.hold.is_(None),
                EvidenceSetRow.purged_at.is_(None))
            .order_by(EvidenceSetRow.retain_until).limit(limit)))

    def purge(self, case_id: int, now: datetime) -> int | None:
        """Delete the case's sealed blobs (the caller locked it); returns how many were
        deleted, None when it is not due (held, or kept longer meanwhile)."""
        evidence = self._existing(case_id)
        if evidence.hold is not None or evidence.retain_until > now or evidence.purged_at:
            return None
        gone = 0
        for item in self.items(case_id):
            if item.purged_at is None:
                self.vault.purge(item.name)
                item.purged_at = now
                gone += 1
        evidence.purged_at = now
        CaseBook(self.session, self.policy).append(case_id, [NewEvent(
            EventType.EVIDENCE_PURGED, {"items": gone,
                                        "retain_until": evidence.retain_until.isoformat()})])
        return gone

    def lock(self, case_id: int) -> EvidenceSetRow | None:
        return self.session.scalar(select(EvidenceSetRow).where(
            EvidenceSetRow.case_id == case_id).with_for_update())
