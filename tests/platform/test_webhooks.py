"""Standard Webhooks: what platforms verify with an off-the-shelf library (the
`standardwebhooks` reference implementation), key rotation with two signatures, a
webhook-id that stays the same across retries, and secrets from before `whsec_`."""

import base64
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from standardwebhooks import Webhook, WebhookVerificationError

from takedown import access
from takedown.clock import utcnow
from takedown.notify.outbox import enqueue
from takedown.pipeline.escalation import NotificationSender
from takedown.platform.webhooks import (
    batch_id,
    body_for,
    live_secrets,
    message_id,
    new_secret,
    signed_headers,
    signing_key,
)
from takedown.store.tables import ActionRow, AuditEntryRow, PlatformRow
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import register, report

BODY = body_for([{"action_id": "a1", "type": "remove"}])


def test_headers_follow_the_spec_and_verify_with_the_reference_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    headers = signed_headers([secret], BODY, batch_id(["a1"]))
    assert headers["webhook-id"].startswith("msg_")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    version, signature = headers["webhook-signature"].split(",")
    assert version == "v1" and len(base64.b64decode(signature)) == 32
    assert Webhook(secret).verify(BODY, headers) == {"actions": [{"action_id": "a1",
                                                                   "type": "remove"}]}


def test_during_a_rotation_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers([new, old], BODY, "msg_x")
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_legacy_secrets_sign_with_their_utf8_bytes() -> None:
    urlsafe = "whsec_abc-def_ghi"  # the form add_platform made before: not base64
    for legacy in ("s3cret", urlsafe):
        assert signing_key(legacy) == legacy.encode()
        headers = signed_headers([legacy], BODY, "msg_x")
        Webhook(legacy.encode()).verify(BODY, headers)
        # … which is the same as a whsec_ secret holding those bytes.
        Webhook("whsec_" + base64.b64encode(legacy.encode()).decode()).verify(BODY, headers)
    assert signing_key("whsec_test") == base64.b64decode("test")


def test_unsigned_without_a_secret_and_ids_ignore_order() -> None:
    headers = signed_headers([""], BODY, "msg_x")
    assert "webhook-signature" not in headers and headers["webhook-id"] == "msg_x"
    assert batch_id(["a", "b"]) == batch_id(["b", "a"]) != batch_id(["a"])
    assert message_id(["x"]) != batch_id(["x"])


def test_old_secrets_stop_signing_when_their_overlap_ends() -> None:
    now = utcnow()
    previous = [{"secret": "old", "until": (now + timedelta(hours=1)).isoformat()},
                {"secret": "older", "until": (now - timedelta(seconds=1)).isoformat()}]
    assert live_secrets("new", previous, now) == ["new", "old"]
    assert live_secrets("new", None, now) == ["new"]


def restrict_three(client: TestClient, keys: Keys) -> list[str]:
    register(client, keys.api, "orig", seed=1)
    register(client, keys.api, "rp1", repost_of="orig")
    register(client, keys.api, "rp2", repost_of="orig")
    report(client, content_ids=["orig"], relation="depicted_person")
    return [a["action_id"] for a in client.get("/v1/platform/actions", headers=keys.api).json()]


