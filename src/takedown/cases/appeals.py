"""Appeals (DSA Art. 20): lodged by the uploader through the platform or by a reporter
from their status page, decided by a person (domain.appeals has the rules). A reversal
replaces the case's decision: a reversed removal restores every item the decision
removed and stops blocking its files; a reversed dismissal enforces as a violation."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.access import report_for_token
from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import Enforcement, suggested
from takedown.cases.sweeps import Sweeper
from takedown.clock import utcnow
from takedown.domain import appeals as rules
from takedown.domain.appeals import AppealFacts, AppealOutcome, AppealStatus, Appellant
from takedown.domain.case import CaseState, DecisionRefused, EventType, NewEvent, Reviewer
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind, CaseStatus
from takedown.errors import Conflict, Forbidden, Invalid, NotFound
from takedown.notify.uploader import appeal_notice
from takedown.platform.actions import ActionLedger, ActionRequest
from takedown.store.tables import AppealRow, ContentRow, MediaRow, StatementRow


@dataclass(frozen=True)
class AppealDecision:
    appeal: AppealRow
    state: CaseState
    seq: int | None  # the reversal's `decided` event, when there is one


def uploader_key(platform_id: int, author_id: str) -> str:
    """Who an uploader's appeals belong to, without keeping the account id twice."""
    return hashlib.sha256(f"uploader:{platform_id}:{author_id}".encode()).hexdigest()


