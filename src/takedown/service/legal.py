"""The legal desk: CyberTipline reports for child-safety specialists, the evidence vault
for liaisons, and the account details platforms send for both. Every view, edit,
submission, opening and export is in the audit log; a refusal too."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown import access, audit
from takedown.clock import utcnow
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import CHILD_SAFETY_ROLES, ActionKind, Role
from takedown.errors import Forbidden, Invalid, NotFound
from takedown.legal import bundle
from takedown.legal.casework import export_bundle
from takedown.legal.evidence import EvidenceLocker, as_json
from takedown.legal.ncmec import NcmecAnswer
from takedown.legal.tipline import TiplineBook, render, view
from takedown.service.core import Core, PlatformIdentity
from takedown.store.tables import (
    AccountRecordRow,
    ActionRow,
    EvidenceItemRow,
    EvidenceSetRow,
    TiplineReportRow,
)


def discard_export(bundle_path: Path) -> None:
    """Remove a download's bundle and its scratch folder."""
    shutil.rmtree(bundle_path.parent, ignore_errors=True)


LIAISON_ROLES = frozenset({Role.LIAISON, Role.ADMIN})
T = TypeVar("T")


class LegalDesk(Core):

    # --- who may -----------------------------------------------------------------

    def _allowed(self, reviewer: Reviewer, roles: frozenset[Role], target: str, source: str,
                 what: str) -> None:
        if reviewer.role not in roles:
            self.audit(reviewer.id, "access_denied", target, source, {"wanted": what})
            raise Forbidden(f"{what} is for "
                            + ("child-safety specialists and admins" if roles is
                               CHILD_SAFETY_ROLES else "liaisons and admins"),
                            code="legal_role_required")

    def _audited(self, reviewer: Reviewer, action: str, target: str, source: str,
                 work: Callable[[Session], T], details: dict[str, Any] | None = None) -> T:
        with self.db.transaction() as s:
            result = work(s)
            audit.record(s, reviewer.id, action, target, source, details)
        self.workers.wake()
        return result

    # --- CyberTipline ------------------------------------------------------------

    def tipline_queue(self, reviewer: Reviewer, source: str) -> list[dict[str, Any]]:
        self._allowed(reviewer, CHILD_SAFETY_ROLES, "cybertipline", source,
                      "the CyberTipline queue")

        def work(s: Session) -> list[dict[str, Any]]:
            rows = TiplineBook(s, self.policy).queue()
            return [view(s, self.policy, r, self.settings.ncmec_configured) for r in rows]

        return self._audited(reviewer, "cybertipline_queue_viewed", "cybertipline", source,
                             work)

    def tipline_report(self, case_id: int, reviewer: Reviewer,
                       source: str) -> tuple[dict[str, Any], bytes]:
        """The report and the XML as it would go now (or as it went)."""
        target = f"case:{case_id}"
        self._allowed(reviewer, CHILD_SAFETY_ROLES, target, source, "a CyberTipline report")

        def work(s: Session) -> tuple[dict[str, Any], bytes]:
            row = TiplineBook(s, self.policy).get(case_id)
            return (view(s, self.policy, row, self.settings.ncmec_configured),
                    render(s, self.policy, row, self.media_store))

        return self._audited(reviewer, "cybertipline_viewed", target, source, work)

    def tipline_edit(self, case_id: int, reviewer: Reviewer, changes: dict[str, Any],
                     source: str) -> dict[str, Any]:
        target = f"case:{case_id}"
        self._allowed(reviewer, CHILD_SAFETY_ROLES, target, source, "a CyberTipline report")

        def work(s: Session) -> dict[str, Any]:
            book = TiplineBook(s, self.policy)
            row = self._locked(s, case_id)
            book.edit(row, changes, reviewer.id)
            return view(s, self.policy, row, self.settings.ncmec_configured)

        return self._audited(reviewer, "cybertipline_edited", target, source, work,
                             {"fields": sorted(changes)})

    def tipline_submit(self, case_id: int, reviewer: Reviewer, source: str) -> dict[str, Any]:
        target = f"case:{case_id}"
        self._allowed(reviewer, CHILD_SAFETY_ROLES, target, source, "submitting to NCMEC")

        def work(s: Session) -> dict[str, Any]:
            row = self._locked(s, case_id)
            TiplineBook(s, self.policy).submit(row, reviewer.id, self.media_store)
            return view(s, self.policy, row, self.settings.ncmec_configured)

        return self._audited(reviewer, "cybertipline_submitted", target, source, work)

    def tipline_retract(self, case_id: int, reviewer: Reviewer, reason: str,
                        source: str) -> dict[str, Any]:
        target = f"case:{case_id}"
        self._allowed(reviewer, CHILD_SAFETY_ROLES, target, source, "retracting a report")

        def work(s: Session) -> dict[str, Any]:
            row = self._locked(s, case_id)
            TiplineBook(s, self.policy).retract(row, reviewer.id, reason)
            return view(s, self.policy, row, self.settings.ncmec_configured)

        return self._audited(reviewer, "cybertipline_retracted", target, source, work,
                             {"reason": reason})

    def tipline_status(self) -> NcmecAnswer:
        """The configured NCMEC server's /status (credentials and reachability)."""
        if not self.settings.ncmec_configured:
            raise Invalid("NCMEC's reporting API is not configured: set TAKEDOWN_NCMEC_URL, "
                          "TAKEDOWN_NCMEC_USERNAME and TAKEDOWN_NCMEC_PASSWORD",
                          code="ncmec_not_configured")
        with self.tipline.client() as client:
            return client.status()

    def _locked(self, s: Session, case_id: int) -> TiplineReportRow:
        row = TiplineBook(s, self.policy).find(case_id)
        if row is None:
            TiplineBook(s, self.policy).get(case_id)  # the 404
        assert row is not None
        return row

    # --- the evidence vault ------------------------------------------------------

    def evidence(self, case_id: int, reviewer: Reviewer, reason: str,
                 source: str) -> dict[str, Any]:
        target = f"case:{case_id}"
        self._vault_access(reviewer, reason, target, source)
        return self._audited(
            reviewer, "evidence_viewed", target, source,
            lambda s: EvidenceLocker(s, self.policy, self.vault).summary(case_id),
            {"reason": reason})

    def evidence_item(self, case_id: int, item_id: int, reviewer: Reviewer, reason: str,
                      source: str) -> tuple[EvidenceItemRow, bytes]:
        target = f"case:{case_id}"
        self._vault_access(reviewer, reason, target, source)
        return self._audited(
            reviewer, "evidence_opened", target, source,
            lambda s: EvidenceLocker(s, self.policy, self.vault).open(case_id, item_id),
            {"reason": reason, "item": item_id})

    def set_hold(self, case_id: int, reviewer: Reviewer, agency: str, legal_process: str,
                 source: str) -> dict[str, Any]:
        target = f"case:{case_id}"
        self._allowed(reviewer, LIAISON_ROLES, target, source, "a legal hold")
        return self._audited(
            reviewer, "evidence_hold_set", target, source,
            lambda s: self._hold_view(s, case_id, EvidenceLocker(
                s, self.policy, self.vault).set_hold(case_id, agency, legal_process,
                                                     reviewer.id)),
            {"agency": agency, "legal_process": legal_process})

    def lift_hold(self, case_id: int, reviewer: Reviewer, source: str) -> dict[str, Any]:
        target = f"case:{case_id}"
        self._allowed(reviewer, LIAISON_ROLES, target, source, "a legal hold")
        return self._audited(
            reviewer, "evidence_hold_lifted", target, source,
            lambda s: self._hold_view(s, case_id, EvidenceLocker(
                s, self.policy, self.vault).lift_hold(case_id, reviewer.id)))

    def _hold_view(self, s: Session, case_id: int, hold: dict[str, Any]) -> dict[str, Any]:
        evidence = s.get(EvidenceSetRow, case_id)
        assert evidence is not None
        return {"case_id": case_id, "hold": evidence.hold, "last_change": hold,
                "retain_until": evidence.retain_until}

    def export_evidence(self, case_id: int, actor: str, reason: str, out: Path, source: str,
                        reviewer: Reviewer | None = None) -> dict[str, Any]:
        """The signed law-enforcement bundle (CLI: actor is the operator; API and
        console: a liaison or admin). Audited before it is built, so the chain of
        custody inside it names this export."""
        target = f"case:{case_id}"
        if reviewer is not None:
            self._vault_access(reviewer, reason, target, source)
        key, notice = bundle.load_signing_key(self.settings.signing_key,
                                              self.settings.data_dir)
        with self.db.transaction() as s:
            EvidenceLocker(s, self.policy, self.vault).summary(case_id)  # the 404
            audit.record(s, actor, "evidence_exported", target, source, {"reason": reason})
        with self.db.transaction() as s:
            manifest = export_bundle(s, self.policy, self.vault, self.media_store, case_id,
                                     out, key, actor)
        return {**manifest, "notice": notice}

    def export_for_download(self, case_id: int, reviewer: Reviewer, reason: str,
                            source: str) -> Path:
        """The bundle in a scratch folder of its own, for a download; the caller removes
        it with `discard_export` once sent (here, when the export fails)."""
        scratch = Path(tempfile.mkdtemp(prefix="takedown-export-"))
        out = scratch / f"case-{case_id}-evidence.zip"
        try:
            self.export_evidence(case_id, reviewer.id, reason, out, source, reviewer=reviewer)
        except BaseException:
            discard_export(out)
            raise
        return out

    def signing_public_key(self) -> tuple[str, str]:
        key, _ = bundle.load_signing_key(self.settings.signing_key, self.settings.data_dir)
        pem = bundle.public_key_pem(key)
        return pem, bundle.key_fingerprint(pem)

    def rekey_vault(self, actor: str) -> int:
        """Re-encrypt every kept item under the current vault key; returns how many moved."""
        moved = 0
        with self.db.transaction() as s:
            items = list(s.scalars(select(EvidenceItemRow).where(
                EvidenceItemRow.purged_at.is_(None),
                EvidenceItemRow.key_id != self.vault.keys.current_id)))
            for item in items:
                item.key_id = self.vault.rekey(item.name)
                moved += 1
            audit.record(s, actor, "evidence_rekeyed", "vault", "cli", {"items": moved})
        return moved

    def _vault_access(self, reviewer: Reviewer, reason: str, target: str,
                      source: str) -> None:
        self._allowed(reviewer, LIAISON_ROLES, target, source, "the evidence vault")
        if not reason.strip():
            raise Invalid("say why you open the evidence (`reason`): it goes in the audit log",
                          code="reason_required",
                          fields=[{"field": "reason", "message": "required"}])

    # --- accounts the platforms preserve -----------------------------------------

    def record_account(self, platform: PlatformIdentity, author_id: str,
                       data: dict[str, Any]) -> dict[str, Any]:
        """A platform's answer to `preserve_account`: kept for the CyberTipline report,
        and sealed in the vault of every confirmed case the account posted to."""
        with self.db.transaction() as s:
            if not self._preservation_asked(s, platform.id, author_id):
                # Personal data takedown did not ask for is not kept.
                raise NotFound("takedown has not asked to preserve this account (a "
                               "preserve_account action names the accounts it needs)",
                               code="account_not_requested")
            row = s.get(AccountRecordRow, (platform.id, author_id))
            now = utcnow()
            if row is None:
                row = AccountRecordRow(platform_id=platform.id, author_id=author_id,
                                       data=data, received_at=now)
                s.add(row)
            else:
                row.data, row.received_at = data, now
            s.flush()
            cases = self._cases_of_uploader(s, platform.id, author_id)
            locker = EvidenceLocker(s, self.policy, self.vault)
            stamp = now.strftime("%Y%m%dT%H%M%S%f")
            for case_id in cases:
                locker.add(case_id, f"case-{case_id}/account-{platform.id}-{stamp}.json",
                           "accounts", as_json({"platform": platform.name,
                                                "account_id": author_id, "received_at": now,
                                                **data}))
            audit.record(s, f"platform:{platform.name}", "account_record_received",
                         f"account:{platform.id}:{author_id}", "api",
                         {"cases": cases})
        self.workers.wake()
        return {"account_id": author_id, "received_at": now, "cases": len(cases)}

    @staticmethod
    def _preservation_asked(s: Session, platform_id: int, author_id: str) -> bool:
        return s.scalar(select(ActionRow.id).where(
            ActionRow.kind == ActionKind.PRESERVE_ACCOUNT.value,
            ActionRow.platform_id == platform_id, ActionRow.target_id == author_id,
            ActionRow.target_type == "account").limit(1)) is not None

    @staticmethod
    def _cases_of_uploader(s: Session, platform_id: int, author_id: str) -> list[int]:
        """Cases whose evidence is kept and that asked to preserve this account."""
        return sorted(set(s.scalars(select(ActionRow.case_id).join(
            EvidenceSetRow, EvidenceSetRow.case_id == ActionRow.case_id).where(
            ActionRow.kind == ActionKind.PRESERVE_ACCOUNT.value,
            ActionRow.platform_id == platform_id, ActionRow.target_id == author_id,
            EvidenceSetRow.purged_at.is_(None)))))

    def set_tipline_contact(self, platform_name: str, contact: dict[str, str | None],
                            by: str) -> dict[str, Any]:
        """Who NCMEC should contact about a platform's reports (audited)."""
        with self.db.transaction() as s:
            kept = access.set_tipline_contact(s, platform_name, contact)
            audit.record(s, by, "tipline_contact_set", f"platform:{platform_name}", "cli",
                         {"fields": sorted(kept)})
            return kept