def _make_due(system: Takedown) -> None:
    with system.db.transaction() as s:
        s.execute(update(ActionRow).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_a_retried_batch_keeps_its_webhook_id(client: TestClient, keys: Keys, system: Takedown,
                                              receiver: Receiver) -> None:
    ids = restrict_three(client, keys)
    receiver.fail_next = 1
    deliver_all(system)
    _make_due(system)
    deliver_all(system)
    first, retry = receiver.attempts
    assert first["webhook-id"] == retry["webhook-id"] == batch_id(ids)
    assert len(receiver.actions) == 3


def test_rotation_signs_with_both_until_the_old_secret_is_retired(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    old = receiver.secret
    with system.db.transaction() as s:
        new = access.rotate_webhook_secret(s, "testnet", timedelta(days=7))
    assert new != old and new.startswith("whsec_")
    restrict_three(client, keys)
    deliver_all(system)  # the receiver still verifies with the old secret
    assert len(receiver.actions) == 3
    signatures = receiver.attempts[-1]["webhook-signature"].split(" ")
    assert len(signatures) == 2
    receiver.secret = new  # the platform switched
    client.post("/v1/cases/1/decisions", headers=keys.bearer("specialist"),
                json={"outcome": "violation"})
    deliver_all(system)
    assert len(receiver.actions) > 3
    with system.db.transaction() as s:
        assert access.retire_webhook_secrets(s, "testnet") == 1
    receiver.secret = old  # a platform still on the old secret is refused from now on
    register(client, keys.api, "rp3", repost_of="orig")
    deliver_all(system)
    failing = client.get("/v1/platform/actions?status=failing", headers=keys.api).json()
    assert failing and failing[0]["last_error"].startswith("HTTP 401")
    receiver.secret = new
    _make_due(system)
    deliver_all(system)
    assert len(receiver.attempts[-1]["webhook-signature"].split(" ")) == 1
    assert client.get("/v1/platform/actions?status=failing", headers=keys.api).json() == []


def test_a_legacy_secret_keeps_working(client: TestClient, system: Takedown,
                                       receiver: Receiver) -> None:
    legacy = "whsec_" + "made-before_whsec-forms"
    key, _ = system.add_platform("oldnet", receiver.url, webhook_secret=legacy)
    receiver.secret = "whsec_" + base64.b64encode(legacy.encode()).decode()
    register(client, {"X-Api-Key": key}, "orig", seed=1)
    report(client, content_ids=["orig"], relation="depicted_person")
    assert deliver_all(system) == 1 and len(receiver.actions) == 1


def takedown(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "takedown.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def test_the_rotate_and_retire_commands(system: Takedown, database_url: str,
                                        tmp_path: Path) -> None:
    import os

    system.add_platform("net", "http://127.0.0.1:9/hook", webhook_secret="legacy")
    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
           "TAKEDOWN_DATABASE_URL": database_url, "COLUMNS": "200"}
    rotated = takedown("platform", "rotate-secret", "net", "--overlap-hours", "24", env=env)
    assert rotated.returncode == 0, rotated.stderr
    with system.db.transaction() as s:
        row = s.scalar(select(PlatformRow).where(PlatformRow.name == "net"))
        assert row is not None and row.webhook_secret in rotated.stdout
        assert live_secrets(row.webhook_secret, row.previous_webhook_secrets) == [
            row.webhook_secret, "legacy"]
    retired = takedown("platform", "retire-secret", "net", env=env)
    assert retired.returncode == 0 and "1 old secret" in retired.stdout
    unknown = takedown("platform", "rotate-secret", "nobody", env=env)
    assert unknown.returncode == 1 and "no platform named" in unknown.stdout
    with system.db.transaction() as s:
        assert s.scalar(select(PlatformRow.previous_webhook_secrets)
                        .where(PlatformRow.name == "net")) is None
        audited = list(s.scalars(select(AuditEntryRow.action)
                                 .where(AuditEntryRow.target == "platform:net")))
    assert {"webhook_secret_rotated", "webhook_secret_retired"} <= set(audited)


def test_the_on_call_webhook_signs_with_each_configured_secret(system: Takedown,
                                                               receiver: Receiver) -> None:
    """TAKEDOWN_ONCALL_WEBHOOK_SECRET="NEW OLD" while the receiver switches."""
    settings = system.settings.with_(oncall_webhook_secret=f"{new_secret()} {receiver.secret}")
    with system.db.transaction() as s:
        enqueue(s, dedupe_key="escalation:1:5:1:webhook", channel="webhook",
                target=receiver.url, subject="overdue", body={"type": "escalation"})
    assert NotificationSender(system.db, settings).run_once("worker") == 1
    headers, _ = receiver.raw[0]  # verified with the old secret by the receiver
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert headers["webhook-id"] == message_id(["notification:escalation:1:5:1:webhook"])