class AppealBook:
    def __init__(self, session: Session, policy: Policy, sweeper: Sweeper | None = None
                 ) -> None:
        self.session = session
        self.policy = policy
        self.book = CaseBook(session, policy)
        self.ledger = ActionLedger(session, policy)
        self.enforcement = Enforcement(session, policy, self.book, self.ledger, sweeper)

    # --- lodging -------------------------------------------------------------------

    def lodge_uploader(self, platform_id: int, content_id: str | None, puid: str | None,
                       text: str, language: str | None) -> tuple[AppealRow, bool]:
        """(the appeal, whether it is new): an open appeal of the same uploader on the
        same case is the same appeal, so a retried request makes no second one."""
        item, statement = self._item(platform_id, content_id, puid)
        case_id = statement.case_id if statement is not None else item.moderation_case_id
        if case_id is None:
            raise Conflict("no decision of takedown applies to this content",
                           code="nothing_to_appeal")
        return self._lodge(case_id, Appellant.UPLOADER, uploader_key(platform_id,
                                                                     item.author_id),
                           text, language or item.author_language or "en",
                           platform_id=platform_id, content_id=item.id,
                           statement_puid=statement.puid if statement else None)

    def lodge_reporter(self, report_id: str, token: str, text: str) -> tuple[AppealRow, bool]:
        report = report_for_token(self.session, report_id, token)
        return self._lodge(report.case_id, Appellant.REPORTER, report.reporter_key, text,
                           report.language, report_id=report.id)

    def _item(self, platform_id: int, content_id: str | None,
              puid: str | None) -> tuple[ContentRow, StatementRow | None]:
        statement = None
        if puid is not None:
            statement = self.session.get(StatementRow, puid)
            if statement is None or statement.platform_id != platform_id \
                    or statement.content_id is None:
                raise NotFound("no statement of reasons with that puid for this platform",
                               code="unknown_statement")
            item = self.session.get(ContentRow, statement.content_id)
        else:
            item = self.session.scalar(select(ContentRow).where(
                ContentRow.platform_id == platform_id, ContentRow.external_id == content_id))
        if item is None:
            raise NotFound("no content with that id on this platform", code="unknown_content")
        return item, statement

    def _lodge(self, case_id: int, appellant: Appellant, key: str, text: str, language: str,
               **where: Any) -> tuple[AppealRow, bool]:
        self.book.lock(case_id)
        open_ = self.session.scalar(select(AppealRow).where(
            AppealRow.case_id == case_id, AppealRow.appellant_key == key,
            AppealRow.status.in_([AppealStatus.OPEN.value,
                                  AppealStatus.REVERSAL_PROPOSED.value])))
        if open_ is not None:
            return open_, False
        state = self.book.state(case_id)
        now = utcnow()
        self._refuse(lambda: rules.may_appeal(state, appellant, self.policy, now))
        self._refuse_suspended(key, now)
        row = AppealRow(
            id=str(uuid.uuid4()), case_id=case_id, appellant=appellant.value,
            appellant_key=key, text=text, language=language,
            status=AppealStatus.OPEN.value,
            decision_under_appeal=state.status.value,
            original_deciders=list(state.decided_by), created_at=now, **where)
        self.session.add(row)
        self.session.flush()
        self.book.append(case_id, [NewEvent(EventType.APPEALED, {
            "appeal_id": row.id, "appellant": appellant.value})])
        return row, True

    def _refuse_suspended(self, key: str, now: Any) -> None:
        refusals = list(self.session.scalars(select(AppealRow.decided_at).where(
            AppealRow.appellant_key == key, AppealRow.status == AppealStatus.REFUSED.value)))
        until = rules.suspended_until([t for t in refusals if t is not None], self.policy, now)
        if until is not None:
            raise Forbidden(f"appeals from this account are suspended until {until:%Y-%m-%d} "
                            f"after {self.policy.dsa.unfounded_limit} appeals were refused as "
                            "manifestly unfounded (DSA Art. 23)", code="appeals_suspended")

    # --- deciding ------------------------------------------------------------------

    def get(self, appeal_id: str) -> AppealRow:
        row = self.session.get(AppealRow, appeal_id)
        if row is None:
            raise NotFound("no such appeal", code="unknown_appeal")
        return row

    def decide(self, appeal_id: str, reviewer: Reviewer, outcome: AppealOutcome,
               reason: str) -> AppealDecision:
        row = self.get(appeal_id)
        self.book.lock(row.case_id)
        self.session.refresh(row)
        state = self.book.state(row.case_id)
        facts = self.facts(row)
        self._refuse(lambda: rules.check_decider(state, self.policy, facts, reviewer))
        if state.status.value != row.decision_under_appeal:
            raise Conflict("the case's decision changed since this appeal was lodged; "
                           "decide the case itself", code="decision_changed")
        if outcome is AppealOutcome.REFUSED and not reason.strip():
            raise Invalid("say why the appeal is manifestly unfounded", code="reason_required",
                          fields=[{"field": "reason", "message": "required to refuse"}])
        now = utcnow()
        if outcome is AppealOutcome.REVERSED and \
                rules.needs_second_specialist(state, self.policy, facts):
            row.status, row.decided_by = AppealStatus.REVERSAL_PROPOSED.value, reviewer.id
            row.reason = reason
            state, _ = self.book.append(row.case_id, [NewEvent(EventType.APPEAL_DECIDED, {
                "appeal_id": row.id, "outcome": "reversal_proposed", "reason": reason},
                reviewer.id)])
            return AppealDecision(row, state, None)
        seq = self._reverse(row, state, facts, reviewer, reason) \
            if outcome is AppealOutcome.REVERSED else None
        row.status = outcome.value
        row.decided_at, row.reason = now, reason
        row.decided_by = ",".join(r for r in (facts.proposed_by, reviewer.id) if r)
        state, _ = self.book.append(row.case_id, [rules.appeal_decided(
            facts, outcome.value, reviewer, reason, row.created_at, now)])
        self._tell_uploader(row, state)
        return AppealDecision(row, state, seq)

    @staticmethod
    def facts(row: AppealRow) -> AppealFacts:
        status = AppealStatus(row.status)
        return AppealFacts(row.id, status, tuple(row.original_deciders),
                           row.decided_by if status is AppealStatus.REVERSAL_PROPOSED
                           else None)

    def _reverse(self, row: AppealRow, state: CaseState, facts: AppealFacts,
                 reviewer: Reviewer, reason: str) -> int:
        media: list[str] = []
        reversing_removal = state.status is CaseStatus.CLOSED_VIOLATION
        if not reversing_removal:
            self.enforcement.join_copies(row.case_id)
            files = suggested(self.session, self.policy, row.case_id, state)
            media = sorted(self.session.scalars(select(MediaRow.sha256).where(
                MediaRow.id.in_(files))))
        event = rules.reversal(state, self.policy, facts, reviewer, reason, media)
        state, seq = self.book.append(row.case_id, [event])
        step = f"case:{row.case_id}:event:{seq}"
        if reversing_removal:
            self.enforcement.reverse(row.case_id, state, step)
        else:
            self.enforcement.carry_out(row.case_id, state, step)
        return seq

    def _tell_uploader(self, row: AppealRow, state: CaseState) -> None:
        """The uploader learns the outcome through their platform, in their language."""
        if row.appellant != Appellant.UPLOADER.value or row.platform_id is None \
                or row.content_id is None:
            return
        item = self.session.get(ContentRow, row.content_id)
        assert item is not None  # appeals reference content by foreign key
        self.ledger.request([ActionRequest(
            kind=ActionKind.APPEAL_DECIDED, platform_id=row.platform_id,
            target_type="appeal", target_id=row.id,
            dedupe_key=f"appeal_decided:{row.id}", case_id=row.case_id,
            reason=row.status, category=state.category.value if state.category else None,
            priority=0.0, extra={
                "content_id": item.external_id,
                "appeal": {"appeal_id": row.id, "status": row.status},
                "notice": appeal_notice(row.status, row.language, row.reason)})])

    @staticmethod
    def _refuse(check: Any) -> None:
        try:
            check()
        except DecisionRefused as refused:
            error = {"forbidden": Forbidden, "invalid": Invalid}.get(refused.code, Conflict)
            code = "appeal_too_late" if refused.code == "gone" else f"appeal_{refused.code}"
            raise error(refused.message, code=code) from None


def appeal_view(row: AppealRow) -> dict[str, Any]:
    """An appeal as the appellant (or their platform) sees it."""
    return {"appeal_id": row.id, "status": row.status, "appellant": row.appellant,
            "created_at": row.created_at, "decided_at": row.decided_at,
            "reason": row.reason if AppealStatus(row.status).is_decided else None,
            "statement_puid": row.statement_puid, "language": row.language}
