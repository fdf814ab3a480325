"""The legal worker: sends submitted CyberTipline reports to NCMEC step by step
(/submit, /upload per file, /fileinfo per file, /finish), retracts those a person
retracted, submits drafts of known material by itself where the policy says so, tells
on-call about drafts past their deadline, and purges evidence past its retention.

Each NCMEC step that succeeds is committed before the next one starts (the report id
first of all), so a crash resumes at the step where it stopped and never opens a second
report for the case. Claims use a long lease (uploads of videos take time); every write
re-checks that this worker still holds the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown import audit
from takedown.cases.casebook import CaseBook
from takedown.clock import utcnow
from takedown.config import Settings
from takedown.domain.case import EventType, NewEvent
from takedown.domain.policy import Policy
from takedown.legal import tipline_xml as tx
from takedown.legal.evidence import EvidenceLocker, as_json
from takedown.legal.ncmec import (
    Disposition,
    NcmecAnswer,
    NcmecClient,
    NcmecUnavailable,
    disposition,
    retry_delay,
)
from takedown.legal.tipline import Stage, TiplineBook, file_facts, overdue
from takedown.legal.vault import Vault
from takedown.media.storage import MediaStore
from takedown.notify.mail import send_reported_to_ncmec
from takedown.notify.outbox import tell_on_call
from takedown.pipeline.outbox import claim_due
from takedown.store.db import Database
from takedown.store.tables import TiplineReportRow

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=15)
# A file NCMEC keeps receiving damaged is not sent forever: a person looks.
MAX_UPLOAD_ATTEMPTS = 5
ACTOR = "takedown"


class Held(Exception):
    """This worker no longer holds the row (its lease passed to another): stop."""


class TiplineSender:
    def __init__(self, db: Database, policy: Policy, settings: Settings,
                 media_store: MediaStore, vault: Callable[[], Vault],
                 client: Callable[[], NcmecClient] | None = None) -> None:
        self.db = db
        self.policy = policy
        self.settings = settings
        self.media_store = media_store
        self.vault = vault
        self._client = client

    def client(self) -> NcmecClient:
        if self._client is not None:
            return self._client()
        s = self.settings
        return NcmecClient(s.ncmec_url, s.ncmec_username, s.ncmec_password,
                           timeout_s=s.ncmec_timeout_s)

    def run_once(self, worker_id: str, now: datetime | None = None) -> int:
        now = now or utcnow()
        done = self.auto_submit(now) + self.escalate(now) + self.purge(now)
        if self.settings.ncmec_configured or self._client is not None:
            for (row_id,) in claim_due(self.db, TiplineReportRow, worker_id, 5, LEASE,
                                       (TiplineReportRow.id,),
                                       where=[TiplineReportRow.stage.in_(
                                           [Stage.SENDING.value, Stage.RETRACTING.value])]):
                self.work(row_id, worker_id)
                done += 1
        return done

    # --- drafts that go by themselves, drafts that wait too long -------------------

    def auto_submit(self, now: datetime) -> int:
        """Drafts of known material (policy: legal.auto_submit_banks) go once their
        uploaders' details are in, or the wait for them is over."""
        sent = 0
        with self.db.transaction() as s:
            book = TiplineBook(s, self.policy)
            for row in s.scalars(select(TiplineReportRow).where(
                    TiplineReportRow.stage == Stage.DRAFT.value,
                    TiplineReportRow.auto_submit.is_(True)).with_for_update(skip_locked=True)):
                if row.accounts_due_at > now and book.accounts_pending(row):
                    continue
                book.submit(row, f"{ACTOR} (auto-submit: known material)", self.media_store)
                audit.record(s, ACTOR, "cybertipline_submitted", f"case:{row.case_id}",
                             "worker", {"auto_submit": True})
                sent += 1
        return sent

    def escalate(self, now: datetime) -> int:
        with self.db.transaction() as s:
            rows = overdue(s, now)
            for row in rows:
                row.escalations += 1
                row.next_escalation_at = now + self.policy.escalation.interval
                tell_on_call(s, self.settings, priority=100.0,
                             dedupe_key=f"cybertipline:{row.case_id}:overdue:{row.escalations}",
                             subject=f"[takedown] CyberTipline report for case {row.case_id} "
                                     f"is overdue ({row.stage})",
                             body={"type": "cybertipline_overdue", "case_id": row.case_id,
                                   "stage": row.stage, "due_at": row.due_at.isoformat(),
                                   "escalation": row.escalations,
                                   "console": f"/console/cases/{row.case_id}/cybertipline"})
            return len(rows)

    # --- sending -----------------------------------------------------------------

    def work(self, row_id: int, worker_id: str) -> None:
        try:
            with self.client() as client:
                if self._snapshot(row_id, worker_id)["stage"] == Stage.RETRACTING.value:
                    self._retract(row_id, worker_id, client)
                else:
                    self._send(row_id, worker_id, client)
        except NcmecUnavailable as exc:
            self._retry(row_id, worker_id, f"NCMEC could not be reached: {exc}")
        except Held:
            log.info("CyberTipline report %s was taken over by another worker", row_id)

    def _send(self, row_id: int, worker_id: str, client: NcmecClient) -> None:
        row = self._snapshot(row_id, worker_id)
        report_id = row["ncmec_report_id"]
        if report_id is None:
            answer = self._submit(row_id, worker_id, client, str(row["xml"]).encode())
            if answer is None:
                return
            if not self._proceed(row_id, worker_id, answer, "submit"):
                return
            report_id = answer.report_id
            with self._holding(row_id, worker_id) as (s, held):
                held.ncmec_report_id = report_id
                self._event(s, held.case_id, EventType.CYBERTIPLINE_SUBMITTED,
                            {"ncmec_report_id": report_id, "step": "submit"})
        for entry in row["files"]:
            if entry.get("file_id") is None and not self._upload(row_id, worker_id, client,
                                                                 report_id, entry):
                return
        for entry in self._snapshot(row_id, worker_id)["files"]:
            if not entry.get("info_sent") and not self._file_info(row_id, worker_id, client,
                                                                  report_id, entry):
                return
        answer = client.finish(report_id)
        if self._proceed(row_id, worker_id, answer, "finish"):
            self._finished(row_id, worker_id, answer)

    def _submit(self, row_id: int, worker_id: str, client: NcmecClient,
                xml: bytes) -> NcmecAnswer | None:
        """/submit opens a report at NCMEC, and NCMEC's API has no idempotency key: when
        the answer is lost after the request went out, NCMEC may hold a report takedown
        has no id for. Sending again could open a second one, so a person decides."""
        try:
            return client.submit(xml)
        except NcmecUnavailable as exc:
            if not exc.maybe_received:
                raise
            self._stop(row_id, worker_id, 0, f"submit: the answer was lost after the report "
                       f"was sent ({exc}). NCMEC may have opened a report: check with NCMEC "
                       "before submitting again, or a second report may be opened.",
                       alert="[takedown] a CyberTipline submission's answer was lost: check "
                             "with NCMEC before it is sent again")
            return None

    def _upload(self, row_id: int, worker_id: str, client: NcmecClient, report_id: int,
                entry: dict[str, Any]) -> bool:
        answer = client.upload(report_id, entry["name"], self.media_store.get(entry["sha256"]))
        received = answer.file_id is not None  # NCMEC kept a file, damaged or not
        if received and (answer.md5 or "").lower() != entry["md5"]:
            message = (f"upload: NCMEC received {entry['name']} with MD5 {answer.md5}, not "
                       f"{entry['md5']} (its file id {answer.file_id} holds the damaged copy)")
            if self._snapshot(row_id, worker_id)["attempts"] >= MAX_UPLOAD_ATTEMPTS:
                self._stop(row_id, worker_id, 0, message, Stage.SENDING, alert=None)
            else:
                self._retry(row_id, worker_id, message + ": uploading it again",
                            Stage.SENDING)
            return False
        if not self._proceed(row_id, worker_id, answer, "upload"):
            return False
        self._update_file(row_id, worker_id, entry["sha256"], file_id=answer.file_id)
        return True

    def _file_info(self, row_id: int, worker_id: str, client: NcmecClient, report_id: int,
                   entry: dict[str, Any]) -> bool:
        with self._holding(row_id, worker_id, Stage.SENDING) as (s, held):
            details = tx.render_file_details(report_id, entry["file_id"],
                                             file_facts(s, self.policy, held, entry))
        if not self._proceed(row_id, worker_id, client.file_info(details), "fileinfo"):
            return False
        self._update_file(row_id, worker_id, entry["sha256"], info_sent=True)
        return True

    def _finished(self, row_id: int, worker_id: str, answer: NcmecAnswer) -> None:
        now = utcnow()
        with self._holding(row_id, worker_id, Stage.SENDING) as (s, held):
            held.stage, held.status = Stage.FINISHED.value, "delivered"
            held.finished_at = held.delivered_at = now
            held.lease_until, held.last_error, held.error_code = None, None, None
            locker = EvidenceLocker(s, self.policy, self.vault())
            locker.keep_from(held.case_id, now)
            name = f"case-{held.case_id}/cybertipline-{held.ncmec_report_id}"
            locker.add(held.case_id, f"{name}.xml", "cybertipline", (held.xml or "").encode())
            locker.add(held.case_id, f"{name}.json", "cybertipline", as_json({
                "ncmec_report_id": held.ncmec_report_id, "finished_at": now,
                "submitted_by": held.submitted_by, "submitted_at": held.submitted_at,
                "files": held.files, "ncmec_file_ids": list(answer.file_ids)}))
            self._event(s, held.case_id, EventType.CYBERTIPLINE_ACCEPTED,
                        {"ncmec_report_id": held.ncmec_report_id,
                         "files": len(held.files)})
            audit.record(s, ACTOR, "cybertipline_finished", f"case:{held.case_id}", "worker",
                         {"ncmec_report_id": held.ncmec_report_id})
            send_reported_to_ncmec(s, held.case_id,
                                   CaseBook(s, self.policy).state(held.case_id))

    def _retract(self, row_id: int, worker_id: str, client: NcmecClient) -> None:
        report_id = self._snapshot(row_id, worker_id)["ncmec_report_id"]
        if report_id is None:  # reversed before NCMEC opened one: nothing to cancel there
            with self._holding(row_id, worker_id, Stage.RETRACTING) as (s, held):
                held.stage, held.status, held.lease_until = Stage.WITHDRAWN.value, \
                    "delivered", None
                self._event(s, held.case_id, EventType.CYBERTIPLINE_RETRACTED,
                            {"withdrawn": True, "reason": held.retract_reason})
            return
        answer = client.retract(report_id)
        if not self._proceed(row_id, worker_id, answer, "retract"):
            return
        now = utcnow()
        with self._holding(row_id, worker_id, Stage.RETRACTING) as (s, held):
            held.stage, held.status = Stage.RETRACTED.value, "delivered"
            held.retracted_at = held.delivered_at = now
            held.lease_until = None
            EvidenceLocker(s, self.policy, self.vault()).add(
                held.case_id, f"case-{held.case_id}/retraction-{report_id}.json", "record",
                as_json({"ncmec_report_id": report_id, "retracted_at": now,
                         "retracted_by": held.retracted_by, "reason": held.retract_reason}))
            self._event(s, held.case_id, EventType.CYBERTIPLINE_RETRACTED,
                        {"ncmec_report_id": report_id, "reason": held.retract_reason,
                         "by": held.retracted_by})
            audit.record(s, ACTOR, "cybertipline_retracted", f"case:{held.case_id}", "worker",
                         {"ncmec_report_id": report_id, "by": held.retracted_by})

    # --- outcomes ----------------------------------------------------------------

    def _proceed(self, row_id: int, worker_id: str, answer: NcmecAnswer, call: str) -> bool:
        """Whether NCMEC's answer lets the next step go; otherwise it is recorded."""
        kind = disposition(answer.code, call)
        if kind is Disposition.DONE:
            return True
        message = f"{call}: NCMEC answered {answer.code} {answer.description}".strip()
        stage = Stage.RETRACTING if call == "retract" else Stage.SENDING
        if kind is Disposition.RETRY:
            self._retry(row_id, worker_id, message, stage)
        else:
            self._stop(row_id, worker_id, answer.code, message, stage,
                       alert="[takedown] NCMEC refused takedown's credentials or rights: "
                             "CyberTipline reports are not going out"
                       if kind is Disposition.ALERT else None)
        return False

    def _retry(self, row_id: int, worker_id: str, message: str,
               stage: Stage | None = None) -> None:
        with self._holding(row_id, worker_id, stage) as (_, held):
            held.status, held.last_error = "failing", message[:2000]
            held.next_attempt_at = utcnow() + retry_delay(held.attempts)
            held.lease_until = None

    def _stop(self, row_id: int, worker_id: str, code: int, message: str,
              stage: Stage | None = None, *, alert: str | None) -> None:
        """NCMEC refused: a person must look (and, for credentials, on-call at once)."""
        with self._holding(row_id, worker_id, stage) as (s, held):
            held.stage, held.status = Stage.STOPPED.value, "failing"
            held.error_code, held.last_error, held.lease_until = code, message[:2000], None
            self._event(s, held.case_id, EventType.CYBERTIPLINE_STOPPED,
                        {"code": code, "message": message[:500]})
            audit.record(s, ACTOR, "cybertipline_stopped", f"case:{held.case_id}", "worker",
                         {"code": code})
            if alert:
                tell_on_call(s, self.settings, priority=100.0,
                             dedupe_key=f"cybertipline:{held.case_id}:stopped:{utcnow():%s%f}",
                             subject=alert,
                             body={"type": "cybertipline_stopped", "case_id": held.case_id,
                                   "code": code, "message": message,
                                   "console": f"/console/cases/{held.case_id}/cybertipline"})

    # --- helpers -----------------------------------------------------------------

    def _snapshot(self, row_id: int, worker_id: str) -> dict[str, Any]:
        with self._holding(row_id, worker_id) as (_, held):
            return {"stage": held.stage, "ncmec_report_id": held.ncmec_report_id,
                    "attempts": held.attempts,
                    "xml": held.xml, "files": [dict(f) for f in held.files]}

    def _update_file(self, row_id: int, worker_id: str, sha256: str, **changes: Any) -> None:
        with self._holding(row_id, worker_id, Stage.SENDING) as (_, held):
            held.files = [{**f, **changes} if f["sha256"] == sha256 else f for f in held.files]

    def _holding(self, row_id: int, worker_id: str, stage: Stage | None = None) -> _Holding:
        return _Holding(self.db, row_id, worker_id, stage)

    def _event(self, s: Session, case_id: int, kind: EventType, data: dict[str, Any]) -> None:
        CaseBook(s, self.policy).append(case_id, [NewEvent(kind, data)])

    # --- retention ---------------------------------------------------------------

    def purge(self, now: datetime) -> int:
        with self.db.transaction() as s:
            due = EvidenceLocker(s, self.policy, self.vault()).expired(now)
        purged = 0
        for case_id in due:
            with self.db.transaction() as s:
                locker = EvidenceLocker(s, self.policy, self.vault())
                if locker.lock(case_id) is None:
                    continue
                gone = locker.purge(case_id, now)
                if gone is not None:
                    audit.record(s, ACTOR, "evidence_purged", f"case:{case_id}", "worker",
                                 {"items": gone})
                    purged += 1
        return purged


class _Holding:
    """A transaction with the row locked, only while this worker still holds its lease
    and (when `stage` is given) the row is still at that stage. A row whose stage a
    person changed meanwhile (retracted while it was being sent) is let go at once, so
    that the next pass takes it up at its new stage."""

    def __init__(self, db: Database, row_id: int, worker_id: str,
                 stage: Stage | None) -> None:
        self.db, self.row_id, self.worker_id, self.stage = db, row_id, worker_id, stage
        self._context: Any = None

    def __enter__(self) -> tuple[Session, TiplineReportRow]:
        self._context = self.db.transaction()
        s = self._context.__enter__()
        row = s.scalar(select(TiplineReportRow).where(TiplineReportRow.id == self.row_id)
                       .with_for_update())
        if row is None or row.claimed_by != self.worker_id:
            self._context.__exit__(Held, Held(), None)
            raise Held()
        if self.stage is not None and row.stage != self.stage.value:
            row.lease_until, row.next_attempt_at = None, utcnow()
            self._context.__exit__(None, None, None)  # commits the release
            raise Held()
        return s, row

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)
