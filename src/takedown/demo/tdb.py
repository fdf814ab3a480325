"""A stand-in for the EU DSA Transparency Database's API, for tests and the demo.

It answers `POST /api/v1/statements` as the real one does where takedown can tell: a
Bearer token (401 otherwise); 1 to 100 statements; each checked against the statement
schema (legal/statement.schema.json) and the database's date bounds, with 422 and the
errors under `statement_<index>` when any fails; 422 with `errors.existing_puids` when
it already holds a puid of the batch; otherwise every statement stored and 201 with
them as created. A batch is taken whole or not at all. `fail()` makes the next calls
answer an HTTP status (503, 429, ...), `refuse()` refuses one puid with a message, and
`stall()` stores the next batch but holds its answer back (for crash tests).

It keeps everything in memory, and `stored` counts how often each puid was stored.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from takedown.clock import utcnow
from takedown.legal.tdb import MAX_BATCH, schema_errors_by_field
from takedown.server import BackgroundServer, free_port

NOT_UNIQUE = "The platform identifier(s) are not all unique within this call."
# The real database's bounds on dates (beyond the schema's YYYY-MM-DD).
_DATE_BOUNDS = {"content_date": (date(2000, 1, 1), date(2038, 1, 1)),
                "application_date": (date(2020, 1, 1), date(2038, 1, 1))}


class StandInTransparencyDatabase:
    def __init__(self, token: str = "tdb-token", platform_name: str = "Demo Social") -> None:
        self.token, self.platform_name = token, platform_name
        self.statements: dict[str, dict[str, Any]] = {}  # puid -> as created
        self.stored: Counter[str] = Counter()  # puid -> times stored (1, or a bug)
        self.received: Counter[str] = Counter()  # puid -> times sent with a good token
        self.calls: list[tuple[int, int]] = []  # (statements in the call, HTTP status)
        self.headers: list[dict[str, str]] = []  # each call's request headers
        self.stall_s = 30.0
        self.stored_event = threading.Event()  # set when a stalled batch was stored
        self._failures: list[int] = []
        self._refusals: dict[str, str] = {}
        self._stalls = 0
        self._released = threading.Event()
        self._lock = threading.Lock()

    def stored_now(self) -> dict[str, int]:
        """A copy of `stored`, taken while no call is storing."""
        with self._lock:
            return dict(self.stored)

    # --- rehearsing bad days ---------------------------------------------------------

    def fail(self, status: int = 503, times: int = 1) -> None:
        """The next `times` calls answer `status` and store nothing."""
        with self._lock:
            self._failures.extend([status] * times)

    def refuse(self, puid: str, message: str) -> None:
        """Refuse the statement `puid` (once) with `message`, as the database does for
        rules of its own."""
        with self._lock:
            self._refusals[puid] = message

    def stall(self, times: int = 1) -> None:
        """The next `times` accepted batches are stored, then answered only after
        `stall_s`: a worker killed meanwhile never learns that they were."""
        with self._lock:
            self._stalls += times
            self.stored_event.clear()
            self._released.clear()

    def release(self) -> None:
        """Answer stalled calls now (the stand-in stops without waiting for them)."""
        self._released.set()

    # --- the API ---------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="DSA Transparency Database stand-in", docs_url=None,
                      redoc_url=None, openapi_url=None)
        app.add_api_route("/api/v1/statements", self._store, methods=["POST"])
        return app

    async def _store(self, request: Request) -> Response:
        with self._lock:
            self.headers.append(dict(request.headers))
        answer = self._answer(request, await request.body())
        with self._lock:
            self.calls.append((answer.count, answer.status))
            stalled = answer.status == 201 and self._stalls > 0
            if stalled:
                self._stalls -= 1
        if stalled:
            self.stored_event.set()
            await self._held_back()
        return JSONResponse(answer.body, status_code=answer.status)

    async def _held_back(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.stall_s
        while not self._released.is_set() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    def _answer(self, request: Request, raw: bytes) -> _Answer:
        injected = self._injected()
        if injected is not None:
            return _Answer(injected, {"message": "injected failure"})
        if not self._authorised(request):
            return _Answer(401, {"message": "Unauthenticated."})
        statements = _statements(raw)
        if statements is None:
            message = f"The statements field must be a list of 1 to {MAX_BATCH} items."
            return _Answer(422, {"message": message, "errors": {"statements": [message]}})
        with self._lock:
            self.received.update(str(s.get("puid", "")) for s in statements)
            return self._take(statements)

    def _take(self, statements: list[dict[str, Any]]) -> _Answer:
        """Validate, check the puids, store; call with the lock held."""
        errors = {f"statement_{i}": found for i, s in enumerate(statements)
                  if (found := self._errors(s))}
        if errors:
            return _Answer(422, {"message": "The given data was invalid.", "errors": errors},
                           len(statements))
        puids = [str(s["puid"]) for s in statements]
        held = sorted({p for p in puids if p in self.statements or puids.count(p) > 1})
        if held:
            return _Answer(422, {"message": NOT_UNIQUE, "errors": {
                "puid": [NOT_UNIQUE], "existing_puids": held}}, len(statements))
        created = utcnow().strftime("%Y-%m-%d %H:%M:%S")
        out = [{**s, "uuid": str(uuid.uuid4()), "platform_name": self.platform_name,
                "created_at": created} for s in statements]
        for statement in out:
            self.statements[statement["puid"]] = statement
            self.stored[statement["puid"]] += 1
        return _Answer(201, {"statements": out}, len(statements))

    def _errors(self, statement: Any) -> dict[str, list[str]]:
        errors = schema_errors_by_field(statement)
        if isinstance(statement, dict):
            for field, message in _date_errors(statement).items():
                errors.setdefault(field, []).append(message)
            refusal = self._refusals.pop(str(statement.get("puid")), None)
            if refusal:
                errors.setdefault("statement", []).append(refusal)
        return errors

    def _injected(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _authorised(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and secrets.compare_digest(given.encode(),
                                                             self.token.encode())


class _Answer:
    def __init__(self, status: int, body: dict[str, Any], count: int = 0) -> None:
        self.status, self.body, self.count = status, body, count


def _statements(raw: bytes) -> list[dict[str, Any]] | None:
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    statements = payload.get("statements") if isinstance(payload, dict) else None
    if not isinstance(statements, list) or not 1 <= len(statements) <= MAX_BATCH:
        return None
    return [s if isinstance(s, dict) else {} for s in statements]


def _date_errors(statement: dict[str, Any]) -> dict[str, str]:
    errors = {}
    for field, (first, last) in _DATE_BOUNDS.items():
        try:
            when = date.fromisoformat(str(statement.get(field)))
        except ValueError:
            continue  # the schema has said so already
        if not first <= when <= last:
            errors[field] = (f"The {field.replace('_', ' ')} must be a date between "
                             f"{first} and {last}.")
    return errors


@contextmanager
def serve_stand_in(server: StandInTransparencyDatabase) -> Iterator[str]:
    """Serve the stand-in on 127.0.0.1 in a daemon thread; yields its base URL (the
    client adds /api/v1/statements) and stops it on exit."""
    with BackgroundServer(server.app(), free_port()) as background:
        try:
            yield background.url
        finally:
            server.release()
