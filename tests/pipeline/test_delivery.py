"""Action webhooks: signed, retried with backoff, kept across restarts, sent once."""

import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from standardwebhooks import Webhook, WebhookVerificationError

from takedown.clock import utcnow
from takedown.pipeline.delivery import ActionDeliverer
from takedown.pipeline.outbox import backoff
from takedown.platform.webhooks import batch_id, body_for, new_secret, signed_headers
from takedown.store.tables import ActionRow
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import register, report


def restrict_three(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    register(client, keys.api, "rp1", repost_of="orig")
    register(client, keys.api, "rp2", repost_of="orig")
    report(client, content_ids=["orig"], relation="depicted_person")


def test_signature_roundtrip_and_tampering() -> None:
    """Checked as platforms do, with the Standard Webhooks reference verifier."""
    secret = new_secret()
    body = body_for([{"action_id": "a", "type": "remove"}])
    headers = signed_headers([secret], body, batch_id(["a"]))
    assert Webhook(secret).verify(body, headers) == {"actions": [{"action_id": "a",
                                                                   "type": "remove"}]}
    with pytest.raises(WebhookVerificationError, match="No matching"):
        Webhook(secret).verify(body.replace(b"remove", b"restore"), headers)
    with pytest.raises(WebhookVerificationError, match="No matching"):
        Webhook(new_secret()).verify(body, headers)
    stale = signed_headers([secret], body, batch_id(["a"]), now=time.time() - 3600)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)
    with pytest.raises(WebhookVerificationError, match="Missing"):
        Webhook(secret).verify(body, {})


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff(n).total_seconds() for n in range(1, 20)]
    assert delays[0] <= 2 and delays[5] > delays[2] and max(delays) <= 3600


def test_actions_are_delivered_signed_with_unique_ids(client: TestClient, keys: Keys,
                                                      system: Takedown,
                                                      receiver: Receiver) -> None:
    restrict_three(client, keys)
    assert deliver_all(system) == 3
    sent = receiver.actions
    assert {a["target"]["id"] for a in sent} == {"orig", "rp1", "rp2"}
    assert len({a["action_id"] for a in sent}) == 3
    assert all(a["type"] == "restrict" and a["case_id"] == 1 for a in sent)
    listed = client.get("/v1/platform/actions", headers=keys.api).json()
    assert {a["status"] for a in listed} == {"delivered"}
    assert all(a["delivered_at"] and a["attempts"] == 1 for a in listed)


def test_a_failing_platform_is_retried_with_backoff_until_it_acknowledges(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    restrict_three(client, keys)
    receiver.fail_next = 2
    deliver_all(system)
    failing = client.get("/v1/platform/actions?status=failing", headers=keys.api).json()
    assert len(failing) == 3
    assert failing[0]["last_error"].startswith("HTTP 503")
    assert failing[0]["next_attempt_at"] > failing[0]["created_at"]
    assert deliver_all(system) == 0  # not due yet: backing off
    _make_due(system)
    deliver_all(system)  # fails again (second 503)
    _make_due(system)
    deliver_all(system)
    delivered = client.get("/v1/platform/actions?status=delivered", headers=keys.api).json()
    assert len(delivered) == 3 and {a["attempts"] for a in delivered} == {3}
    assert {a["last_error"] for a in delivered} == {None}
    assert len(receiver.actions) == 3


def test_unreachable_platform_records_the_error(client: TestClient, keys: Keys,
                                                system: Takedown) -> None:
    restrict_three(client, keys)
    with system.db.transaction() as s:
        from takedown.store.tables import PlatformRow

        for row in s.query(PlatformRow):
            row.webhook_url = "http://127.0.0.1:9/hook"  # discard port: refused
    deliver_all(system)
    failing = client.get("/v1/platform/actions?status=failing", headers=keys.api).json()
    assert len(failing) == 3 and "ConnectError" in failing[0]["last_error"]


def test_pending_actions_survive_a_restart(client: TestClient, keys: Keys, system: Takedown,
                                          receiver: Receiver) -> None:
    restrict_three(client, keys)
    system.close()  # the process dies before delivering anything
    restarted = Takedown(system.settings)
    try:
        assert deliver_all(restarted) == 3
    finally:
        restarted.close()
    assert len(receiver.actions) == 3


def test_an_expired_lease_is_taken_over(client: TestClient, keys: Keys, system: Takedown,
                                        receiver: Receiver) -> None:
    restrict_three(client, keys)
    claimed = system.deliverer.claim("dead-worker")  # claims, then dies
    assert len(claimed) == 3
    assert system.deliverer.run_once("live-worker") == 0  # leased to the dead one
    with system.db.transaction() as s:
        s.execute(update(ActionRow).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert deliver_all(system, "live-worker") == 3
    assert len(receiver.actions) == 3


def test_concurrent_workers_deliver_each_action_exactly_once(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    register(client, keys.api, "orig", seed=1)
    for n in range(300):
        register(client, keys.api, f"rp{n}", repost_of="orig")
    report(client, content_ids=["orig"], relation="depicted_person")
    deliverers = [ActionDeliverer(system.db, batch=7) for _ in range(4)]
    errors: list[BaseException] = []

    def drain(deliverer: ActionDeliverer, name: str) -> None:
        try:
            idle = 0
            while idle < 3:
                idle = idle + 1 if deliverer.run_once(name) == 0 else 0
                time.sleep(0.01)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(d, f"w{i}"))
               for i, d in enumerate(deliverers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for deliverer in deliverers:
        deliverer.close()
    assert not errors
    ids = [a["action_id"] for a in receiver.actions]
    assert len(ids) == 301 and len(set(ids)) == 301


def test_in_process_workers_deliver_without_being_asked(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    system.workers.threads = 2
    system.start_workers()
    try:
        restrict_three(client, keys)
        deadline = time.monotonic() + 20
        while len(receiver.actions) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        system.workers.stop()
    assert len(receiver.actions) == 3


def _make_due(system: Takedown) -> None:
    with system.db.transaction() as s:
        s.execute(update(ActionRow).where(ActionRow.status == "failing")
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
