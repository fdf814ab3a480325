"""Deadlines that escalate. A stateless pass, run by every worker: each case past its
deadline gets its next `escalated` step if the fold says it is due. The case row is
locked while deciding, so however many workers run, and across restarts, each step is
appended once; the step's notifications carry a dedupe key, so they are queued once.
The same pass keeps the TAKE IT DOWN Act's 48-hour clocks (legal.takeitdown).
"""

from __future__ import annotations

import json
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
from sqlalchemy import select

from takedown.cases.casebook import CaseBook
from takedown.clock import utcnow
from takedown.config import Settings
from takedown.domain.case import escalation_due
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import CaseStatus
from takedown.legal.takeitdown import TakeItDownClock
from takedown.notify.outbox import enqueue, on_call_targets
from takedown.notify.smtp import send_mail
from takedown.pipeline.outbox import claim_due, record_outcome
from takedown.platform.webhooks import message_id, signed_headers
from takedown.store.db import Database
from takedown.store.tables import CaseRow, NotificationRow


class EscalationScheduler:
    def __init__(self, db: Database, policy: Policy, settings: Settings) -> None:
        self.db = db
        self.policy = policy
        self.settings = settings
        self.take_it_down = TakeItDownClock(db, policy, settings)

    def run_once(self, now: datetime | None = None) -> int:
        """Escalate every overdue case that is due a step, and account the TAKE IT DOWN
        requests; returns the events appended."""
        now = now or utcnow()
        open_statuses = [s.value for s in CaseStatus if not s.is_closed]
        with self.db.transaction() as session:
            overdue = list(session.scalars(
                select(CaseRow.id).where(CaseRow.status.in_(open_statuses),
                                         CaseRow.deadline <= now)
                .order_by(CaseRow.deadline).limit(500)))
        steps = sum(self._escalate(case_id, now) for case_id in overdue)
        return steps + self.take_it_down.run_once(now)

    def _escalate(self, case_id: int, now: datetime) -> int:
        with self.db.transaction() as session:
            book = CaseBook(session, self.policy)
            book.lock(case_id)
            event = escalation_due(book.state(case_id), self.policy, now)
            if event is None:
                return 0
            state, _ = book.append(case_id, [event])
            row = session.get(CaseRow, case_id)
            assert row is not None
            step = int(event.data["step"])
            subject = (f"[takedown] case {case_id} overdue: escalation {step} "
                       f"({(row.category or 'unknown').replace('_', ' ')})")
            body = {"type": "escalation", "case_id": case_id, "step": step,
                    "category": row.category, "priority": row.priority,
                    "overdue_s": event.data["overdue_s"],
                    "deadline_rule": event.data["deadline_rule"],
                    "console": f"/console/cases/{case_id}"}
            for channel, target in self._on_call():
                enqueue(session, channel=channel, target=target, subject=subject, body=body,
                        dedupe_key=f"escalation:{case_id}:{state.events}:{step}:{channel}",
                        priority=row.priority)
            return 1

    def _on_call(self) -> list[tuple[str, str]]:
        return on_call_targets(self.settings)


# Outbox rows whose body holds a secret (notify.mail's receipts): emptied once sent.
CARRIES_A_SECRET = "reporter:receipt:"


class NotificationSender:
    """Delivers the notifications outbox: SMTP for e-mail, signed POSTs for webhooks."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.lease = timedelta(seconds=settings.lease_s)
        self.smtp = settings.smtp_endpoint

    def run_once(self, worker_id: str) -> int:
        rows = claim_due(self.db, NotificationRow, worker_id, 20, self.lease,
                         (NotificationRow.id, NotificationRow.channel, NotificationRow.target,
                          NotificationRow.subject, NotificationRow.body,
                          NotificationRow.dedupe_key))
        for row in rows:
            error = None
            try:
                self._send(row.channel, row.target, row.subject, row.body,
                           message_id([f"notification:{row.dedupe_key}"]))
            except (OSError, smtplib.SMTPException, httpx.HTTPError, ValueError) as exc:
                error = self.smtp.redact(f"{type(exc).__name__}: {exc}")
            record_outcome(self.db, NotificationRow, worker_id, [row.id], error)
            if error is None and row.dedupe_key.startswith(CARRIES_A_SECRET):
                self._forget_body(row.id)
        return len(rows)

    def _forget_body(self, row_id: int) -> None:
        """A receipt carries the reporter's status link, whose token takedown otherwise
        keeps only as a hash: once it is sent, the outbox keeps no copy of it."""
        with self.db.transaction() as s:
            sent = s.get(NotificationRow, row_id)
            if sent is not None and sent.status == "delivered":
                sent.body = {"text": "(sent; it carried the reporter's status link, which "
                                     "takedown does not keep)"}

    def _send(self, channel: str, target: str, subject: str, body: dict[str, object],
              msg_id: str) -> None:
        if channel == "email":
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = (
                self.settings.mail_from, target, subject)
            text = body.get("text")
            message.set_content(str(text) if text is not None
                                else "\n".join(f"{k}: {v}" for k, v in body.items()))
            if body.get("html"):  # reporters' mails: text and HTML (notify.mail)
                message.add_alternative(str(body["html"]), subtype="html")
            send_mail(self.smtp, self.settings.smtp_tls_ca_file,
                      self.settings.webhook_timeout_s, message)
            return
        payload = json.dumps(body, sort_keys=True).encode()
        # Whitespace-separated secrets, the newest first: each signs, for rotation.
        secrets = self.settings.oncall_webhook_secret.split()
        response = httpx.post(target, content=payload, timeout=self.settings.webhook_timeout_s,
                              headers=signed_headers(secrets, payload, msg_id))
        if not 200 <= response.status_code < 300:
            raise ValueError(f"HTTP {response.status_code}")
