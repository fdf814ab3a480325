"""Appeals and statements of reasons: what the platform, reporters and reviewers call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown import audit
from takedown.cases import views
from takedown.cases.appeals import AppealBook, appeal_view
from takedown.cases.decisions import DecisionDesk
from takedown.domain.appeals import AppealOutcome, AppealStatus, check_decider
from takedown.domain.case import CaseState, DecisionRefused, Reviewer, may_view
from takedown.domain.vocabulary import CaseStatus
from takedown.errors import Forbidden, NotFound
from takedown.legal.casework import follow_decision
from takedown.notify.mail import send_appeal_news, send_decision
from takedown.service.core import Core, PlatformIdentity
from takedown.store.tables import AppealRow, ReportRow, StatementRow


class AppealDesk(Core):

    # --- the uploader, through the platform --------------------------------------

    def lodge_appeal(self, platform: PlatformIdentity, content_id: str | None,
                     puid: str | None, text: str, language: str | None,
                     ) -> tuple[int, dict[str, Any]]:
        with self.db.transaction() as s:
            row, new = AppealBook(s, self.policy).lodge_uploader(
                platform.id, content_id, puid, text, language)
            if new:
                audit.record(s, f"platform:{platform.name}", "appeal_lodged",
                             f"case:{row.case_id}", "api", {"appeal_id": row.id})
            return (201 if new else 200), appeal_view(row)

    def platform_appeal(self, appeal_id: str, platform: PlatformIdentity) -> dict[str, Any]:
        with self.db.transaction() as s:
            row = s.get(AppealRow, appeal_id)
            if row is None or row.platform_id != platform.id:
                raise NotFound("no such appeal for this platform", code="unknown_appeal")
            return appeal_view(row)

    # --- a reporter, from the status page -----------------------------------------

    def reporter_appeal(self, report_id: str, token: str, text: str) -> tuple[int, dict[str, Any]]:
        with self.db.transaction() as s:
            row, new = AppealBook(s, self.policy).lodge_reporter(report_id, token, text)
            if new:
                report = s.get(ReportRow, report_id)
                assert report is not None  # lodge_reporter found it
                send_appeal_news(s, report, row.id, row.status)
                audit.record(s, "reporter", "appeal_lodged", f"case:{row.case_id}", "web",
                             {"appeal_id": row.id})
            return (201 if new else 200), appeal_view(row)

    def reporter_appeals(self, report_id: str) -> list[dict[str, Any]]:
        """A report's appeals, for its status page (the token was checked there)."""
        with self.db.transaction() as s:
            return [appeal_view(r) for r in s.scalars(select(AppealRow).where(
                AppealRow.report_id == report_id).order_by(AppealRow.created_at))]

    # --- reviewers ----------------------------------------------------------------

    def appeals(self, reviewer: Reviewer, status: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
        """Appeals waiting for (or decided by) a person, oldest first; only those of
        cases the reviewer may see."""
        wanted = [status] if status else [AppealStatus.OPEN.value,
                                          AppealStatus.REVERSAL_PROPOSED.value]
        with self.db.transaction() as s:
            rows = s.scalars(select(AppealRow).where(AppealRow.status.in_(wanted))
                             .order_by(AppealRow.created_at).limit(limit))
            out = []
            for row in rows:
                state = DecisionDesk(s, self.policy).book.state(row.case_id)
                if may_view(state, self.policy, reviewer):
                    out.append({**self._for_reviewer(row), "category": state.category,
                                "may_decide": self._may_decide(state, row, reviewer)})
            return out

    def appeal_detail(self, appeal_id: str, reviewer: Reviewer,
                      source: str = "api") -> dict[str, Any]:
        """The appeal with its case beside it (as case_detail shows it)."""
        try:
            with self.db.transaction() as s:
                row = AppealBook(s, self.policy).get(appeal_id)
                state = DecisionDesk(s, self.policy).visible_state(row.case_id, reviewer)
                audit.record(s, reviewer.id, "appeal_viewed", f"case:{row.case_id}", source,
                             {"appeal_id": appeal_id})
                return {**self._for_reviewer(row),
                        "case": views.case_detail(s, self.policy, row.case_id, state)}
        except Forbidden:  # recorded apart: the refused transaction is rolled back
            self.audit(reviewer.id, "access_denied", f"appeal:{appeal_id}", source)
            raise

    def _may_decide(self, state: CaseState, row: AppealRow, reviewer: Reviewer) -> bool:
        try:
            check_decider(state, self.policy, AppealBook.facts(row), reviewer)
        except DecisionRefused:
            return False
        return True

    @staticmethod
    def _for_reviewer(row: AppealRow) -> dict[str, Any]:
        return {**appeal_view(row), "case_id": row.case_id, "text": row.text,
                "decision_under_appeal": row.decision_under_appeal,
                "original_deciders": list(row.original_deciders),
                "decided_by": row.decided_by}

    def decide_appeal(self, appeal_id: str, reviewer: Reviewer, outcome: AppealOutcome,
                      reason: str, source: str = "api") -> dict[str, Any]:
        if outcome is AppealOutcome.REVERSED:
            self._prepare_reversal(appeal_id, reviewer)
        with self.db.transaction() as s:
            decided = AppealBook(s, self.policy, self.sweeper(s)).decide(
                appeal_id, reviewer, outcome, reason)
            row, state = decided.appeal, decided.state
            if decided.seq is not None:  # the case's decision changed
                follow_decision(s, self.policy, self.vault, self.media_store, row.case_id,
                                state, reviewer.id)
                self._tell_reporters(s, row.case_id, decided.seq)
            if row.report_id is not None and AppealStatus(row.status).is_decided:
                report = s.get(ReportRow, row.report_id)
                if report is not None:
                    send_appeal_news(s, report, row.id, row.status, reason)
            audit.record(s, reviewer.id, "appeal_decided", f"case:{row.case_id}", source,
                         {"appeal_id": row.id, "outcome": outcome.value,
                          "status": row.status})
            return {**self._for_reviewer(row), "case_status": state.status.value}

    def _prepare_reversal(self, appeal_id: str, reviewer: Reviewer) -> None:
        """Reversing a dismissal banks the case's files: hash their references first,
        outside the transaction (as a decision does)."""
        with self.db.transaction() as s:
            row = AppealBook(s, self.policy).get(appeal_id)
            desk = DecisionDesk(s, self.policy)
            if desk.visible_state(row.case_id, reviewer).status is \
                    not CaseStatus.CLOSED_NO_VIOLATION:
                return
            files = desk.files_to_bank(row.case_id, reviewer, None)
        self._prepare_references(files)

    def _tell_reporters(self, s: Session, case_id: int, seq: int) -> None:
        state = DecisionDesk(s, self.policy).book.state(case_id)
        send_decision(s, case_id, state, seq, {
            r: views.tally(s, self.policy, case_id, state, r)
            for r in s.scalars(select(ReportRow.id).where(
                ReportRow.case_id == case_id, ReportRow.contact_email.is_not(None)))})

    # --- statements of reasons ----------------------------------------------------

    def statement(self, puid: str, platform: PlatformIdentity | None = None,
                  reviewer: Reviewer | None = None) -> dict[str, Any]:
        """A statement, for the platform it concerns or a reviewer who may see its case."""
        with self.db.transaction() as s:
            row = s.get(StatementRow, puid)
            if row is None or (platform is not None and row.platform_id != platform.id):
                raise NotFound("no statement of reasons with that puid", code="unknown_statement")
            if reviewer is not None and row.case_id is not None:
                DecisionDesk(s, self.policy).visible_state(row.case_id, reviewer)
            return {"puid": row.puid, "statement": row.body, "action_id": row.action_id,
                    "kind": row.kind, "replaces": row.replaces, "created_at": row.created_at,
                    "transparency_database": {"status": row.status,
                                              "sent_at": row.delivered_at,
                                              "error": row.last_error}}
