"""Reports: received, their status for the reporter, reporters' answers; and
reporters marked abusive."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from takedown import audit
from takedown.cases import views
from takedown.cases.intake import ReportIntake, ReportReceipt, ReportSubmission
from takedown.cases.reporters import ReporterBook
from takedown.domain.case import Reviewer
from takedown.domain.takeitdown import assess
from takedown.errors import (
    Forbidden,
)
from takedown.notify.mail import send_receipt
from takedown.service.core import Core


class ReportDesk(Core):

    def submit_report(self, sub: ReportSubmission, idempotency_key: str | None,
                      payload: Any) -> tuple[int, dict[str, Any]]:
        """Store the report as received and answer; the intake workers (pipeline.intake)
        then work it into its case — restricting at once for a trusted reporter — and
        find its copies (pipeline.copies), most urgent first."""
        def handle(s: Session) -> tuple[int, dict[str, Any]]:
            receipt = ReportIntake(s, self.policy).receive(sub)
            send_receipt(s, report_id=receipt.report_id, token=receipt.status_token,
                         address=sub.contact_email, language=sub.language,
                         category=sub.category.value,
                         references=[r.value for r in receipt.references],
                         received_at=receipt.received_at, take_it_down=assess(
                             sub.category, sub.relation, signature=sub.signature,
                             good_faith_statement=sub.good_faith_statement,
                             names_content=bool(sub.content_ids or sub.urls),
                             contact_email=sub.contact_email,
                             received_at=receipt.received_at),
                         public_url=self.settings.public_url)
            return 202, self._receipt(receipt)

        answer = self._idempotent("report", idempotency_key, payload, handle, batched=True)
        self.intake.wake()
        return answer

    @staticmethod
    def _receipt(receipt: ReportReceipt) -> dict[str, Any]:
        return {"report_id": receipt.report_id, "status_token": receipt.status_token,
                "received_at": receipt.received_at.isoformat(),
                "references": [r.__dict__ for r in receipt.references]}

    def report_status(self, report_id: str, token: str,
                      language: str | None = None) -> dict[str, Any]:
        """In `language` if takedown speaks it, else in the report's."""
        with self.db.transaction() as s:
            return views.report_status(s, self.policy, report_id, token, language)

    def provide_information(self, report_id: str, token: str, text: str,
                            case_numbers: list[str], idempotency_key: str | None,
                            payload: Any) -> tuple[int, dict[str, Any]]:
        """A reporter's answer (or any addition) to their report, while its case is open."""
        def handle(s: Session) -> tuple[int, dict[str, Any]]:
            ReportIntake(s, self.policy).add_information(report_id, token, text, case_numbers)
            return 202, json.loads(json.dumps(
                views.report_status(s, self.policy, report_id, token), default=str))

        return self._idempotent(f"information:{report_id}", idempotency_key, payload, handle)


    def reporter(self, reporter_key: str, reviewer: Reviewer | None = None,
                 source: str = "api") -> dict[str, Any]:
        """A reporter's record; one who reported child-safety content is for those who
        may see child-safety cases (a refusal is audited)."""
        try:
            with self.db.transaction() as s:
                return ReporterBook(s, self.policy).record(reporter_key, reviewer)
        except Forbidden:
            if reviewer is not None:
                self.audit(reviewer.id, "access_denied", f"reporter:{reporter_key}", source)
            raise

    def mark_reporter(self, reporter_key: str, reviewer: Reviewer, reason: str,
                      source: str) -> dict[str, Any]:
        """Mark a reporter abusive: their reports on open cases are invalidated. A refusal
        is audited too."""
        try:
            with self.db.transaction() as s:
                book = ReporterBook(s, self.policy, self.sweeper(s))
                result = book.mark(reporter_key, reviewer, reason)
                audit.record(s, reviewer.id, "reporter_marked_abusive",
                             f"reporter:{reporter_key}", source,
                             {"reason": reason, **result.__dict__})
                answer = {**book.record(reporter_key), **result.__dict__}
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"reporter:{reporter_key}", source)
            raise
        self.workers.wake()
        return answer

    def unmark_reporter(self, reporter_key: str, reviewer: Reviewer,
                        source: str) -> dict[str, Any]:
        try:
            with self.db.transaction() as s:
                book = ReporterBook(s, self.policy)
                result = book.unmark(reporter_key, reviewer)
                audit.record(s, reviewer.id, "reporter_unmarked", f"reporter:{reporter_key}",
                             source, result.__dict__)
                return {**book.record(reporter_key), **result.__dict__}
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"reporter:{reporter_key}", source)
            raise
