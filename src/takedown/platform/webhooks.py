"""Signed action webhooks: the body, the signature, and its check on the platform side.

Signature: `X-Takedown-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
with `X-Takedown-Timestamp: <unix seconds>`; the timestamp inside the MAC stops a
captured request from being replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

SIGNATURE_HEADER = "X-Takedown-Signature"
TIMESTAMP_HEADER = "X-Takedown-Timestamp"
MAX_SKEW_S = 300


class SignatureError(ValueError):
    pass


def body_for(actions: Sequence[Mapping[str, Any]]) -> bytes:
    return json.dumps({"actions": list(actions)}, separators=(",", ":"),
                      sort_keys=True).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes,
           now: float | None = None) -> None:
    """Raise SignatureError unless the request is signed with `secret` and fresh."""
    stamp = headers.get(TIMESTAMP_HEADER) or headers.get(TIMESTAMP_HEADER.lower())
    given = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
    if not stamp or not given or not stamp.isdigit():
        raise SignatureError("missing signature or timestamp header")
    current = now if now is not None else time.time()
    if abs(current - int(stamp)) > MAX_SKEW_S:
        raise SignatureError("timestamp too far from now")
    if not hmac.compare_digest(sign(secret, int(stamp), body), given):
        raise SignatureError("signature does not match")
