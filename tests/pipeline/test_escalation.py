"""Deadlines escalate: on time, once per step, until someone decides; on-call is told."""

import threading
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks import Webhook

from takedown.clock import utcnow
from takedown.pipeline.escalation import EscalationScheduler, NotificationSender
from takedown.store.tables import CaseEventRow, CaseRow, NotificationRow
from takedown.system import Takedown
from tests.conftest import Inbox, Keys, Receiver
from tests.helpers import only_case, register, report


def overdue_case(client: TestClient, keys: Keys) -> dict[str, Any]:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"], relation="parent_guardian")  # 1 hour
    return only_case(client, keys.bearer("specialist"))


def steps(system: Takedown, case_id: int) -> list[int]:
    with system.db.transaction() as s:
        return [e.data["step"] for e in s.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id,
                                       CaseEventRow.type == "escalated")
            .order_by(CaseEventRow.seq))]


def test_steps_fire_on_time_once_each_until_a_decision(client: TestClient, keys: Keys,
                                                       system: Takedown) -> None:
    case = overdue_case(client, keys)
    deadline = system.queue(_admin(system), statuses=None, category=None, limit=5)[0]["deadline"]
    scheduler = system.scheduler
    assert scheduler.run_once(deadline - timedelta(minutes=1)) == 0
    assert scheduler.run_once(deadline + timedelta(minutes=1)) == 1
    assert scheduler.run_once(deadline + timedelta(minutes=2)) == 0  # step 1 done
    after = only_case(client, keys.bearer("specialist"))
    assert after["escalations"] == 1 and after["priority"] > case["priority"]
    assert scheduler.run_once(deadline + timedelta(minutes=31)) == 1
    assert scheduler.run_once(deadline + timedelta(hours=3)) == 1  # one step per pass
    assert steps(system, case["id"]) == [1, 2, 3]
    client.post(f"/v1/cases/{case['id']}/decisions", headers=keys.bearer("specialist"),
                json={"outcome": "violation"})
    assert scheduler.run_once(deadline + timedelta(hours=9)) == 0


def test_an_overdue_case_moves_from_the_general_to_the_specialists_queue(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "pic", seed=3)
    report(client, content_ids=["pic"], category="non_consensual_intimate_imagery",
           relation="depicted_person")  # TAKE IT DOWN Act: 48 hours
    case = only_case(client, keys.bearer("moderator"))
    specialists = "/v1/cases?queue=specialists"
    assert client.get(specialists, headers=keys.bearer("specialist")).json() == []
    assert system.scheduler.run_once(utcnow() + timedelta(hours=49)) == 1
    assert client.get("/v1/cases", headers=keys.bearer("moderator")).json() == []
    moved = client.get(specialists, headers=keys.bearer("specialist")).json()
    assert [c["id"] for c in moved] == [case["id"]] and moved[0]["escalations"] == 1


def test_concurrent_schedulers_append_each_step_once(client: TestClient, keys: Keys,
                                                     system: Takedown) -> None:
    case = overdue_case(client, keys)
    with system.db.transaction() as s:
        row = s.get(CaseRow, case["id"])
        assert row is not None and row.deadline is not None
        when = row.deadline + timedelta(minutes=5)
    schedulers = [EscalationScheduler(system.db, system.policy, system.settings)
                  for _ in range(4)]
    threads = [threading.Thread(target=s.run_once, args=(when,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert steps(system, case["id"]) == [1]


def test_on_call_gets_an_email_and_a_signed_webhook_even_across_a_restart(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver,
        smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = system.settings.with_(
        oncall_email="oncall@example.org", smtp_port=port,
        oncall_webhook_url=receiver.url, oncall_webhook_secret=receiver.secret)
    case = overdue_case(client, keys)
    with system.db.transaction() as s:
        row = s.get(CaseRow, case["id"])
        assert row is not None and row.deadline is not None
        when = row.deadline + timedelta(minutes=1)
    assert EscalationScheduler(system.db, system.policy, settings).run_once(when) == 1
    system.close()  # the process dies before sending anything
    restarted = Takedown(settings)
    try:
        assert NotificationSender(restarted.db, settings).run_once("worker") == 2
        assert NotificationSender(restarted.db, settings).run_once("worker") == 0
        with restarted.db.transaction() as s:
            assert {n.status for n in s.scalars(select(NotificationRow))} == {"delivered"}
    finally:
        restarted.close()
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == "oncall@example.org"
    assert f"case {case['id']} overdue: escalation 1" in mail["Subject"]
    assert receiver.batches == []  # webhook bodies are not action batches
    assert len(receiver.raw) == 1
    headers, body = receiver.raw[0]
    Webhook(receiver.secret).verify(body, headers)


def _admin(system: Takedown) -> Any:
    from takedown.domain.case import Reviewer
    from takedown.domain.vocabulary import Role

    return Reviewer("ada", Role.ADMIN)
