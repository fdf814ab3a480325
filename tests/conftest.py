"""Shared fixtures. Every test that touches storage runs twice: on SQLite and on
PostgreSQL (127.0.0.1:5432, database `test`), skipped with a message where no
PostgreSQL answers."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import text
from standardwebhooks import Webhook, WebhookVerificationError

from takedown.api.app import create_app
from takedown.config import Settings
from takedown.domain.vocabulary import Role
from takedown.server import BackgroundServer, free_port
from takedown.store.tables import Base
from takedown.system import Takedown

PG_CONNINFO = os.environ.get("TAKEDOWN_TEST_PG",
                             "host=127.0.0.1 port=5432 dbname=test user=postgres")


def _pg_problem() -> str | None:
    try:
        with psycopg.connect(PG_CONNINFO, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL at {PG_CONNINFO!r}: {exc}".strip()


PG_PROBLEM = _pg_problem()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A schema of its own in database `test`, dropped at the end of the session."""
    if PG_PROBLEM:
        pytest.skip(PG_PROBLEM)
    schema = f"takedown_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_CONNINFO, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    params = dict(p.split("=", 1) for p in PG_CONNINFO.split())
    url = (f"postgresql+psycopg://{params.get('user', 'postgres')}@{params['host']}:"
           f"{params['port']}/{params['dbname']}?options=-csearch_path%3D{schema}")
    yield url
    with psycopg.connect(PG_CONNINFO, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _empty_postgres(system: Takedown) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with system.db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'takedown.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Reports unlimited: tests send floods from one address on purpose (the limits have
    # tests of their own, tests/api/test_report_limits.py).
    return Settings(data_dir=tmp_path / "data", database_url=database_url, inprocess_workers=0,
                    report_rate_limit="off", report_rate_limit_per_content="off",
                    max_media_bytes=6 * 1024 * 1024, max_request_bytes=12 * 1024 * 1024,
                    fetch_timeout_s=2.0, webhook_timeout_s=5.0)


@pytest.fixture
def system(settings: Settings) -> Iterator[Takedown]:
    system = Takedown(settings)
    system.migrate()
    if not system.db.is_sqlite:
        _empty_postgres(system)
        system.migrate()  # puts the default banks back
    yield system
    system.close()


@dataclass
class Receiver:
    """A real HTTP endpoint standing in for a platform's webhook handler."""

    url: str = ""
    secret: str = "whsec_test"
    fail_next: int = 0
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)  # non-action posts
    attempts: list[dict[str, str]] = field(default_factory=list)  # headers of each signed post
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def actions(self) -> list[dict[str, Any]]:
        with self.lock:
            return [a for batch in self.batches for a in batch]

    def reset(self) -> None:
        with self.lock:
            self.fail_next = 0
            self.secret = Receiver.secret  # a test may have rotated it
            self.batches.clear()
            self.raw.clear()
            self.attempts.clear()


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            # As a platform would: an off-the-shelf Standard Webhooks verifier.
            Webhook(receiver.secret).verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        with receiver.lock:
            receiver.attempts.append(dict(request.headers))
            if receiver.fail_next > 0:
                receiver.fail_next -= 1
                return JSONResponse({"error": "try later"}, status_code=503)
            parsed = json.loads(body)
            if "actions" in parsed:
                receiver.batches.append(parsed["actions"])
            else:
                receiver.raw.append((dict(request.headers), body))
        return JSONResponse({"ok": True})

    port = free_port()
    with BackgroundServer(app, port) as server:
        receiver.url = f"{server.url}/hook"
        yield receiver


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Receiver:
    _receiver_server.reset()
    return _receiver_server


@dataclass(frozen=True)
class Keys:
    platform: str
    specialist: str
    specialist2: str
    moderator: str
    admin: str
    liaison: str

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, who)}"}

    @property
    def api(self) -> dict[str, str]:
        return {"X-Api-Key": self.platform}


@pytest.fixture
def keys(system: Takedown, receiver: Receiver) -> Keys:
    key, _ = system.add_platform("testnet", receiver.url, webhook_secret=receiver.secret)
    return Keys(
        platform=key,
        specialist=system.add_user("ana", Role.CHILD_SAFETY_SPECIALIST),
        specialist2=system.add_user("ben", Role.CHILD_SAFETY_SPECIALIST),
        moderator=system.add_user("max", Role.MODERATOR),
        admin=system.add_user("ada", Role.ADMIN),
        liaison=system.add_user("lee", Role.LIAISON),
    )


@pytest.fixture
def client(system: Takedown) -> Iterator[TestClient]:
    with TestClient(create_app(system, run_workers=False)) as test_client:
        yield test_client


def deliver_all(system: Takedown, worker: str = "test") -> int:
    """Run the delivery worker until nothing is due; returns actions attempted."""
    total = 0
    while (done := system.deliverer.run_once(worker)) > 0:
        total += done
    return total


class Inbox:
    """A real SMTP server's mailbox (aiosmtpd)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
