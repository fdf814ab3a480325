"""CyberTipline reports as takedown keeps them: drafted when a child-abuse case closes
as a violation (in the decision's transaction), checked and edited by a specialist,
submitted, then sent by the legal worker (pipeline.tipline). What goes in is what
takedown knows (legal.records), never a guess: what is unknown is left out.

A case has one report, filed by the platform where its first confirmed copy was
posted. Stages: draft -> sending -> finished; sending -> stopped (NCMEC refused a step:
a person looks, edits, submits again, and sending resumes where it stopped);
sending -> retracting -> retracted (cancelled before /finish); draft -> withdrawn (the
decision was reversed before anything went).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook
from takedown.cases.graph import ContentGraph
from takedown.clock import utcnow
from takedown.domain.case import CaseState, EventType, NewEvent
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import (
    REPORTED_TO_NCMEC,
    ActionKind,
    CaseStatus,
    MediaVia,
    Relation,
)
from takedown.errors import Conflict, Invalid, NotFound
from takedown.legal import tipline_xml as tx
from takedown.legal.records import (
    CaseFile,
    Copy,
    account_records,
    confirmed_files,
    copies,
    uploaders,
)
from takedown.media.storage import MediaStore
from takedown.store.tables import (
    ActionRow,
    AuditEntryRow,
    MediaRow,
    PlatformRow,
    ReportRow,
    TiplineReportRow,
)

NOT_STATED_AGENCY = "Not stated (case number given by a reporter)"


class Stage(StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    STOPPED = "stopped"
    FINISHED = "finished"
    RETRACTING = "retracting"
    RETRACTED = "retracted"
    WITHDRAWN = "withdrawn"


EDITABLE = (Stage.DRAFT, Stage.STOPPED, Stage.RETRACTED)
IN_QUEUE = (Stage.DRAFT, Stage.STOPPED, Stage.SENDING, Stage.RETRACTING)


class TiplineBook:
    def __init__(self, session: Session, policy: Policy) -> None:
        self.session = session
        self.policy = policy

    def get(self, case_id: int) -> TiplineReportRow:
        row = self.session.scalar(select(TiplineReportRow).where(
            TiplineReportRow.case_id == case_id))
        if row is None:
            raise NotFound("this case has no CyberTipline report", code="no_cybertipline_report")
        return row

    def find(self, case_id: int) -> TiplineReportRow | None:
        return self.session.scalar(select(TiplineReportRow).where(
            TiplineReportRow.case_id == case_id).with_for_update())

    # --- following decisions -----------------------------------------------------

    def on_decided(self, case_id: int, state: CaseState,
                   media_store: MediaStore) -> TiplineReportRow | None:
        """After a decision on a case: draft its report when it was confirmed, or, when
        a confirmed case was reversed, withdraw or retract what was not sent, and record
        that NCMEC must be told of a finished one by other means."""
        if state.category not in REPORTED_TO_NCMEC:
            return None
        row = self.find(case_id)
        if state.status is CaseStatus.CLOSED_VIOLATION:
            return self._draft(case_id, state, row, media_store)
        if state.status is CaseStatus.CLOSED_NO_VIOLATION and row is not None:
            self._overturn(row)
        return row

    def _draft(self, case_id: int, state: CaseState, row: TiplineReportRow | None,
               media_store: MediaStore) -> TiplineReportRow | None:
        files = confirmed_files(self.session, case_id, self.policy)
        found = copies(self.session, case_id, self.policy)
        if not found:
            return row
        now = utcnow()
        if row is None:
            row = TiplineReportRow(
                case_id=case_id, platform_id=found[0].platform_id, stage=Stage.DRAFT.value,
                incident_type=tx.CHILD_PORNOGRAPHY, annotations=[], summary="",
                escalate_reason=self._escalation(case_id), decided_at=now,
                due_at=now + self.policy.legal.cybertipline_deadline,
                accounts_due_at=now + self.policy.legal.account_details_wait,
                auto_submit=self._known_material(case_id), escalations=0, files=[],
                priority=0.0, created_at=now, status="pending", attempts=0,
                next_attempt_at=now)
            self.session.add(row)
        elif row.stage in (Stage.DRAFT.value, Stage.WITHDRAWN.value):
            row.stage = Stage.DRAFT.value  # re-confirmed after a reopening
            row.decided_at, row.due_at = now, now + self.policy.legal.cybertipline_deadline
        else:
            return row  # it went (or is going) already; the vault keeps the new record
        row.files = [_file_entry(f, media_store) for f in files]
        self.session.flush()
        CaseBook(self.session, self.policy).append(case_id, [NewEvent(
            EventType.CYBERTIPLINE_DRAFTED, {"files": len(files),
                                             "due_at": row.due_at.isoformat(),
                                             "auto_submit": row.auto_submit})])
        return row

    def _escalation(self, case_id: int) -> str | None:
        """NCMEC's high-priority flag, when a reporter gave police case numbers (police
        are on it: a child may be in ongoing danger). A specialist can add or clear it."""
        numbers = sorted({n for r in self._reports(case_id) for n in r.case_numbers})
        if not numbers:
            return None
        return ("A reporter gave law-enforcement case number(s) " + ", ".join(numbers)
                + "; the depicted child or their family reported it.")

    def _known_material(self, case_id: int) -> bool:
        """Whether every confirmed file matched a bank the policy trusts to auto-submit."""
        banks = self.policy.legal.auto_submit_banks
        if not banks:
            return False
        graph = ContentGraph(self.session)
        linked = graph.case_media(case_id)
        state = CaseBook(self.session, self.policy).state(case_id)
        originals = [row for row in linked.values() if row.via != MediaVia.COPY.value]
        if state.confirmed_media is not None:
            shas = set(state.confirmed_media)
            originals = [row for row in originals if _sha(self.session, row.media_id) in shas]
        return bool(originals) and all(
            row.via == MediaVia.BANK.value and row.bank in banks for row in originals)

    def _overturn(self, row: TiplineReportRow) -> None:
        stage = Stage(row.stage)
        if stage in (Stage.DRAFT, Stage.STOPPED) and row.ncmec_report_id is None:
            row.stage = Stage.WITHDRAWN.value
            self._event(row, EventType.CYBERTIPLINE_RETRACTED,
                        {"withdrawn": True, "reason": "the decision was reversed"})
        elif stage is Stage.SENDING or (stage is Stage.STOPPED and row.ncmec_report_id):
            # Sending (perhaps /submit in flight): retracted at NCMEC if it opened one.
            self._queue_retraction(row, "takedown", "the decision was reversed")
        elif stage is Stage.FINISHED and row.overturned_at is None:
            row.overturned_at = utcnow()
            self._event(row, EventType.CYBERTIPLINE_OVERTURNED, {
                "ncmec_report_id": row.ncmec_report_id,
                "notice": "the report was finished before the decision was reversed: NCMEC "
                          "must be told by other means (NCMEC's CyberTipline cannot retract "
                          "a finished report)"})

    # --- a specialist's work -----------------------------------------------------

    def edit(self, row: TiplineReportRow, changes: dict[str, Any], actor: str) -> None:
        if Stage(row.stage) not in EDITABLE:
            raise Conflict(f"a report that is {row.stage} can no longer be edited",
                           code="cybertipline_not_editable")
        changes = {k: v for k, v in changes.items()  # null: leave it, or clear it
                   if v is not None or k in ("summary", "escalate_reason", "annotations")}
        if changes.get("annotations") is None and "annotations" in changes:
            changes["annotations"] = []
        if "incident_type" in changes:
            if changes["incident_type"] not in tx.INCIDENT_TYPES:
                raise Invalid("unknown incident type", code="invalid_incident_type",
                              fields=[{"field": "incident_type",
                                       "message": "one of: " + "; ".join(tx.INCIDENT_TYPES)}])
            row.incident_type = changes["incident_type"]
        if "annotations" in changes:
            unknown = [a for a in changes["annotations"] if a not in tx.REPORT_ANNOTATIONS]
            if unknown:
                raise Invalid("unknown annotations: " + ", ".join(unknown),
                              code="invalid_annotations",
                              fields=[{"field": "annotations", "message": "one of: "
                                       + ", ".join(tx.REPORT_ANNOTATIONS)}])
            row.annotations = sorted(set(changes["annotations"]))
        if "summary" in changes:
            row.summary = changes["summary"] or ""
        if "escalate_reason" in changes:
            row.escalate_reason = changes["escalate_reason"] or None

    def submit(self, row: TiplineReportRow, actor: str, media_store: MediaStore) -> None:
        """Freeze the XML as it is now and hand it to the legal worker."""
        stage = Stage(row.stage)
        if stage not in EDITABLE:
            raise Conflict(f"this report is {row.stage}", code="cybertipline_not_submittable")
        if stage is Stage.RETRACTED:  # a corrected report after a retraction: a new one
            row.ncmec_report_id = None
            row.files = [{**f, "file_id": None, "info_sent": False} for f in row.files]
        if row.ncmec_report_id is None:
            xml = render(self.session, self.policy, row, media_store)
            problems = tx.schema_errors(xml)
            if problems:
                raise Invalid("the report does not validate against NCMEC's schema: "
                              + "; ".join(problems[:5]), code="cybertipline_invalid")
            row.xml = xml.decode()
        now = utcnow()
        row.stage, row.status = Stage.SENDING.value, "pending"
        row.error_code, row.last_error = None, None
        row.submitted_by, row.submitted_at = actor, now
        row.attempts, row.next_attempt_at, row.lease_until = 0, now, None
        self._event(row, EventType.CYBERTIPLINE_SUBMITTED, {"by": actor})

    def retract(self, row: TiplineReportRow, actor: str, reason: str) -> None:
        stage = Stage(row.stage)
        if row.ncmec_report_id is None or stage not in (Stage.SENDING, Stage.STOPPED):
            raise Conflict("only a report opened at NCMEC and not yet finished can be "
                           "retracted" + (" (a finished report: tell NCMEC by other means)"
                                          if stage is Stage.FINISHED else ""),
                           code="cybertipline_not_retractable")
        self._queue_retraction(row, actor, reason)

    def _queue_retraction(self, row: TiplineReportRow, actor: str, reason: str) -> None:
        """The legal worker retracts it at NCMEC. A worker sending it meanwhile keeps
        its lease until its next step sees the new stage and lets go (pipeline.tipline):
        the report id NCMEC gives an in-flight /submit is still recorded."""
        row.stage, row.status = Stage.RETRACTING.value, "pending"
        row.retract_reason, row.retracted_by = reason, actor
        row.attempts, row.next_attempt_at = 0, utcnow()

    def _event(self, row: TiplineReportRow, kind: EventType, data: dict[str, Any]) -> None:
        CaseBook(self.session, self.policy).append(row.case_id, [NewEvent(kind, data)])

    def _reports(self, case_id: int) -> list[ReportRow]:
        return list(self.session.scalars(select(ReportRow).where(ReportRow.case_id == case_id)
                                         .order_by(ReportRow.created_at)))

    # --- the queue ---------------------------------------------------------------

    def queue(self, limit: int = 200) -> list[TiplineReportRow]:
        """Reports a person must see to, oldest decision first."""
        return list(self.session.scalars(
            select(TiplineReportRow).where(TiplineReportRow.stage.in_([s.value for s in IN_QUEUE]))
            .order_by(TiplineReportRow.decided_at).limit(limit)))

    def accounts_pending(self, row: TiplineReportRow) -> list[str]:
        """Uploaders asked to be preserved whose platform has not answered yet."""
        asked = {(p, a) for p, a in self.session.execute(
            select(ActionRow.platform_id, ActionRow.target_id).where(
                ActionRow.case_id == row.case_id,
                ActionRow.kind == ActionKind.PRESERVE_ACCOUNT.value))}
        answered = account_records(self.session, asked)
        return sorted(a for p, a in asked if (p, a) not in answered)


def view(session: Session, policy: Policy, row: TiplineReportRow,
         configured: bool) -> dict[str, Any]:
    """A report as the API and console show it."""
    now = utcnow()
    return {
        "case_id": row.case_id, "stage": row.stage, "status": row.stage,
        "incident_type": row.incident_type, "annotations": list(row.annotations),
        "summary": row.summary, "escalate_reason": row.escalate_reason,
        "decided_at": row.decided_at, "due_at": row.due_at,
        "overdue": Stage(row.stage) in (Stage.DRAFT, Stage.STOPPED) and row.due_at < now,
        "escalations": row.escalations, "auto_submit": row.auto_submit,
        "accounts_pending": TiplineBook(session, policy).accounts_pending(row),
        "accounts_due_at": row.accounts_due_at,
        "ncmec_report_id": row.ncmec_report_id,
        "files": [{"sha256": f["sha256"], "md5": f["md5"], "name": f["name"],
                   "file_id": f.get("file_id"), "details_sent": bool(f.get("info_sent"))}
                  for f in row.files],
        "error_code": row.error_code, "error": row.last_error,
        "submitted_by": row.submitted_by, "submitted_at": row.submitted_at,
        "finished_at": row.finished_at, "retracted_at": row.retracted_at,
        "retract_reason": row.retract_reason, "overturned_at": row.overturned_at,
        "notice": _notice(row, configured),
        "incident_types": list(tx.INCIDENT_TYPES),
        "annotation_choices": list(tx.REPORT_ANNOTATIONS),
    }


def _notice(row: TiplineReportRow, configured: bool) -> str | None:
    if row.overturned_at is not None:
        return ("The decision was reversed after this report was finished at NCMEC. "
                "NCMEC must be told by other means: the CyberTipline API cannot retract a "
                "finished report.")
    if not configured and Stage(row.stage) in (Stage.SENDING, Stage.DRAFT, Stage.STOPPED):
        return ("NCMEC's reporting API is not configured (TAKEDOWN_NCMEC_URL, _USERNAME, "
                "_PASSWORD): submitted reports wait here until it is.")
    return None


# --- the report's contents ---------------------------------------------------------

def render(session: Session, policy: Policy, row: TiplineReportRow,
           media_store: MediaStore) -> bytes:
    """The report XML as it would be sent now (or as it was sent)."""
    if row.xml is not None and Stage(row.stage) not in EDITABLE:
        return row.xml.encode()
    return tx.render_report(facts(session, policy, row))


def facts(session: Session, policy: Policy, row: TiplineReportRow) -> tx.TiplineFacts:
    platform = session.get(PlatformRow, row.platform_id)
    assert platform is not None
    contact = platform.tipline_contact or {}
    found = copies(session, row.case_id, policy)
    reports = list(session.scalars(select(ReportRow).where(ReportRow.case_id == row.case_id)
                                   .order_by(ReportRow.created_at)))
    numbers = list(dict.fromkeys(n for r in reports for n in r.case_numbers))
    first = min((c.posted_at for c in found), default=row.decided_at)
    return tx.TiplineFacts(
        incident_type=row.incident_type, incident_at=first,
        incident_at_description=f"when the first copy was posted on {platform.name}",
        reporter=tx.Contact(contact.get("first_name"), contact.get("last_name"),
                            contact.get("email"), contact.get("phone")),
        platform=platform.name, escalate_reason=row.escalate_reason,
        annotations=tuple(row.annotations),
        sightings=tuple(tx.Sighting(c.url, c.posted_at, c.removed_at) for c in found if c.url),
        law_enforcement=tx.LawEnforcementContact(NOT_STATED_AGENCY, numbers[0])
        if numbers else None,
        company_template=contact.get("company_template"),
        terms_of_service=contact.get("terms_of_service"), legal_url=contact.get("legal_url"),
        accounts=_accounts(session, policy, row.case_id),
        victims=_victims(reports),
        additional_info=_additional_info(row, reports, numbers, found),
    )


def _accounts(session: Session, policy: Policy, case_id: int) -> tuple[tx.ReportedAccount, ...]:
    names = {p.id: p.name for p in session.scalars(select(PlatformRow))}
    people = uploaders(session, case_id, policy)
    records = account_records(session, people)
    return tuple(_account(platform_id, author, names.get(platform_id),
                          records.get((platform_id, author), {}))
                 for platform_id, author in people)


def _account(platform_id: int, author: str, service: str | None,
             record: dict[str, Any]) -> tx.ReportedAccount:
    events = []
    for e in record.get("ip_events") or []:
        at = e.get("at")
        events.append(tx.IpEvent(e["ip"], _parse_time(at), e.get("event")
                                 if e.get("event") in tx.IP_EVENTS else None))
    return tx.ReportedAccount(
        esp_identifier=author, esp_service=service, screen_name=record.get("screen_name"),
        display_names=tuple(record.get("display_names") or ()),
        emails=tuple(record.get("emails") or ()),
        profile_urls=tuple(record.get("profile_urls") or ()), ip_events=tuple(events),
        additional_info=record.get("additional_info"))


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _victims(reports: list[ReportRow]) -> tuple[tx.Victim, ...]:
    """Only what a reporter said of themself or their child: one per reporter."""
    seen: dict[str, tx.Victim] = {}
    for r in reports:
        relation = Relation(r.relation)
        if relation not in (Relation.DEPICTED_PERSON, Relation.PARENT_GUARDIAN):
            continue
        if r.reporter_key in seen or (r.age_at_time is None and not r.depicted_minor):
            continue
        who = ("the depicted person, about themself" if relation is Relation.DEPICTED_PERSON
               else "a parent or guardian of the depicted child")
        said = [f"Reported by {who}."]
        if r.depicted_minor:
            said.append("The reporter said the depicted person was a minor.")
        if r.case_numbers:
            said.append("Police case number(s) the reporter gave: " + ", ".join(r.case_numbers)
                        + ".")
        seen[r.reporter_key] = tx.Victim(age=r.age_at_time, additional_info=" ".join(said))
    return tuple(seen.values())


def _additional_info(row: TiplineReportRow, reports: list[ReportRow], numbers: list[str],
                     found: list[Copy]) -> str | None:
    parts = [row.summary.strip()] if row.summary.strip() else []
    if numbers:
        parts.append("Law-enforcement case numbers given by reporters (agency not stated): "
                     + ", ".join(numbers) + ".")
    if reports:
        parts.append(f"{len(reports)} user report(s) from "
                     f"{len({r.reporter_key for r in reports})} reporter(s).")
    if found:
        parts.append(f"{len(found)} item(s) carried the files or shared them (posts, reposts, "
                     f"quotes, re-uploads); {sum(c.views for c in found)} views in all.")
    return " ".join(parts) or None


def file_facts(session: Session, policy: Policy, row: TiplineReportRow,
               entry: dict[str, Any]) -> tx.FileFacts:
    found = [c for c in copies(session, row.case_id, policy) if entry["sha256"] in c.carries]
    views = sum(c.views for c in found)
    return tx.FileFacts(
        file_name=entry["name"], md5=entry["md5"], sha256=entry["sha256"],
        uploaded_at=min((c.posted_at for c in found), default=None),
        location=next((c.url for c in found if c.url), None),
        viewed_by_esp=_viewed(session, row.case_id, entry["sha256"]),
        publicly_available=True if views > 0 else None,
        annotations=("viral",) if views >= policy.legal.viral_views else (),
        additional_info=(f"Seen {views} times across {len(found)} item(s).",) if found else ())


def _viewed(session: Session, case_id: int, sha256: str) -> bool:
    """Whether a person at the platform looked at the file unblurred (the console's
    clear view, audited as `media_viewed`); blurred previews do not count."""
    for details in session.scalars(select(AuditEntryRow.details).where(
            AuditEntryRow.action == "media_viewed", AuditEntryRow.target == f"case:{case_id}")):
        if (details or {}).get("sha256") == sha256:
            return True
    return False


def _file_entry(f: CaseFile, media_store: MediaStore) -> dict[str, Any]:
    data = media_store.get(f.sha256)
    return {"sha256": f.sha256, "md5": hashlib.md5(data).hexdigest(), "name": f.file_name,
            "file_id": None, "info_sent": False}


def _sha(session: Session, media_id: int) -> str | None:
    media = session.get(MediaRow, media_id)
    return media.sha256 if media else None


def overdue(session: Session, now: datetime) -> list[TiplineReportRow]:
    return list(session.scalars(select(TiplineReportRow).where(
        TiplineReportRow.stage.in_([Stage.DRAFT.value, Stage.STOPPED.value]),
        TiplineReportRow.due_at <= now,
        (TiplineReportRow.next_escalation_at.is_(None))
        | (TiplineReportRow.next_escalation_at <= now)).limit(100)
        .with_for_update(skip_locked=True)))  # concurrent workers tell on-call once

