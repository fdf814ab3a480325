"""The DSA Transparency Database client, over real HTTP, against the stand-in database:
what each answer means for each statement, the schema check, and the vendored schema.
Also the helpers the statements tests share (a valid statement, rows in the outbox)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from takedown.clock import utcnow
from takedown.config import Settings
from takedown.demo.tdb import NOT_UNIQUE, StandInTransparencyDatabase, serve_stand_in
from takedown.errors import NotFound
from takedown.legal.tdb import (
    VENDORED_SCHEMA,
    BatchResult,
    Outcome,
    TransparencyDatabase,
    TransparencyUnavailable,
    _validator,
    read_answer,
    statement_errors,
)
from takedown.server import free_port
from takedown.store.tables import ActionRow, StatementRow
from takedown.system import Takedown
from tests.helpers import reference

TOKEN = "tdb-s3cret-token"


def valid_statement(puid: str) -> dict[str, Any]:
    """A statement of reasons the schema takes, written by hand: no personal data."""
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "18 U.S.C. 2252A",
        "illegal_content_explanation": "A specialist confirmed the image as child sexual "
                                       "abuse material.",
        "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "category_specification": ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"],
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "territorial_scope": ["DE", "FR"],
        "content_date": "2026-11-30",
        "application_date": "2026-12-01",
        "decision_facts": "The image matches a file confirmed as abusive; it was removed.",
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
        "puid": puid,
    }


def add_statements(system: Takedown, count: int, *, body: Any = None,
                   prefix: str = "act") -> list[str]:
    """`count` pending statements, each with the action it explains, as the builder of
    statements makes them; returns their puids, oldest first."""
    try:
        platform_id = system.platform_named("tdbnet").id
    except NotFound:  # the first call: the platform the actions are for
        system.add_platform("tdbnet", "http://127.0.0.1:9/hook")
        platform_id = system.platform_named("tdbnet").id
    start = utcnow() - timedelta(minutes=5)
    puids = [f"{prefix}-{uuid.uuid4()}" for _ in range(count)]
    with system.db.transaction() as s:
        for n, puid in enumerate(puids):
            at = start + timedelta(milliseconds=n)
            s.add(ActionRow(id=puid[-36:], dedupe_key=f"test:{puid}", platform_id=platform_id,
                            kind="remove", target_type="content", target_id=f"item{n}",
                            payload={}, created_at=at, next_attempt_at=at,
                            status="delivered"))
            s.flush()
            s.add(StatementRow(puid=puid, action_id=puid[-36:], platform_id=platform_id,
                               kind="remove", body=body if body is not None
                               else valid_statement(puid),
                               created_at=at, next_attempt_at=at, status="pending",
                               priority=0.0, attempts=0))
    return puids


@dataclass
class Tdb:
    server: StandInTransparencyDatabase
    url: str
    client: TransparencyDatabase


@pytest.fixture
def tdb() -> Iterator[Tdb]:
    server = StandInTransparencyDatabase(token=TOKEN)
    with serve_stand_in(server) as url, \
            TransparencyDatabase(url, TOKEN, timeout_s=5) as client:
        yield Tdb(server, url, client)


# --- the schema ----------------------------------------------------------------------


def test_the_vendored_schema_is_the_reference_one() -> None:
    assert VENDORED_SCHEMA.read_bytes() == reference("dsa", "statement.schema.json").read_bytes()


def test_a_valid_statement_has_no_errors_and_the_validator_is_compiled_once() -> None:
    assert statement_errors(valid_statement("act-1")) == []
    assert _validator() is _validator()


def test_statement_errors_say_which_field_and_why() -> None:
    body = valid_statement("act 1")  # a space: not a puid
    del body["decision_facts"]
    body["category"] = "STATEMENT_CATEGORY_MADE_UP"
    body["uploader"] = "someone"  # personal data has no field to go in
    errors = statement_errors(body)
    assert any(e.startswith("category: ") for e in errors), errors
    assert any(e.startswith("puid: ") for e in errors), errors
    assert any("'decision_facts' is a required property" in e for e in errors), errors
    assert any("uploader" in e for e in errors), errors
    no_decision = valid_statement("act-2")
    del no_decision["decision_visibility"]
    assert statement_errors(no_decision)  # a statement must say what was decided


# --- the client against the stand-in ------------------------------------------------


def test_201_delivers_every_statement_with_the_bearer_token(tdb: Tdb) -> None:
    statements = [valid_statement(f"act-{n}") for n in range(3)]
    result = tdb.client.send(statements)
    assert result.status == 201 and result.failure is None
    assert result.delivered == ["act-0", "act-1", "act-2"]
    assert tdb.server.stored == {"act-0": 1, "act-1": 1, "act-2": 1}
    headers = tdb.server.headers[-1]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept"] == "application/json"
    created = tdb.server.statements["act-0"]
    assert created["platform_name"] and created["uuid"] and created["created_at"]
    assert TOKEN not in repr(tdb.client)


def test_a_wrong_token_is_a_batch_failure(tdb: Tdb) -> None:
    with TransparencyDatabase(tdb.url, "not-the-token", timeout_s=5) as client:
        result = client.send([valid_statement("act-1")])
    assert result.status == 401 and result.outcomes == ()
    assert result.failure and "token" in result.failure
    assert not tdb.server.stored and not tdb.server.received


def test_at_most_100_statements_a_call(tdb: Tdb) -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        tdb.client.send([valid_statement(f"act-{n}") for n in range(101)])
    with pytest.raises(ValueError):
        tdb.client.send([])
    assert tdb.client.send([valid_statement(f"act-{n}") for n in range(100)]).status == 201
    # The stand-in refuses more, as the database does.
    answer = httpx.post(f"{tdb.url}/api/v1/statements",
                        headers={"Authorization": f"Bearer {TOKEN}"},
                        json={"statements": [valid_statement(f"x-{n}") for n in range(101)]})
    assert answer.status_code == 422 and "statements" in answer.json()["errors"]


def test_an_invalid_statement_is_rejected_and_the_batch_is_not_stored(tdb: Tdb) -> None:
    bad = valid_statement("act-bad")
    bad["content_date"] = "1999-12-31"  # the schema's shape, but before the database's bounds
    bad_too = valid_statement("act-bad2")
    del bad_too["illegal_content_legal_ground"]
    result = tdb.client.send([valid_statement("act-ok"), bad, bad_too])
    assert result.status == 422 and result.failure is None
    assert [o.outcome for o in result.outcomes] == [Outcome.NOT_STORED, Outcome.REJECTED,
                                                    Outcome.REJECTED]
    assert "content_date" in result.rejected["act-bad"]
    assert "2000-01-01" in result.rejected["act-bad"]
    assert "illegal_content_legal_ground" in result.rejected["act-bad2"]
    assert result.not_stored == ["act-ok"]
    assert not tdb.server.stored  # all or nothing, as the database
    assert tdb.client.send([valid_statement("act-ok")]).delivered == ["act-ok"]


def test_a_puid_the_database_holds_counts_as_delivered(tdb: Tdb) -> None:
    assert tdb.client.send([valid_statement("act-1")]).status == 201
    result = tdb.client.send([valid_statement("act-1"), valid_statement("act-2")])
    assert result.status == 422
    assert [(o.puid, o.outcome) for o in result.outcomes] == [
        ("act-1", Outcome.ALREADY_THERE), ("act-2", Outcome.NOT_STORED)]
    assert result.delivered == ["act-1"]
    assert tdb.server.stored == {"act-1": 1}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 403, 404])
def test_other_answers_fail_the_whole_batch(tdb: Tdb, status: int) -> None:
    tdb.server.fail(status)
    result = tdb.client.send([valid_statement("act-1")])
    assert result.status == status and result.failure and f"HTTP {status}" in result.failure
    assert result.outcomes == () and not tdb.server.stored


def test_no_answer_raises_transparency_unavailable() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with TransparencyDatabase(nowhere, TOKEN, timeout_s=2) as client, \
            pytest.raises(TransparencyUnavailable) as caught:
        client.send([valid_statement("act-1")])
    assert not caught.value.maybe_received  # refused: it never left
    assert TOKEN not in str(caught.value)


def test_a_lost_answer_may_have_been_received(tdb: Tdb) -> None:
    tdb.server.stall_s = 5
    tdb.server.stall()
    with TransparencyDatabase(tdb.url, TOKEN, timeout_s=0.5) as client, \
            pytest.raises(TransparencyUnavailable) as caught:
        client.send([valid_statement("act-1")])
    assert caught.value.maybe_received
    assert tdb.server.stored == {"act-1": 1}  # it was: sending again is answered as held
    assert tdb.client.send([valid_statement("act-1")]).delivered == ["act-1"]


# --- the real database's answers, as its code writes them ----------------------------


def test_reading_the_databases_answers() -> None:
    sent = [valid_statement("a"), valid_statement("b")]
    validation = json.dumps({"errors": {"statement_1": {
        "decision_facts": ["The decision facts field is required."]}}}).encode()
    result = read_answer(422, validation, sent)
    assert result.rejected == {"b": "decision_facts: The decision facts field is required."}
    assert result.not_stored == ["a"]
    duplicate = json.dumps({"message": NOT_UNIQUE, "errors": {
        "puid": [NOT_UNIQUE], "existing_puids": ["b"]}}).encode()
    assert read_answer(422, duplicate, sent).delivered == ["b"]
    whole = json.dumps({"message": "x", "errors": {"statements": ["required"]}}).encode()
    assert read_answer(422, whole, sent).failure == "HTTP 422: statements: required"
    assert read_answer(422, b"<html>", sent).failure
    assert read_answer(201, b"", sent) == BatchResult(201, read_answer(201, b"{}", sent).outcomes)
    assert "Unauthenticated" in (read_answer(401, b'{"message":"Unauthenticated."}', sent)
                                 .failure or "")


def test_settings_take_the_base_url_and_keep_the_token_secret() -> None:
    settings = Settings(dsa_tdb_url="https://tdb.example/", dsa_tdb_token=TOKEN)
    assert settings.dsa_tdb_url == "https://tdb.example" and settings.dsa_tdb_configured
    assert TOKEN not in repr(settings)
    assert not Settings(dsa_tdb_url="https://tdb.example").dsa_tdb_configured
    assert not Settings(dsa_tdb_token=TOKEN).dsa_tdb_configured
    with pytest.raises(ValueError, match="without /api/v1"):
        Settings(dsa_tdb_url="https://tdb.example/api/v1")
