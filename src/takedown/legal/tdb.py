"""A client for the EU DSA Transparency Database (Art. 24(5)): statements of reasons go
up to 100 at a time as `POST {base}/api/v1/statements` with `{"statements": [...]}`
and the platform's Bearer token; the database answers 201 with what it created.

The database takes a batch whole or not at all. It answers 422 when it will not: with
errors under `statement_<index>` for the statements it finds invalid, or, when it
already holds some of the batch's `puid`s for this platform, with those under
`errors.existing_puids`. A puid it holds is a statement it has (the puid is the
idempotency key: a statement sent again after a crash is never stored twice), so
`send` answers, per statement: delivered, already there, rejected with the database's
message, or not stored because of the others (to be sent again at once, without
them). Anything else (401, 403, 429, 5xx, an unreadable answer) is a failure of the
whole batch, to try again later; no answer at all raises `TransparencyUnavailable`.

Also here: the statement's JSON Schema (a copy of shared/reference/dsa, kept
byte-identical by a test) and `statement_errors`, which checks a statement against it.
The token is never logged nor put in an exception's text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, ValidationError

VENDORED_SCHEMA = Path(__file__).with_name("statement.schema.json")
MAX_BATCH = 100  # the database's limit per call
_MAX_ANSWER_BYTES = 8 * 1024 * 1024  # 100 statements echoed back stay far below
_MAX_MESSAGE = 2000  # what one statement's error keeps (the outbox's last_error)
_STATEMENT_KEY = re.compile(r"^statement_(\d+)$")


# --- the schema ----------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    """Compiled once per process: statements are checked one by one, often."""
    schema = json.loads(VENDORED_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors_by_field(body: Any) -> dict[str, list[str]]:
    """The schema's objections to `body`, by top-level field ("statement" for those
    about the whole: a missing field, no decision at all), in a stable order."""
    errors: dict[str, list[str]] = {}
    for error in sorted(_validator().iter_errors(body), key=_where):
        errors.setdefault(_where(error), []).append(_short(error.message))
    return errors


def statement_errors(body: Any) -> list[str]:
    """Why `body` is not a statement of reasons the database takes: one "field:
    message" per problem; empty when it validates."""
    return [f"{field}: {message}" for field, messages in schema_errors_by_field(body).items()
            for message in messages]


def _where(error: ValidationError) -> str:
    return str(error.absolute_path[0]) if error.absolute_path else "statement"


def _short(message: str) -> str:
    # An enum's message lists every allowed value: the start says enough.
    return message if len(message) <= 300 else message[:297] + "..."


# --- answers -------------------------------------------------------------------------


class TransparencyUnavailable(Exception):
    """No answer from the database (no connection, a timeout, a dropped connection).
    `maybe_received`: the batch went out and the answer was lost, so the database may
    hold it; sending it again is harmless (the puids), but worth knowing in a log."""

    def __init__(self, message: str, *, maybe_received: bool = False) -> None:
        super().__init__(message)
        self.maybe_received = maybe_received


class Outcome(StrEnum):
    DELIVERED = "delivered"  # stored by this call
    ALREADY_THERE = "already_there"  # the database held this puid already: delivered
    REJECTED = "rejected"  # refused for itself: a person looks; not sent again by itself
    NOT_STORED = "not_stored"  # refused with others of its batch: send again, without them


@dataclass(frozen=True)
class StatementOutcome:
    puid: str
    outcome: Outcome
    error: str | None = None  # the database's message, for REJECTED


@dataclass(frozen=True)
class BatchResult:
    """One call's answer: an outcome per statement, in the order sent; or, when
    `failure` is set, nothing was stored and the whole batch is to be tried later."""

    status: int
    outcomes: tuple[StatementOutcome, ...] = ()
    failure: str | None = None

    def _with(self, *kinds: Outcome) -> list[StatementOutcome]:
        return [o for o in self.outcomes if o.outcome in kinds]

    @property
    def delivered(self) -> list[str]:
        """Puids the database has now (stored by this call, or already)."""
        return [o.puid for o in self._with(Outcome.DELIVERED, Outcome.ALREADY_THERE)]

    @property
    def rejected(self) -> dict[str, str]:
        return {o.puid: o.error or "" for o in self._with(Outcome.REJECTED)}

    @property
    def not_stored(self) -> list[str]:
        return [o.puid for o in self._with(Outcome.NOT_STORED)]


