"""Reviewers' decisions: checked by the domain rules, appended, then carried out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook, MediaLink
from takedown.cases.enforcement import Enforcement, media_ids, suggested
from takedown.cases.sweeps import Sweeper
from takedown.clock import utcnow
from takedown.domain.case import (
    CaseState,
    DecisionRefused,
    EventType,
    NewEvent,
    Reviewer,
    claim,
    decide,
    may_view,
)
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import Category, MediaVia, Outcome
from takedown.errors import Conflict, Forbidden, Invalid
from takedown.platform.actions import ActionLedger
from takedown.store.batches import chunks
from takedown.store.tables import MediaRow


@dataclass(frozen=True)
class DecisionResult:
    case_id: int
    state: CaseState
    appended: list[str]
    actions_requested: int
    seq: int  # the last event appended


class DecisionDesk:
    def __init__(self, session: Session, policy: Policy, sweeper: Sweeper | None = None) -> None:
        self.session = session
        self.policy = policy
        self.book = CaseBook(session, policy)
        self.ledger = ActionLedger(session, policy)
        self.enforcement = Enforcement(session, policy, self.book, self.ledger, sweeper)

    def visible_state(self, case_id: int, reviewer: Reviewer) -> CaseState:
        self.book.lock(case_id)  # 404 for an unknown case before anything else
        state = self.book.state(case_id)
        if not may_view(state, self.policy, reviewer):
            raise Forbidden("child-safety cases are open only to child-safety specialists, "
                            "liaisons and admins", code="child_safety_only")
        return state

    def claim(self, case_id: int, reviewer: Reviewer) -> CaseState:
        state = self.visible_state(case_id, reviewer)
        try:
            event = claim(state, self.policy, reviewer, utcnow(), self.policy.escalation.claim)
        except DecisionRefused as refused:
            if refused.code == "forbidden":
                raise Forbidden(refused.message, code="specialists_queue") from None
            raise Conflict(refused.message, code="claimed") from None
        return self.book.append(case_id, [event])[0]

    def decide(self, case_id: int, reviewer: Reviewer, outcome: Outcome, notes: str,
               category: Category | None = None, reason: str | None = None,
               question: str | None = None,
               media: list[str] | None = None) -> DecisionResult:
        """`media`: with a violation, the files (SHA-256) the reviewer confirms as
        abusive; by default the case's files (what was reported or matched, and copies
        of it)."""
        state = self.visible_state(case_id, reviewer)
        if media is not None and outcome is not Outcome.VIOLATION:
            raise Invalid("`media` names the files a violation confirms; it goes only with "
                          "the outcome `violation`", code="media_without_violation",
                          fields=[{"field": "media", "message": "only with violation"}])
        new = self._events(state, reviewer, outcome, notes, category, reason, question, [])
        if any(e.type is EventType.DECIDED for e in new) and outcome is Outcome.VIOLATION:
            self.enforcement.join_copies(case_id)
            new = self._events(state, reviewer, outcome, notes, category, reason, question,
                               self._confirmed_files(case_id, media))
        state, seq = self.book.append(case_id, new)
        if any(e.type is EventType.DECIDED for e in new):
            self.enforcement.carry_out(case_id, state, step=f"case:{case_id}:event:{seq}")
        return DecisionResult(case_id, self.book.state(case_id), [e.type.value for e in new],
                              self.ledger.created, seq)

    def files_to_bank(self, case_id: int, reviewer: Reviewer,
                      named: list[str] | None) -> set[int]:
        """The files whose references a violation by this reviewer would bank: the
        case's own files (not copies) and those named, if they are files of the case.
        Nothing for a reviewer who may not see the case."""
        self.visible_state(case_id, reviewer)  # 404 or 403 before any hashing
        graph = self.enforcement.graph
        linked = graph.case_media(case_id)
        own = {m for m, row in linked.items() if row.via != MediaVia.COPY.value}
        if not named:
            return own
        return own | (media_ids(self.session, named) & graph.media_of(graph.case_items(case_id)))

    def _events(self, state: CaseState, reviewer: Reviewer, outcome: Outcome, notes: str,
                category: Category | None, reason: str | None, question: str | None,
                media: list[str]) -> list[NewEvent]:
        try:
            return decide(state, self.policy, reviewer, outcome, notes, category, reason,
                          question, media)
        except DecisionRefused as refused:
            error = {"forbidden": Forbidden, "invalid": Invalid}.get(refused.code, Conflict)
            raise error(refused.message, code=f"decision_{refused.code}",
                        fields=[{"field": "reason", "message": refused.message}]
                        if refused.code == "invalid" else None) from None

    def _confirmed_files(self, case_id: int, named: list[str] | None) -> list[str]:
        """The files a violation confirms: those named (each must be a file of an item
        the case reaches; named files join the case), or by default the case's files.
        A reported post with several files, none of which matched, is ambiguous: the
        reviewer must say which are abusive (an empty list: none, the text is)."""
        graph = self.enforcement.graph
        linked = graph.case_media(case_id)
        files = {m.sha256: m.id for m in media_rows(self.session, graph.media_of(
            graph.case_items(case_id)))}
        if named is None:
            default = suggested(self.session, self.policy, case_id,
                                self.book.state(case_id))
            unclear = [i for i, f in graph.files(graph.case_subjects(case_id)).items()
                       if len(f) > 1 and not f & set(linked)]
            if unclear:
                raise Invalid("a reported post carries several files and none of them matched "
                              "anything: say which are abusive in `media` (their SHA-256), "
                              "or send an empty list if none is",
                              code="abusive_media_required",
                              fields=[{"field": "media", "message": "choose among "
                                       + ", ".join(sorted(files))}])
            return sorted(sha for sha, media_id in files.items() if media_id in default)
        unknown = [sha for sha in named if sha not in files]
        if unknown:
            raise Invalid("these files are not in the case: " + ", ".join(unknown),
                          code="unknown_media",
                          fields=[{"field": "media", "message": f"not in the case: {sha}"}
                                  for sha in unknown])
        self.book.link_media(case_id, {files[sha]: MediaLink(MediaVia.REVIEWER)
                                       for sha in named})
        return sorted(set(named))


def media_rows(session: Session, media_ids: Iterable[int]) -> list[MediaRow]:
    return [m for batch in chunks(media_ids) for m in session.scalars(
        select(MediaRow).where(MediaRow.id.in_(batch)).order_by(MediaRow.id))]
