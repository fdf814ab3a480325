"""Content in: registration (with exact hashes and screening) and reach updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.banks.matching import Matcher
from takedown.banks.service import UNDER_REVIEW
from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import Enforcement, statement_basis
from takedown.cases.graph import ContentGraph
from takedown.cases.intake import reach_event
from takedown.cases.matches import MatchDesk
from takedown.cases.sweeps import Sweeper
from takedown.clock import utcnow
from takedown.domain.case import CaseState
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind, CaseStatus, ModerationState, ScreeningVerdict
from takedown.errors import Invalid
from takedown.index.live import Indexes
from takedown.legal.statements import AUTOMATED, PROVISIONAL, StatementBasis
from takedown.media.intake import PreparedMedia
from takedown.media.signals import SIGNAL_TYPES
from takedown.media.storage import MediaStore
from takedown.platform.actions import ActionLedger, content_action
from takedown.store.batches import chunks
from takedown.store.tables import (
    CaseRow,
    ContentMediaRow,
    ContentRow,
    MediaRow,
    PlatformRow,
    SignalChangeRow,
    SignalRow,
)


@dataclass(frozen=True)
class ContentSubmission:
    content_id: str
    author_id: str
    created_at: datetime
    text: str = ""
    url: str | None = None
    repost_of: str | None = None
    quote_of: str | None = None
    author_language: str | None = None


@dataclass(frozen=True)
class Registration:
    content_id: str
    verdict: ScreeningVerdict
    case_id: int | None
    reason: str | None
    created: bool
    media: list[PreparedMedia] = field(default_factory=list)


@dataclass(frozen=True)
class ReachUpdate:
    content_id: str
    views: int
    shares: int
    observed_at: datetime


_VERDICT_OF_ACTION = {"block": ScreeningVerdict.BLOCK, "restrict": ScreeningVerdict.RESTRICT,
                      "review": ScreeningVerdict.ALLOW}
_VERDICT_ORDER = {ScreeningVerdict.BLOCK: 0, ScreeningVerdict.RESTRICT: 1,
                  ScreeningVerdict.ALLOW: 2}
_VERDICT_OF_STATE = {
    ModerationState.VISIBLE.value: ScreeningVerdict.ALLOW,
    ModerationState.RESTRICTED.value: ScreeningVerdict.RESTRICT,
    ModerationState.REMOVED.value: ScreeningVerdict.BLOCK,
}


class ContentRegistry:
    def __init__(self, session: Session, policy: Policy, indexes: Indexes,
                 store: MediaStore) -> None:
        self.session = session
        self.policy = policy
        self.graph = ContentGraph(session)
        self.ledger = ActionLedger(session, policy)
        self.book = CaseBook(session, policy)
        self.matcher = Matcher(session, indexes)
        sweeper = Sweeper(session, indexes, store)
        enforcement = Enforcement(session, policy, self.book, self.ledger, sweeper)
        self.desk = MatchDesk(session, self.book, enforcement)

    def find(self, platform: PlatformRow, content_id: str) -> ContentRow | None:
        return self.session.scalar(select(ContentRow).where(
            ContentRow.platform_id == platform.id, ContentRow.external_id == content_id))

    def register(self, platform: PlatformRow, sub: ContentSubmission,
                 media: list[PreparedMedia]) -> Registration:
        existing = self.find(platform, sub.content_id)
        if existing is not None:  # a retry: the first registration stands
            return Registration(sub.content_id, _VERDICT_OF_STATE[existing.moderation_state],
                                existing.moderation_case_id, "already registered", False, media)
        parent, kind = self._parent(platform, sub)
        now = utcnow()
        row = ContentRow(
            platform_id=platform.id, external_id=sub.content_id, author_id=sub.author_id,
            url=sub.url, text=sub.text, created_at=sub.created_at, registered_at=now,
            parent_id=parent.id if parent else None, parent_kind=kind, views=0, shares=0,
            views_per_hour=0.0, moderation_state=ModerationState.VISIBLE.value,
            author_language=sub.author_language)
        self.session.add(row)
        self.session.flush()
        media_ids = [self._media(m).id for m in media]
        self.session.add_all(ContentMediaRow(content_id=row.id, media_id=m)
                             for m in dict.fromkeys(media_ids))
        self.session.flush()
        verdict, case_id, reason = self._screen(row, parent, media_ids, media)
        return Registration(sub.content_id, verdict, case_id, reason, True, media)

    def _parent(self, platform: PlatformRow,
                sub: ContentSubmission) -> tuple[ContentRow | None, str | None]:
        if sub.repost_of and sub.quote_of:
            raise Invalid("an item reposts or quotes one item, not both", code="invalid_parent",
                          fields=[{"field": "quote_of", "message": "set only one of "
                                   "repost_of and quote_of"}])
        parent_id, kind = (sub.repost_of, "repost") if sub.repost_of else (sub.quote_of, "quote")
        if parent_id is None:
            return None, None
        parent = self.find(platform, parent_id)
        if parent is None:
            field_name = "repost_of" if kind == "repost" else "quote_of"
            raise Invalid(f"{field_name} names content {parent_id!r} that is not registered; "
                          "register the original first", code="unknown_parent",
                          fields=[{"field": field_name, "message": "unknown content id"}])
        return parent, kind

    def _media(self, media: PreparedMedia) -> MediaRow:
        row = self.session.scalar(select(MediaRow).where(MediaRow.sha256 == media.sha256))
        if row is not None:
            return row
        row = MediaRow(sha256=media.sha256, size=media.size, mime=media.mime,
                       created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        signals = [SignalRow(media_id=row.id, signal_type=s.signal_type, value=s.value,
                             lookup=s.lookup, quality=s.quality) for s in media.signals]
        self.session.add_all(signals)
        self.session.flush()
        now = utcnow()
        self.session.add_all(SignalChangeRow(kind="media", op="add", ref_id=s.id, at=now)
                             for s in signals if not SIGNAL_TYPES[s.signal_type].exact)
        return row

    def _screen(self, row: ContentRow, parent: ContentRow | None, media_ids: list[int],
                media: list[PreparedMedia]) -> tuple[ScreeningVerdict, int | None, str | None]:
        """Act on bank matches of each file (exact or perceptual, per the bank's action;
        a copy of a file of a case under review is restricted and joins that case);
        block reposts of removed content and restrict reposts of restricted content."""
        answers = [answer for media_id, prepared in zip(media_ids, media, strict=True)
                   if (answer := self._screen_file(row, media_id, prepared)) is not None]
        if answers:  # each file joined its own case; the most urgent answer is given
            return min(answers, key=lambda a: _VERDICT_ORDER[a[0]])
        if parent is not None and parent.moderation_state != ModerationState.VISIBLE.value:
            verdict = _VERDICT_OF_STATE[parent.moderation_state]
            reason = f"{row.parent_kind}s content that is {parent.moderation_state}"
            return self._act(row, verdict, parent.moderation_case_id, reason)
        return ScreeningVerdict.ALLOW, None, None

    def _screen_file(self, row: ContentRow, media_id: int, prepared: PreparedMedia
                     ) -> tuple[ScreeningVerdict, int | None, str | None] | None:
        """One file against the banks: its most urgent match opens or joins a case about
        that file alone. A match of a case decided meanwhile is screened again: the
        decision's banks are then in place."""
        for _attempt in range(2):
            found = self.matcher.against_banks(prepared.signals)
            if not found:
                return None
            recorded = self.desk.record({row.id}, {media_id}, found[0])
            if recorded is not None:
                # Said to the platform: never which bank (see PLATFORM_REASONS).
                what = "content under review" if found[0].bank == UNDER_REVIEW else \
                    "known violating content"
                return _VERDICT_OF_ACTION[recorded.action], recorded.case_id, \
                    f"media matches {what}"
        return None

    def _act(self, row: ContentRow, verdict: ScreeningVerdict, case_id: int | None,
             reason: str) -> tuple[ScreeningVerdict, int | None, str | None]:
        kind = ActionKind.REMOVE if verdict is ScreeningVerdict.BLOCK else ActionKind.RESTRICT
        case = self.session.get(CaseRow, case_id) if case_id else None
        state = self.book.state(case_id) if case_id else CaseState()
        self.ledger.request([content_action(
            kind, row, step="screening", case_id=case_id, reason=reason,
            category=case.category if case else None,
            priority=case.priority if case else 0.0,
            basis=statement_basis(case_id, state, kind) if case_id else
            StatementBasis(PROVISIONAL if kind is ActionKind.RESTRICT else AUTOMATED, None))])
        return verdict, case_id, reason

    def update_reach(self, platform: PlatformRow,
                     updates: list[ReachUpdate]) -> tuple[int, list[str]]:
        """Store reach counters; record a reach event on each open case whose reach
        moved to another tier. Returns (items updated, unknown content ids)."""
        by_id = {u.content_id: u for u in updates}
        rows: dict[str, ContentRow] = {}
        for batch in chunks(list(by_id)):
            rows.update((r.external_id, r) for r in self.session.scalars(
                select(ContentRow).where(ContentRow.platform_id == platform.id,
                                         ContentRow.external_id.in_(batch))))
        changed = [rows[cid] for cid, u in by_id.items() if cid in rows and _observe(rows[cid], u)]
        self.session.flush()
        for case_id in self._open_cases_about([r.id for r in changed]):
            state = self.book.state(case_id)
            events = reach_event(state, self.graph.reach(self.graph.case_items(case_id)))
            if events:
                self.book.append(case_id, events)
        return len(changed), sorted(set(by_id) - set(rows))

    def _open_cases_about(self, content_ids: list[int]) -> set[int]:
        open_statuses = [s.value for s in CaseStatus if not s.is_closed]
        if not content_ids or not self.session.scalar(
                select(CaseRow.id).where(CaseRow.status.in_(open_statuses)).limit(1)):
            return set()
        return self.book.cases_reaching(self.graph, content_ids, statuses=open_statuses)


def _observe(row: ContentRow, update: ReachUpdate) -> bool:
    """Apply one reach observation; stale (older) observations are ignored."""
    previous = row.reach_observed_at
    if previous is not None and update.observed_at <= previous:
        return False
    if previous is not None:
        hours = (update.observed_at - previous).total_seconds() / 3600
        row.views_per_hour = max(0, update.views - row.views) / hours
    row.views, row.shares, row.reach_observed_at = update.views, update.shares, update.observed_at
    return True