def read_answer(status: int, body: bytes, statements: Sequence[Mapping[str, Any]]
                ) -> BatchResult:
    """The database's answer to `statements`, per statement (see the module's text)."""
    puids = [str(s.get("puid", "")) for s in statements]
    if status == 201:
        return BatchResult(status, tuple(StatementOutcome(p, Outcome.DELIVERED) for p in puids))
    if status == 422:
        return _refused(body, puids)
    return BatchResult(status, failure=_failure(status, body))


def _refused(body: bytes, puids: list[str]) -> BatchResult:
    errors = _json(body).get("errors")
    if not isinstance(errors, dict):
        return BatchResult(422, failure=f"HTTP 422 without errors: {_text(body)}")
    existing = errors.get("existing_puids")
    if isinstance(existing, list) and set(map(str, existing)) & set(puids):
        held = set(map(str, existing))
        return BatchResult(422, tuple(
            StatementOutcome(p, Outcome.ALREADY_THERE if p in held else Outcome.NOT_STORED)
            for p in puids))
    per_statement = _per_statement(errors, len(puids))
    if not per_statement:  # refused as a whole (the batch's shape): retrying will not help
        return BatchResult(422, failure=f"HTTP 422: {_messages(errors)}")
    return BatchResult(422, tuple(
        StatementOutcome(p, Outcome.REJECTED, per_statement[i]) if i in per_statement
        else StatementOutcome(p, Outcome.NOT_STORED) for i, p in enumerate(puids)))


def _per_statement(errors: dict[str, Any], count: int) -> dict[int, str]:
    found: dict[int, str] = {}
    for key, value in errors.items():
        match = _STATEMENT_KEY.match(str(key))
        if match and int(match[1]) < count:
            found[int(match[1])] = _messages(value)[:_MAX_MESSAGE]
    return found


def _messages(value: Any) -> str:
    """Laravel's errors ({"field": ["message", ...]}) as one line."""
    if isinstance(value, dict):
        return "; ".join(f"{field}: {_messages(v)}" for field, v in value.items())
    if isinstance(value, list):
        return " ".join(_messages(v) for v in value)
    return str(value)


def _failure(status: int, body: bytes) -> str:
    why = {401: "the token was refused", 403: "the token may not create statements",
           429: "too many requests"}.get(status, "the database could not take the batch")
    detail = _json(body).get("message")
    return f"HTTP {status}: {why}" + (f" ({str(detail)[:300]})" if detail else "")


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _text(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace")


# --- the client ----------------------------------------------------------------------


class TransparencyDatabase:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/", timeout=timeout_s, transport=transport,
            follow_redirects=False,  # a redirect would be a login page, not an answer
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def __repr__(self) -> str:
        return f"TransparencyDatabase({self.base_url!r})"  # never the token

    def send(self, statements: Sequence[Mapping[str, Any]]) -> BatchResult:
        if not 1 <= len(statements) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} statements, not {len(statements)}")
        try:
            with self._http.stream("POST", "api/v1/statements",
                                   json={"statements": list(statements)}) as response:
                status, body = response.status_code, _read_capped(response)
        except httpx.HTTPError as error:  # its text carries the URL, never the header
            unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout
                                | httpx.PoolTimeout)
            raise TransparencyUnavailable(f"{type(error).__name__}: {error}",
                                          maybe_received=not unsent) from error
        return read_answer(status, body, statements)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TransparencyDatabase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > _MAX_ANSWER_BYTES:
            raise TransparencyUnavailable(f"the answer is over {_MAX_ANSWER_BYTES} bytes",
                                          maybe_received=True)
    return bytes(body)
