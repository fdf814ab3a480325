"""Sending statements of reasons to the DSA Transparency Database from their outbox, on
SQLite and PostgreSQL, against the stand-in database over real HTTP: batches of 100,
rejections kept for a person, back-off while the database is down, off unless
configured, and a worker killed (SIGKILL) after the database stored a batch but before
it recorded so: the batch goes again and each statement is stored once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from takedown.clock import utcnow
from takedown.config import Settings
from takedown.demo.tdb import StandInTransparencyDatabase, serve_stand_in
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Role
from takedown.errors import Conflict, Forbidden
from takedown.pipeline.statements import StatementSender
from takedown.server import free_port
from takedown.store.tables import AuditEntryRow, StatementRow
from takedown.system import Takedown
from tests.legal.test_tdb import TOKEN, add_statements, valid_statement

ADMIN = Reviewer("ada", Role.ADMIN)


@pytest.fixture
def tdb() -> Iterator[tuple[StandInTransparencyDatabase, str]]:
    server = StandInTransparencyDatabase(token=TOKEN)
    with serve_stand_in(server) as url:
        yield server, url


def configured(system: Takedown, url: str, **more: Any) -> Settings:
    return system.settings.with_(dsa_tdb_url=url, dsa_tdb_token=TOKEN, dsa_tdb_timeout_s=5,
                                 **more)


def sender(system: Takedown, url: str) -> StatementSender:
    return StatementSender(system.db, configured(system, url))


def rows(system: Takedown) -> dict[str, StatementRow]:
    with system.db.transaction() as s:
        found = {r.puid: r for r in s.scalars(select(StatementRow))}
        s.expunge_all()
    return found


def statuses(system: Takedown) -> dict[str, str]:
    return {puid: row.status for puid, row in rows(system).items()}


def backoff_over(system: Takedown) -> None:
    """Time passes: every back-off is over (the clock is the database's)."""
    with system.db.transaction() as s:
        s.execute(update(StatementRow).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_250_statements_go_in_three_calls_and_are_delivered(
        system: Takedown, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    server, url = tdb
    puids = add_statements(system, 250)
    assert sender(system, url).run_once("w") == 250
    assert server.calls == [(100, 201), (100, 201), (50, 201)]
    assert all(h["authorization"] == f"Bearer {TOKEN}" for h in server.headers)
    assert server.stored == {p: 1 for p in puids}
    for row in rows(system).values():
        assert row.status == "delivered" and row.delivered_at is not None
        assert row.last_error is None and row.lease_until is None
    assert sender(system, url).run_once("w") == 0  # nothing is sent twice
    assert server.received == {p: 1 for p in puids}


def test_off_unless_configured_then_the_backlog_goes(
        system: Takedown, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    server, url = tdb
    puids = add_statements(system, 3)
    assert not system.settings.dsa_tdb_configured
    assert system.statement_sender.run_once("w") == 0
    half = StatementSender(system.db, system.settings.with_(dsa_tdb_url=url))  # no token
    assert half.run_once("w") == 0
    assert server.calls == [] and set(statuses(system).values()) == {"pending"}
    assert sender(system, url).run_once("w") == 3
    assert server.stored == {p: 1 for p in puids}


def test_a_rejected_statement_keeps_the_databases_message_and_waits_for_a_person(
        system: Takedown, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    server, url = tdb
    good = add_statements(system, 4)
    too_old = valid_statement("placeholder")
    too_old["content_date"] = "1999-12-31"  # valid for the schema, not for the database
    [bad] = add_statements(system, 1, body=too_old, prefix="old")
    with system.db.transaction() as s:  # its own puid in its body
        row = s.get(StatementRow, bad)
        assert row is not None
        row.body = {**too_old, "puid": bad}
    assert sender(system, url).run_once("w") == 5
    # Refused with the others; they go again at once, without it.
    assert server.calls == [(5, 422), (4, 201)]
    found = rows(system)
    assert found[bad].status == "rejected"
    assert "content date must be a date between 2000-01-01" in (found[bad].last_error or "")
    assert {found[p].status for p in good} == {"delivered"}
    backoff_over(system)
    assert sender(system, url).run_once("w") == 0  # not retried by itself
    assert bad not in server.stored


def test_a_person_sends_a_rejected_statement_again(
        system: Takedown, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    server, url = tdb
    [puid] = add_statements(system, 1)
    server.refuse(puid, "The platform is not registered for this category.")
    sender(system, url).run_once("w")
    problems = system.statement_problems(ADMIN, "test")["problems"]
    assert [(p["puid"], p["status"], p["resendable"]) for p in problems] == [
        (puid, "rejected", True)]
    assert "not registered" in problems[0]["error"]
    with pytest.raises(Forbidden):
        system.requeue_statement(puid, Reviewer("max", Role.MODERATOR), "test")
    with pytest.raises(Forbidden):
        system.statement_problems(Reviewer("ana", Role.CHILD_SAFETY_SPECIALIST), "test")
    system.requeue_statement(puid, ADMIN, "test")
    assert statuses(system) == {puid: "pending"}
    with pytest.raises(Conflict):  # only a rejected one
        system.requeue_statement(puid, ADMIN, "test")
    assert sender(system, url).run_once("w") == 1
    assert statuses(system) == {puid: "delivered"} and server.stored == {puid: 1}
    with system.db.transaction() as s:
        entries = [(e.actor, e.action, e.target) for e in s.scalars(
            select(AuditEntryRow).where(AuditEntryRow.action.in_(
                ["statement_requeued", "access_denied"])).order_by(AuditEntryRow.id))]
    assert entries == [("max", "access_denied", f"statement:{puid}"),
                       ("ana", "access_denied", "statements"),
                       ("ada", "statement_requeued", f"statement:{puid}")]


def test_while_the_database_is_down_the_batch_waits_and_then_goes(
        system: Takedown, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    server, url = tdb
    puids = add_statements(system, 120)
    server.fail(503, times=3)
    worker = sender(system, url)
    assert worker.run_once("w") == 100  # the first batch failed: the second waits too
    assert worker.run_once("w") == 20  # ... which fails as well
    found = rows(system)
    assert {r.status for r in found.values()} == {"pending"}
    assert all("HTTP 503" in (r.last_error or "") for r in found.values())
    assert all(r.next_attempt_at > utcnow() for r in found.values())
    assert worker.run_once("w") == 0  # backing off
    problems = system.statement_problems(ADMIN, "test")["problems"]
    assert len(problems) == 120 and {p["status"] for p in problems} == {"pending"}
    for _ in range(3):
        backoff_over(system)
        worker.run_once("w")
    assert set(statuses(system).values()) == {"delivered"}
    assert server.stored == {p: 1 for p in puids}
    assert {r.attempts for r in rows(system).values()} <= {2, 3}
    assert system.statement_problems(ADMIN, "test")["problems"] == []


def test_no_database_at_all_is_a_failure_to_retry(system: Takedown) -> None:
    [puid] = add_statements(system, 1)
    assert sender(system, f"http://127.0.0.1:{free_port()}").run_once("w") == 1
    row = rows(system)[puid]
    assert row.status == "pending" and "did not answer" in (row.last_error or "")
    assert TOKEN not in (row.last_error or "")


def test_the_worker_pool_sends_them(
        system: Takedown, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    server, url = tdb
    puids = add_statements(system, 5)
    running = Takedown(configured(system, url, inprocess_workers=1, escalation_check_s=0.2))
    try:
        running.start_workers()
        deadline = time.monotonic() + 30
        while set(statuses(system).values()) != {"delivered"}:
            assert time.monotonic() < deadline, statuses(system)
            time.sleep(0.1)
    finally:
        running.close()
    assert server.stored == {p: 1 for p in puids}


# --- a crash between the database's answer and its record -----------------------------


def _worker_process(system: Takedown, url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(system.settings.data_dir),
           "TAKEDOWN_DATABASE_URL": system.settings.effective_database_url,
           "TAKEDOWN_DSA_TDB_URL": url, "TAKEDOWN_DSA_TDB_TOKEN": TOKEN,
           "TAKEDOWN_DSA_TDB_TIMEOUT_S": "60", "TAKEDOWN_LEASE_S": "2",
           "TAKEDOWN_LOG_FORMAT": "text"}
    return subprocess.Popen([sys.executable, "-m", "takedown.cli", "worker", "--threads", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_worker_killed_after_the_database_stored_a_batch_sends_each_statement_once(
        system: Takedown, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    server, url = tdb
    puids = add_statements(system, 150)
    server.stall()  # the first batch is stored, and its answer held back
    process = _worker_process(system, url)
    try:
        assert server.stored_event.wait(120), "the worker sent nothing"
    finally:
        process.send_signal(signal.SIGKILL)  # before it can record the answer
        process.wait(30)
    recorded = statuses(system)
    stored_unrecorded = [p for p in server.stored_now() if recorded[p] != "delivered"]
    # The crash came in the window that matters: the database holds a batch (of 100
    # or 50: the worker's two threads each take one) that the worker did not record.
    assert len(stored_unrecorded) >= 50
    time.sleep(2.5)  # the dead worker's lease runs out
    worker = sender(system, url)
    while worker.run_once("after") > 0:
        pass
    assert set(statuses(system).values()) == {"delivered"}
    assert server.stored == {p: 1 for p in puids}  # each stored once
    # The batch in flight at the kill went again, and was answered as held.
    assert {server.received[p] for p in stored_unrecorded} == {2}
