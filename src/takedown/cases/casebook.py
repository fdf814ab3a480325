"""The case log: append events, and re-derive the case's projection from them.

`cases` rows are a projection for queue queries. They change only here, right
after an event is appended, and always to what `fold` derives from the whole log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from takedown.cases.graph import ContentGraph
from takedown.clock import utcnow
from takedown.domain.case import CaseEvent, CaseState, EventType, NewEvent, fold, priority
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import CaseStatus, MediaVia
from takedown.errors import NotFound
from takedown.store.batches import chunks
from takedown.store.tables import CaseContentRow, CaseEventRow, CaseMediaRow, CaseRow


@dataclass(frozen=True)
class MediaLink:
    """How a file joins a case (see CaseMediaRow)."""

    via: MediaVia
    copy_of: int | None = None
    distance: int | None = None
    bank: str | None = None


PENDING_STATES = "takedown.case_states"
_STATE_CACHE_SIZE = 10_000


def committed_states(session: Session) -> dict[tuple[int, int], CaseState]:
    """The states of recently folded cases as of their last commit in this process,
    by (case, policy). Shared by the sessions of one engine; filled only after a
    commit, so a rolled-back transaction's events never get into it."""
    engine = session.get_bind()
    cache: dict[tuple[int, int], CaseState] | None = getattr(engine, "_takedown_states", None)
    if cache is None:
        cache = {}
        engine._takedown_states = cache  # type: ignore[union-attr]
    return cache


@event.listens_for(Session, "after_commit")
def _publish_states(session: Session) -> None:
    pending = session.info.pop(PENDING_STATES, None)
    if not pending:
        return
    cache = committed_states(session)
    if len(cache) > _STATE_CACHE_SIZE:
        cache.clear()  # simple and rare: a busy process refills it from the logs
    for key, state in pending.items():
        known = cache.get(key)
        if known is None or known.events < state.events:
            cache[key] = state


@event.listens_for(Session, "after_rollback")
def _forget_states(session: Session) -> None:
    session.info.pop(PENDING_STATES, None)


# Advisory-lock key spaces (the first half of PostgreSQL's two-int lock key).
CONTENT_LOCK = 1
MEDIA_LOCK = 2


