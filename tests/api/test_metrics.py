"""/metrics: the state of the work as Prometheus reads it; /readyz: 503 while the
database does not answer, 200 when it does."""

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from takedown.api.app import create_app
from takedown.clock import utcnow
from takedown.config import Settings
from takedown.server import free_port
from takedown.store.tables import ActionRow, CaseRow
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import register, report

Labels = dict[str, str]


class Scrape:
    def __init__(self, client: TestClient, headers: dict[str, str] | None = None) -> None:
        response = client.get("/metrics", headers=headers or {})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        self.samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                        for family in text_string_to_metric_families(response.text)
                        for s in family.samples}

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.samples)


CSAM = {"category": "child_sexual_abuse", "queue": "specialists"}
TERMS = {"category": "terms_violation", "queue": "general"}


def test_metrics_follow_reports_actions_and_escalations(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    before = Scrape(client)
    register(client, keys.api, "orig", seed=1)
    register(client, keys.api, "rp1", repost_of="orig")
    register(client, keys.api, "rp2", repost_of="orig")
    register(client, keys.api, "spam")
    again = {"Idempotency-Key": "one-report"}
    report(client, content_ids=["orig"], relation="depicted_person", headers=again)
    report(client, content_ids=["orig"], relation="depicted_person", headers=again)  # replay
    report(client, content_ids=["spam"], category="terms_violation")
    client.get("/v1/content/orig", headers=keys.api)
    client.get("/nowhere")

    now = Scrape(client)
    counted = "takedown_reports_received_total"
    assert now(counted, category="child_sexual_abuse") - before(
        counted, category="child_sexual_abuse") == 1  # the replay stored nothing
    assert now(counted, category="terms_violation") - before(
        counted, category="terms_violation") == 1
    hashed = "takedown_hashing_seconds_count"
    assert now(hashed, kind="image") - before(hashed, kind="image") >= 1
    http = "takedown_http_request_duration_seconds_count"
    assert now(http, method="POST", route="/v1/content", status="201") - before(
        http, method="POST", route="/v1/content", status="201") == 4
    assert now(http, method="GET", route="/v1/content/{content_id}", status="200") >= 1
    assert now(http, method="GET", route="unmatched", status="404") >= 1
    assert now("takedown_database_up") == 1
    assert now("takedown_open_cases", **CSAM) == 1 and now("takedown_open_cases", **TERMS) == 1
    assert now("takedown_open_cases_oldest_age_seconds", **CSAM) >= 0
    assert now("takedown_open_cases_overdue", **TERMS) == 0
    assert now("takedown_actions_undelivered", status="pending") == 3
    assert now("takedown_action_delivery_lag_seconds") > 0
    assert now("takedown_notifications_undelivered", status="pending") == 0
    assert now("takedown_index_hashes", index="media") >= 1
    assert now("takedown_index_rows", index="media") >= 1
    assert now.has("process_cpu_seconds_total")

    receiver.fail_next = 1
    deliver_all(system)
    failing = Scrape(client)
    assert failing("takedown_actions_undelivered", status="failing") == 3
    assert failing("takedown_actions_undelivered", status="pending") == 0
    with system.db.transaction() as s:
        s.execute(update(ActionRow).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    deliver_all(system)
    assert system.scheduler.run_once(utcnow() + timedelta(days=10)) == 2
    with system.db.transaction() as s:  # as if that pass had run now, ten days on
        s.execute(update(CaseRow).where(CaseRow.category == "terms_violation")
                  .values(deadline=utcnow() - timedelta(minutes=5)))

    after = Scrape(client)
    assert after("takedown_actions_undelivered", status="failing") == 0
    assert after("takedown_action_delivery_lag_seconds") == 0
    assert after("takedown_open_cases_escalated", **CSAM) == 1
    escalated_terms = {"category": "terms_violation", "queue": "specialists"}
    assert after("takedown_open_cases", **escalated_terms) == 1  # it moved queue
    assert after("takedown_open_cases", **TERMS) == 0
    assert after("takedown_open_cases_escalation_steps", **escalated_terms) == 1
    assert after("takedown_open_cases_overdue", **escalated_terms) == 1


def test_a_metrics_token_is_required_once_set(settings: Settings) -> None:
    system = Takedown(settings.with_(metrics_token="scrape-me"))
    try:
        with TestClient(create_app(system, run_workers=False)) as client:
            assert client.get("/metrics").status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert client.get("/metrics", headers=wrong).status_code == 401
            Scrape(client, {"Authorization": "Bearer scrape-me"})
    finally:
        system.close()


def test_ready_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.fixture
def unreachable(backend: str, tmp_path: Path) -> Iterator[Takedown]:
    """A system whose database is gone: SQLite's folder removed, or a PostgreSQL port
    where nothing listens."""
    data = tmp_path / "gone"
    url = (f"sqlite:///{data / 'takedown.db'}" if backend == "sqlite"
           else f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    system = Takedown(Settings(data_dir=tmp_path / "data", database_url=url,
                               inprocess_workers=0))
    if backend == "sqlite":
        system.migrate()
        system.db.dispose()
        shutil.rmtree(data)
    yield system
    system.close()


def test_not_ready_while_the_database_is_unreachable(unreachable: Takedown) -> None:
    with TestClient(create_app(unreachable, run_workers=False)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "not_ready"
        assert error["message"].startswith("the database is unreachable (")
        assert "127.0.0.1" not in error["message"]  # nothing about where it is
        assert client.get("/healthz").status_code == 200  # alive, only not ready
        assert Scrape(client)("takedown_database_up") == 0
