"""The case log: append events, and re-derive the case's projection from them.

`cases` rows are a projection for queue queries. They change only here, right
after an event is appended, and always to what `fold` derives from the whole log.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.cases.graph import ContentGraph, chunks
from takedown.clock import utcnow
from takedown.domain.case import CaseEvent, CaseState, EventType, NewEvent, fold, priority
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import CaseStatus
from takedown.errors import NotFound
from takedown.store.tables import CaseContentRow, CaseEventRow, CaseRow


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

    def case_about(self, graph: ContentGraph, items: set[int]) -> int | None:
        """The newest case about any copy of these items."""
        newest = None
        for batch in chunks(graph.cluster(items)):
            found = self.session.scalar(select(func.max(CaseContentRow.case_id))
                                        .where(CaseContentRow.content_id.in_(batch)))
            if found is not None and (newest is None or found > newest):
                newest = found
        return newest

    def link(self, graph: ContentGraph, case_id: int, items: set[int]) -> None:
        """Make the case about these items too (by their origins)."""
        origins = {graph.origin(i) for i in items}
        known = graph.case_subjects(case_id)
        self.session.add_all(CaseContentRow(case_id=case_id, content_id=o)
                             for o in origins - known)
        self.session.flush()

    def lock(self, case_id: int) -> CaseRow:
        """The case row, locked until commit, so concurrent appends queue up."""
        row = self.session.scalar(
            select(CaseRow).where(CaseRow.id == case_id).with_for_update())
        if row is None:
            raise NotFound(f"no case {case_id}", code="unknown_case")
        return row

    def events(self, case_id: int) -> list[CaseEvent]:
        rows = self.session.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id)
            .order_by(CaseEventRow.seq))
        return [CaseEvent(EventType(r.type), r.at, r.actor, r.data) for r in rows]

    def state(self, case_id: int) -> CaseState:
        return fold(self.events(case_id), self.policy)

    def append(self, case_id: int, new: Sequence[NewEvent]) -> tuple[CaseState, int]:
        """Append events; returns the new state and the sequence number of the last."""
        row = self.lock(case_id)
        now = utcnow()
        seq = row.event_count
        for event in new:
            seq += 1
            self.session.add(CaseEventRow(case_id=case_id, seq=seq, type=event.type.value,
                                          at=now, actor=event.actor, data=dict(event.data)))
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
