"""Reviewers' work: the queue, a case, its media, decisions, claims, actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown import audit
from takedown.cases import views
from takedown.cases.decisions import DecisionDesk
from takedown.cases.graph import ContentGraph
from takedown.clock import utcnow
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import CaseStatus, Category, Outcome, Role
from takedown.errors import (
    Forbidden,
    NotFound,
    TakedownError,
)
from takedown.legal.casework import follow_decision
from takedown.notify.mail import ask_reporters, send_decision
from takedown.service.core import Core
from takedown.store.tables import (
    AuditEntryRow,
    MediaRow,
    ReportRow,
)


class ModerationDesk(Core):

    def queue(self, reviewer: Reviewer, *, statuses: list[CaseStatus] | None,
              category: Category | None, limit: int, mine: bool = False,
              language: str | None = None, specialists: bool | None = None,
              ) -> list[dict[str, Any]]:
        """Open cases, most urgent first. `specialists`: True for the specialists' queue
        (child-safety and escalated cases), False for the general one, None for both.
        Moderators have the general queue only."""
        if reviewer.role is Role.MODERATOR:
            if specialists:
                raise Forbidden("the specialists' queue is for child-safety specialists, "
                                "liaisons and admins", code="specialists_only")
            specialists = False
        wanted = [s.value for s in (statuses or [s for s in CaseStatus if not s.is_closed])]
        special = frozenset(c.value for c, p in self.policy.categories.items()
                            if p.specialist_only)
        with self.db.transaction() as s:
            return views.queue(s, statuses=wanted, category=category.value if category else None,
                               limit=limit, claimed_by=reviewer.id if mine else None,
                               language=language, specialists=specialists,
                               specialist_categories=special)

    def case_detail(self, case_id: int, reviewer: Reviewer,
                    source: str = "api") -> dict[str, Any]:
        """The case, for a reviewer allowed to see it; a refusal is audited too."""
        try:
            with self.db.transaction() as s:
                state = DecisionDesk(s, self.policy).visible_state(case_id, reviewer)
                audit.record(s, reviewer.id, "case_viewed", f"case:{case_id}", source)
                return views.case_detail(s, self.policy, case_id, state)
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"case:{case_id}", source)
            raise

    def case_media(self, case_id: int, sha256: str, reviewer: Reviewer,
                   source: str, *, clear: bool = True) -> tuple[bytes, str | None]:
        """One media file of a case, for a reviewer allowed to see the case. Every view
        is audited; a clear one (not the blurred default, `clear=False`) also counts
        towards the reviewer's views today."""
        try:
            with self.db.transaction() as s:
                DecisionDesk(s, self.policy).visible_state(case_id, reviewer)
                graph = ContentGraph(s)
                media = s.scalar(select(MediaRow).where(MediaRow.sha256 == sha256))
                if media is None or media.id not in graph.media_of(graph.case_items(case_id)):
                    raise NotFound("no such media in this case", code="unknown_media")
                audit.record(s, reviewer.id, "media_viewed" if clear else "media_previewed",
                             f"case:{case_id}", source, {"sha256": sha256})
                mime = media.mime
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"case:{case_id}/media", source)
            raise
        return self.media_store.get(sha256), mime

    def media_views_by_reviewer(self) -> dict[str, int]:
        """Media opened today, per reviewer: for admins watching exposure."""
        start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.transaction() as s:
            return {actor: int(n) for actor, n in s.execute(
                select(AuditEntryRow.actor, func.count()).where(
                    AuditEntryRow.action == "media_viewed", AuditEntryRow.at >= start)
                .group_by(AuditEntryRow.actor))}

    def media_views_today(self, reviewer: Reviewer) -> int:
        start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.transaction() as s:
            return int(s.scalar(select(func.count()).select_from(AuditEntryRow).where(
                AuditEntryRow.actor == reviewer.id, AuditEntryRow.action == "media_viewed",
                AuditEntryRow.at >= start)) or 0)

    def decide(self, case_id: int, reviewer: Reviewer, outcome: Outcome, notes: str,
               category: Category | None, idempotency_key: str | None,
               payload: Any, source: str = "api", reason: str | None = None,
               question: str | None = None,
               media: list[str] | None = None) -> tuple[int, dict[str, Any]]:
        """`media`: with a violation, the files the reviewer confirms (SHA-256); by
        default the case's own files and their copies."""
        if outcome is Outcome.VIOLATION:
            with self.db.transaction() as s:  # hash what will be banked beforehand
                files = DecisionDesk(s, self.policy).files_to_bank(case_id, reviewer, media)
            self._prepare_references(files)

        def handle(s: Session) -> tuple[int, dict[str, Any]]:
            result = DecisionDesk(s, self.policy, self.sweeper(s)).decide(
                case_id, reviewer, outcome, notes, category, reason, question, media)
            if "information_requested" in result.appended:
                ask_reporters(s, case_id, result.state, result.seq)
            if "decided" in result.appended:  # the CyberTipline draft, the evidence sealed
                follow_decision(s, self.policy, self.vault, self.media_store, case_id,
                                result.state, reviewer.id)
                send_decision(s, case_id, result.state, result.seq, {
                    r: views.tally(s, self.policy, case_id, result.state, r)
                    for r in s.scalars(select(ReportRow.id).where(  # those written to
                        ReportRow.case_id == case_id, ReportRow.contact_email.is_not(None)))})
            audit.record(s, reviewer.id, "decided", f"case:{case_id}", source,
                         {"outcome": outcome.value, "appended": result.appended,
                          "status": result.state.status.value})
            return 200, {"case_id": case_id, "status": result.state.status.value,
                         "appended": result.appended,
                         "actions_requested": result.actions_requested}

        return self._idempotent(f"decision:{case_id}:{reviewer.id}", idempotency_key,
                                payload, handle)

    def decide_many(self, case_ids: list[int], reviewer: Reviewer, outcome: Outcome,
                    notes: str, reason: str | None, source: str,
                    question: str | None = None) -> list[dict[str, Any]]:
        """One decision for many cases (floods), each in its own transaction and under
        the same rules: a child-safety dismissal is still only a proposal."""
        results = []
        for case_id in dict.fromkeys(case_ids):
            try:
                _, body = self.decide(case_id, reviewer, outcome, notes, None, None, {},
                                      source, reason, question)
                results.append({"case_id": case_id, "status": body["status"], "error": None})
            except TakedownError as exc:
                results.append({"case_id": case_id, "status": None, "error": exc.message})
        return results

    def claim(self, case_id: int, reviewer: Reviewer, source: str) -> dict[str, Any]:
        """Take the case for the policy's claim time; 409 if someone else holds it."""
        with self.db.transaction() as s:
            state = DecisionDesk(s, self.policy).claim(case_id, reviewer)
            audit.record(s, reviewer.id, "claimed", f"case:{case_id}", source)
            return {"case_id": case_id, "claimed_by": state.claimed_by,
                    "claimed_until": state.claimed_until}

    def actions(self, *, case_id: int | None = None, platform_id: int | None = None,
                status: str | None = None, limit: int = 100, offset: int = 0,
                reviewer: Reviewer | None = None) -> list[dict[str, Any]]:
        """Actions and their delivery state. For a reviewer, only those of cases the
        reviewer may see: a case they may not see is a 403, as its page is."""
        with self.db.transaction() as s:
            hidden: list[str] = []
            if reviewer is not None:
                if case_id is not None:
                    DecisionDesk(s, self.policy).visible_state(case_id, reviewer)
                hidden = views.categories_hidden_from(self.policy, reviewer)
            return views.actions(s, case_id=case_id, platform_id=platform_id, status=status,
                                 limit=limit, offset=offset, hidden_categories=hidden)
