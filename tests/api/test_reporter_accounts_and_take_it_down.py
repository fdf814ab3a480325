"""Issue 12, in part: platforms name their reporter's account (only with their key), so
one account's reports are one reporter's and marking it abusive works for platform
users; a TAKE IT DOWN Act request is valid only when complete, and its 48-hour clock
starts then. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import register, report, settle

NCII = "non_consensual_intimate_imagery"


def keys_of(client: TestClient, keys: Keys, content_id: str) -> list[str]:
    state = client.get(f"/v1/content/{content_id}", headers=keys.api).json()
    detail = client.get(f"/v1/cases/{state['case_id']}", headers=keys.bearer("admin")).json()
    return [r["reporter"]["key"] for r in detail["reports"]]


def test_a_reporter_account_needs_the_platforms_key(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "post", seed=61)
    spoofed = client.post("/v1/reports", json={
        "content_ids": ["post"], "category": NCII, "reporter_relation": "other_user",
        "reporter_account": "someone-else"})
    assert spoofed.status_code == 401 and "X-Api-Key" in spoofed.text
    wrong = client.post("/v1/reports", headers={"X-Api-Key": "tdp_not-a-key"}, json={
        "content_ids": ["post"], "category": NCII, "reporter_relation": "other_user",
        "reporter_account": "someone-else"})
    assert wrong.status_code == 401


def test_one_accounts_reports_are_one_reporter_and_can_be_marked(
        client: TestClient, keys: Keys, receiver: Receiver, system: Any) -> None:
    for n in range(2):
        register(client, keys.api, f"p{n}", seed=62 + n)
    for n, email in enumerate(("a@example.org", "b@example.org")):  # two addresses
        report(client, content_ids=[f"p{n}"], category=NCII, relation="depicted_person",
               headers=keys.api, reporter_account="u-1234", contact_email=email)
    report(client, content_ids=["p0"], category=NCII, headers=keys.api,
           reporter_account="u-9999")
    first, second = keys_of(client, keys, "p0"), keys_of(client, keys, "p1")
    assert first[0] == second[0] and first[1] != first[0]
    marked = client.put(f"/v1/reporters/{first[0]}/abusive", headers=keys.bearer("specialist"),
                        json={"reason": "harassment by reporting"})
    assert marked.status_code == 200 and marked.json()["reports"] == 2
    # The reported account learns nothing of who reported: no account id in any action.
    deliver_all(system)
    assert "u-1234" not in str(receiver.actions) and "u-9999" not in str(receiver.actions)


def status(client: TestClient, receipt: dict[str, Any]) -> dict[str, Any]:
    answer = client.get(f"/v1/reports/{receipt['report_id']}/status",
                        headers={"X-Status-Token": receipt["status_token"]})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_complete_take_it_down_request_starts_the_48_hour_clock(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "intimate", seed=64)
    complete = report(client, content_ids=["intimate"], category=NCII,
                      relation="depicted_person", contact_email="me@example.org",
                      signature="Jane Q. Doe", good_faith_statement=True)
    told = status(client, complete)["take_it_down"]
    assert told["valid"] is True and told["missing"] == []
    received = datetime.fromisoformat(complete["received_at"])
    assert datetime.fromisoformat(told["deadline"]) == received + timedelta(hours=48)


def test_an_incomplete_request_is_kept_and_says_what_it_lacks(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "intimate", seed=65)
    response = client.post("/v1/reports", json={
        "content_ids": ["intimate"], "category": NCII, "reporter_relation": "other_user",
        "signature": "   "})
    assert response.status_code == 202
    receipt = response.json()
    before = status(client, receipt)["take_it_down"]  # still in the inbox
    settle(client)
    after = status(client, receipt)["take_it_down"]
    for told in (before, after):
        assert told["valid"] is False and told["deadline"] is None
        assert told["missing"] == ["reporter_relation", "good_faith_statement", "signature",
                                   "contact_email"]
    child = report(client, content_ids=["intimate"], relation="parent_guardian",
                   depicted_minor=True)
    assert status(client, child)["take_it_down"] is None  # not an NCII request
    refused = client.post("/v1/reports", json={
        "content_ids": ["intimate"], "category": NCII, "reporter_relation": "depicted_person",
        "good_faith_statement": "yes please"})
    assert refused.status_code == 422