class CaseBook:
    def __init__(self, session: Session, policy: Policy) -> None:
        self.session = session
        self.policy = policy

    def open(self) -> CaseRow:
        now = utcnow()
        row = CaseRow(created_at=now, updated_at=now, status=CaseStatus.OPEN.value,
                      priority=0.0, restricted=False, event_count=0)
        self.session.add(row)
        self.session.flush()
        return row

    def serialise(self, graph: ContentGraph, items: set[int], files: Iterable[int]) -> None:
        """Hold, until commit, the right to find-or-open the case about these items (and
        what they repost or quote) and files: concurrent reports and matches on the same
        content then join one case instead of each opening its own. On PostgreSQL these
        are transaction-scoped advisory locks taken in one global order, so two of them
        never wait on each other crosswise; SQLite's BEGIN IMMEDIATE already runs one
        writer at a time."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        keys = sorted({(CONTENT_LOCK, i) for i in graph.ancestors_or_self(items)}
                      | {(MEDIA_LOCK, f) for f in files})
        for space, key in keys:
            self.session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                                 {"space": space, "key": key})

    def case_about(self, graph: ContentGraph, items: set[int],
                   files: Iterable[int] = ()) -> int | None:
        """The newest case to join: one about any of these items (or what they repost
        or quote), or about any of these files — the files that join with them, never
        an album's other files, which would pull a report into another file's case."""
        return max(self._cases(graph.ancestors_or_self(items), set(files)), default=None)

    def cases_reaching(self, graph: ContentGraph, items: Iterable[int],
                       statuses: list[str] | None = None) -> set[int]:
        """The cases (in these statuses) that reach these items: about them or what they
        repost or quote, or about a file one of those carries."""
        shown = graph.ancestors_or_self(items)
        return self._cases(shown, graph.media_of(shown), statuses)

    def _cases(self, items: set[int], files: set[int],
               statuses: list[str] | None = None) -> set[int]:
        found: set[int] = set()
        for case, column, values in ((CaseContentRow.case_id, CaseContentRow.content_id, items),
                                     (CaseMediaRow.case_id, CaseMediaRow.media_id, files)):
            for batch in chunks(values):
                query = select(case).distinct().where(column.in_(batch))
                if statuses is not None:
                    query = query.join(CaseRow, CaseRow.id == case).where(
                        CaseRow.status.in_(statuses))
                found.update(self.session.scalars(query))
        return found

    def link(self, graph: ContentGraph, case_id: int, items: set[int]) -> None:
        """Make the case about these items too (by their origins)."""
        origins = {graph.origin(i) for i in items}
        known = graph.case_subjects(case_id)
        self.session.add_all(CaseContentRow(case_id=case_id, content_id=o)
                             for o in origins - known)
        self.session.flush()

    def link_media(self, case_id: int, links: dict[int, MediaLink]) -> set[int]:
        """Make the case about these files; returns those that are new to it. A file
        already in the case keeps how it first joined, except that a copy a reviewer
        names becomes the reviewer's."""
        known = {r.media_id: r for r in self.session.scalars(
            select(CaseMediaRow).where(CaseMediaRow.case_id == case_id))}
        now = utcnow()
        new = set()
        for media_id, link in links.items():
            row = known.get(media_id)
            if row is None:
                self.session.add(CaseMediaRow(
                    case_id=case_id, media_id=media_id, via=link.via.value,
                    copy_of=link.copy_of, distance=link.distance, bank=link.bank,
                    added_at=now))
                new.add(media_id)
            elif link.via is MediaVia.REVIEWER and row.via == MediaVia.COPY.value:
                row.via = MediaVia.REVIEWER.value
        self.session.flush()
        return new

    def lock(self, case_id: int) -> CaseRow:
        """The case row, locked until commit, so concurrent appends queue up."""
        row = self.session.scalar(
            select(CaseRow).where(CaseRow.id == case_id).with_for_update())
        if row is None:
            raise NotFound(f"no case {case_id}", code="unknown_case")
        return row

    def events(self, case_id: int, after: int = 0) -> list[CaseEvent]:
        rows = self.session.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id,
                                       CaseEventRow.seq > after)
            .order_by(CaseEventRow.seq))
        return [CaseEvent(EventType(r.type), r.at, r.actor, r.data) for r in rows]

    def state(self, case_id: int) -> CaseState:
        """The case's state: folded from its log, starting from the newest committed
        state this process has seen (a log is only ever appended to, so a state after
        its first n events stays true) — a viral case's thousands of events are not
        read again for each report."""
        cache = committed_states(self.session)
        known = cache.get((case_id, id(self.policy)))
        state = fold(self.events(case_id, known.events if known else 0), self.policy, known)
        pending: dict[tuple[int, int], CaseState] = self.session.info.setdefault(
            PENDING_STATES, {})
        pending[(case_id, id(self.policy))] = state.copy()  # callers may change theirs
        return state

    def append(self, case_id: int, new: Sequence[NewEvent]) -> tuple[CaseState, int]:
        """Append events; returns the new state and the sequence number of the last."""
        row = self.lock(case_id)
        now = utcnow()
        seq = row.event_count
        for appended in new:
            seq += 1
            self.session.add(CaseEventRow(case_id=case_id, seq=seq, type=appended.type.value,
                                          at=now, actor=appended.actor,
                                          data=dict(appended.data)))
        self.session.flush()
        state = self.state(case_id)
        self._project(row, state)
        return state, seq

    def _project(self, row: CaseRow, state: CaseState) -> None:
        row.status = state.status.value
        row.category = state.category.value if state.category else None
        row.priority = priority(state, self.policy)
        row.deadline = state.deadline
        row.restricted = state.restricted
        row.escalations = state.escalations
        row.claimed_by, row.claimed_until = state.claimed_by, state.claimed_until
        row.event_count = state.events
        row.updated_at = utcnow()
