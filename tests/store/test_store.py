"""Migrations match the models; a case's row is exactly what its event log derives."""

import re

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


def test_0002_upgrades_a_populated_0001_database(database_url: str, backend: str) -> None:
    """0002 rebuilds two tables by hand: rows survive, lookups are backfilled, and ids
    keep counting from where they were."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from takedown.store.db import Database, alembic_config

    if backend == "postgresql":  # a schema of its own, at 0001
        with create_engine(database_url).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS upgrade_check CASCADE"))
            conn.execute(text("CREATE SCHEMA upgrade_check"))
        database_url = re.sub(r"search_path%3D[^&]*", "search_path%3Dupgrade_check",
                              database_url)
    config = alembic_config(database_url)
    command.upgrade(config, "0001")
    engine = create_engine(database_url)
    now = "2020-01-20 10:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO media (id, sha256, size, mime, created_at) "
                          f"VALUES (7, '{'a' * 64}', 10, 'image/png', '{now}')"))
        conn.execute(text("INSERT INTO media_signals (id, media_id, signal_type, value, quality) "
                          f"VALUES (3, 7, 'md5', '{'b' * 32}', NULL)"))
        conn.execute(text("INSERT INTO bank_entries (id, bank, signal_type, value, source, "
                          "added_by, added_at, enabled) "
                          f"VALUES (5, 'confirmed', 'md5', '{'b' * 32}', 'case 1', 'ana', "
                          f"'{now}', true)"))
    engine.dispose()
    db = Database(database_url)
    db.migrate()
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT lookup FROM media_signals WHERE id = 3")).scalar() \
            == "b" * 32
        row = conn.execute(text("SELECT lookup, external_ids FROM bank_entries WHERE id = 5")
                           ).one()
        assert row[0] == "b" * 32
        assert conn.execute(text("SELECT count(*) FROM banks")).scalar() == 3
        conn.execute(text("INSERT INTO media_signals (media_id, signal_type, value, lookup) "
                          "VALUES (7, 'sha256', 'x', 'x')"))
        assert conn.execute(text("SELECT max(id) FROM media_signals")).scalar() == 4
        if backend == "postgresql":
            conn.execute(text("DROP SCHEMA upgrade_check CASCADE"))
    db.dispose()
