"""Migrations match the models; a case's row is exactly what its event log derives."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.cases.casebook import CaseBook
from takedown.domain.case import priority
from takedown.store.tables import Base, CaseEventRow, CaseRow
from takedown.system import Takedown
from tests.conftest import Keys
from tests.helpers import register, report


def test_migrations_produce_exactly_the_models(system: Takedown) -> None:
    with system.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_twice_is_harmless(system: Takedown) -> None:
    system.migrate()
    system.migrate()


def test_case_rows_are_the_fold_of_their_events(client: TestClient, keys: Keys,
                                                system: Takedown) -> None:
    register(client, keys.api, "orig", seed=1)
    register(client, keys.api, "spam", seed=2)
    report(client, content_ids=["orig"], relation="depicted_person", age_at_time=13)
    report(client, content_ids=["orig"], relation="parent_guardian", case_numbers=["PD-1"])
    report(client, content_ids=["spam"], category="terms_violation")
    client.post("/v1/cases/1/decisions", headers=keys.bearer("specialist"),
                json={"outcome": "no_violation"})
    with system.db.transaction() as s:
        book = CaseBook(s, system.policy)
        for row in s.scalars(select(CaseRow)):
            state = book.state(row.id)
            assert row.status == state.status.value
            assert row.priority == priority(state, system.policy)
            assert row.deadline == state.deadline
            assert row.restricted == state.restricted
            count = s.scalar(select(func.count()).where(CaseEventRow.case_id == row.id))
            assert row.event_count == count
            seqs = list(s.scalars(select(CaseEventRow.seq).where(CaseEventRow.case_id == row.id)
                                  .order_by(CaseEventRow.seq)))
            assert seqs == list(range(1, count + 1))
