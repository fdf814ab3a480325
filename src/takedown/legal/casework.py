"""What the law asks after a decision, in the decision's own transaction (so nothing is
lost if the process dies next): for a confirmed child-abuse case, a CyberTipline draft
and the evidence sealed; for a reversed one, the report withdrawn or retracted and the
reversal recorded beside the evidence. And the law-enforcement bundle of a case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.domain.case import CaseState
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import REPORTED_TO_NCMEC, CaseStatus
from takedown.legal import bundle
from takedown.legal.evidence import EvidenceLocker, as_json
from takedown.legal.records import case_record
from takedown.legal.tipline import TiplineBook
from takedown.legal.vault import Vault
from takedown.media.storage import MediaStore
from takedown.store.tables import AuditEntryRow, EvidenceSetRow, TiplineReportRow

# Audit actions that touch a case's evidence: its chain of custody.
CUSTODY_ACTIONS = ("evidence_preserved", "evidence_viewed", "evidence_opened",
                   "evidence_exported", "evidence_hold_set", "evidence_hold_lifted",
                   "evidence_purged", "evidence_rekeyed", "cybertipline_viewed",
                   "cybertipline_edited", "cybertipline_submitted", "cybertipline_finished",
                   "cybertipline_stopped", "cybertipline_retracted", "media_viewed")


def follow_decision(session: Session, policy: Policy, vault: Vault, media_store: MediaStore,
                    case_id: int, state: CaseState, actor: str) -> None:
    if state.category not in REPORTED_TO_NCMEC:
        return
    locker = EvidenceLocker(session, policy, vault)
    if state.status is CaseStatus.CLOSED_VIOLATION:
        TiplineBook(session, policy).on_decided(case_id, state, media_store)
        locker.preserve(case_id, media_store,
                        why=f"confirmed as child sexual abuse material by "
                            f"{', '.join(state.decided_by) or actor}")
    elif state.status is CaseStatus.CLOSED_NO_VIOLATION:
        row = TiplineBook(session, policy).on_decided(case_id, state, media_store)
        if session.get(EvidenceSetRow, case_id) is not None:
            locker.add(case_id, f"case-{case_id}/reversal-{utcnow():%Y%m%dT%H%M%S%f}.json",
                       "record", as_json({
                           "decision": "no_violation", "decided_by": list(state.decided_by),
                           "decided_at": state.decided_at,
                           "cybertipline_stage": row.stage if row else None,
                           "ncmec_report_id": row.ncmec_report_id if row else None,
                           "overturned_after_finish": bool(row and row.overturned_at)}))


def custody(session: Session, case_id: int) -> list[dict[str, Any]]:
    """Who touched the case's evidence and report, when: from the audit log."""
    return [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
             "source": e.source, "details": e.details}
            for e in session.scalars(select(AuditEntryRow).where(
                AuditEntryRow.target == f"case:{case_id}",
                AuditEntryRow.action.in_(CUSTODY_ACTIONS)).order_by(AuditEntryRow.id))]


def export_bundle(session: Session, policy: Policy, vault: Vault, media_store: MediaStore,
                  case_id: int, out: Path, key: Any, exported_by: str) -> dict[str, Any]:
    """The law-enforcement bundle: the sealed items (each checked against its digest),
    the case as it stands, the CyberTipline XML and id, the event log and the chain of
    custody, under a signed manifest."""
    locker = EvidenceLocker(session, policy, vault)
    evidence = locker.summary(case_id)
    entries: dict[str, bytes] = {}
    for item in locker.items(case_id):
        if item.purged_at is not None:
            continue
        _, data = locker.open(case_id, item.id)
        inner = item.name.split("/", 1)[1]
        entries[inner if item.kind == "media" else f"vault/{inner}"] = data
    record = case_record(session, case_id, policy, media_store)
    report = session.scalar(select(TiplineReportRow).where(TiplineReportRow.case_id == case_id))
    chain = custody(session, case_id)
    tipline = None if report is None else {
        "report_id": report.ncmec_report_id, "status": report.stage,
        "submitted_at": report.submitted_at, "finished_at": report.finished_at,
        "file_ids": [f.get("file_id") for f in report.files]}
    if report is not None and report.xml:
        entries["cybertipline.xml"] = report.xml.encode()
    entries["case.json"] = as_json(record)
    entries["events.json"] = as_json(record["events"])
    entries["custody.json"] = as_json(chain)
    entries["case.html"] = bundle.render_case_summary({
        **record, "cybertipline": tipline, "custody": chain,
        "holds": [evidence["hold"]] if evidence["hold"] else []}).encode()
    return bundle.write_bundle(out, entries, key, {
        "case_id": case_id, "exported_by": exported_by,
        "ncmec_report_id": tipline["report_id"] if tipline else None,
        "retain_until": evidence["retain_until"]})

