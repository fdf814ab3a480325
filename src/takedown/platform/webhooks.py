"""Signed webhooks (action batches to platforms, on-call alerts), the Standard Webhooks
way (https://www.standardwebhooks.com), so that any off-the-shelf verifier checks them:

    webhook-id: msg_<32 hex>        the message's id: the same on every retry
    webhook-timestamp: <unix s>     when this attempt was signed (verifiers allow 5 min)
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> [v1,… …]

Secrets are `whsec_<base64 of the key bytes>`. A secret not of that form (one set by
hand, or made before takedown used Standard Webhooks, when secrets were URL-safe
base64 and the HMAC key was the whole string) keeps working: its key is its UTF-8
bytes, i.e. `Webhook(secret.encode())` in the reference library. `takedown platform
rotate-secret` replaces it with a `whsec_` one without a gap.

Rotation: a message carries one signature per live secret, the newest first, so a
platform verifies with either its old or its new secret while it switches.

Message ids: one delivery carries a batch of actions, and its id is derived from the
batch's sorted action ids, so a retry of the same batch has the same id (the receiver
may use it for idempotency). A retry may regroup actions into another batch (new
actions joined the queue, a lease ran out), which is another message with another
id: receivers deduplicate on each action's `action_id`, which never changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = (
    "webhook-id", "webhook-timestamp", "webhook-signature")


def new_secret() -> str:
    """A fresh `whsec_` secret: 32 random bytes, standard base64 as the spec has it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: the bytes a `whsec_` secret encodes, else (a
    legacy secret) its UTF-8 bytes. Strict base64 only: a lenient decode would turn
    old URL-safe secrets into keys that other languages' verifiers disagree on."""
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX):]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if key:
            return key
    return secret.encode()


def still_live(previous: Sequence[Mapping[str, Any]] | None,
               now: datetime | None = None) -> list[Mapping[str, Any]]:
    """Rotated-out secrets (`{"secret", "until"}`, as access.rotate_webhook_secret keeps
    them) whose overlap has not ended."""
    now = now or datetime.now(UTC)
    return [p for p in previous or () if datetime.fromisoformat(p["until"]) > now]


def live_secrets(current: str, previous: Sequence[Mapping[str, Any]] | None,
                 now: datetime | None = None) -> list[str]:
    """The secrets to sign with: the current one first, then those still live."""
    return list(dict.fromkeys([current, *(p["secret"] for p in still_live(previous, now))]))


def message_id(keys: Iterable[str]) -> str:
    """A stable webhook-id for a message about these things (order does not matter)."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
    return f"msg_{digest[:32]}"


def batch_id(action_ids: Iterable[str]) -> str:
    return message_id(f"action:{a}" for a in action_ids)


def body_for(actions: Sequence[Mapping[str, Any]]) -> bytes:
    return json.dumps({"actions": list(actions)}, separators=(",", ":"),
                      sort_keys=True).encode()


def signed_headers(secrets_: Sequence[str], body: bytes, msg_id: str,
                   now: float | None = None) -> dict[str, str]:
    """Standard Webhooks headers for `body`, one signature per non-empty secret; with
    none, the message goes unsigned (an on-call endpoint without a secret)."""
    stamp = datetime.fromtimestamp(int(now if now is not None else time.time()), UTC)
    signatures = [Webhook(signing_key(s)).sign(msg_id, stamp, body.decode())
                  for s in dict.fromkeys(secrets_) if s]
    headers = {"Content-Type": "application/json", ID_HEADER: msg_id,
               TIMESTAMP_HEADER: str(int(stamp.timestamp()))}
    if signatures:
        headers[SIGNATURE_HEADER] = " ".join(signatures)
    return headers
