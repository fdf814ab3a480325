"""Logs: one JSON object per line, each line written while handling a request carrying
its request id, which is the caller's X-Request-Id (cleaned) or a new one, echoed."""

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from takedown.api.app import create_app
from takedown.api.requests import MAX_ID_LENGTH
from takedown.logs import configure_logging
from takedown.system import Takedown


class Captured:
    def __init__(self, log_format: str) -> None:
        self.stream = io.StringIO()
        self.handler = configure_logging(log_format, stream=self.stream)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def logs() -> Iterator[Captured]:
    root = logging.getLogger()
    level = root.level
    captured = Captured("json")
    yield captured
    root.removeHandler(captured.handler)
    root.setLevel(level)


def app_that_logs(system: Takedown) -> FastAPI:
    app = create_app(system, run_workers=False)
    work = logging.getLogger("takedown.test")

    @app.get("/work-in-a-thread")
    def in_a_thread() -> dict[str, str]:  # run in Starlette's thread pool
        work.info("working", extra={"items": 3})
        return {}

    @app.get("/work-in-the-loop")
    async def in_the_loop() -> dict[str, str]:
        work.warning("careful")
        return {}

    return app


def test_every_line_of_a_request_carries_its_id(system: Takedown, logs: Captured) -> None:
    with TestClient(app_that_logs(system)) as client:
        answer = client.get("/work-in-a-thread", headers={"X-Request-Id": "req-42"})
        assert answer.headers["x-request-id"] == "req-42"
        client.get("/work-in-the-loop?token=secret", headers={"X-Request-Id": "req-43"})
    records = logs.records()
    work = [r for r in records if r["logger"] == "takedown.test"]
    assert [(r["message"], r["request_id"]) for r in work] == [("working", "req-42"),
                                                               ("careful", "req-43")]
    assert work[0]["items"] == 3 and work[0]["level"] == "info"
    access = [r for r in records if r["logger"] == "takedown.access"]
    assert [(a["request_id"], a["route"], a["status"]) for a in access] == [
        ("req-42", "/work-in-a-thread", 200), ("req-43", "/work-in-the-loop", 200)]
    assert access[1]["path"] == "/work-in-the-loop"  # no query string: it may hold tokens
    assert all("secret" not in json.dumps(a) for a in access)
    assert all(isinstance(a["duration_ms"], float) for a in access)


def test_request_ids_are_cleaned_bounded_or_made(client: TestClient, logs: Captured) -> None:
    def echoed(given: str | None) -> str:
        headers = {"X-Request-Id": given} if given is not None else {}
        return str(client.get("/v1/cases", headers=headers).headers["x-request-id"])

    assert echoed("abc DEF;<script>\"'9") == "abcDEFscript9"
    assert echoed("x" * 500) == "x" * MAX_ID_LENGTH
    made = {echoed(None), echoed(None), echoed("<>;")}
    assert len(made) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made)
    logged = {r["request_id"] for r in logs.records() if r["logger"] == "takedown.access"}
    assert made < logged


def test_errors_carry_the_id_too(system: Takedown, logs: Captured) -> None:
    app = create_app(system, run_workers=False)

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/broken", headers={"X-Request-Id": "bad-1"}).status_code == 500
    failed = [r for r in logs.records() if r.get("request_id") == "bad-1"]
    assert any("RuntimeError: boom" in r.get("exception", "") for r in failed)
    assert any(r.get("status") == 500 for r in failed)


def test_text_lines_for_people() -> None:
    root = logging.getLogger()
    captured = Captured("text")
    try:
        logging.getLogger("takedown.test").warning("plain %s", "words")
    finally:
        root.removeHandler(captured.handler)
    assert re.search(r"WARNING +takedown\.test \[-\] plain words$", captured.lines()[-1])
    with pytest.raises(ValueError, match="log format 'xml'"):
        configure_logging("xml")
