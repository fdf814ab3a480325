"""Limits on anonymous reporting (issue 12): per address and per item, answered with
429 and Retry-After, never a silent drop; a platform's keyed reports are not limited per
address; reading one's own status is never limited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from takedown.config import Settings
from tests.conftest import Keys
from tests.helpers import register


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(report_rate_limit="3/minute", report_rate_limit_per_content="5/minute")


def send(client: TestClient, item: str, **headers: str) -> int:
    answer = client.post("/v1/reports", headers=headers, json={
        "content_ids": [item], "category": "terms_violation",
        "reporter_relation": "other_user"})
    if answer.status_code == 429:
        assert int(answer.headers["Retry-After"]) >= 1
        assert answer.json()["error"]["code"] == "rate_limited"
    return int(answer.status_code)


def test_an_address_gets_a_429_with_retry_after(client: TestClient, keys: Keys) -> None:
    for n in range(4):
        register(client, keys.api, f"p{n}", seed=70 + n)
    codes = [send(client, f"p{n}") for n in range(4)]
    assert codes == [202, 202, 202, 429]
    refused = client.post("/v1/reports", json={
        "content_ids": ["p0"], "category": "terms_violation",
        "reporter_relation": "other_user"})
    assert "from this address" in refused.json()["error"]["message"]


def test_a_platforms_reports_are_limited_per_item_only(client: TestClient,
                                                       keys: Keys) -> None:
    register(client, keys.api, "viral", seed=75)
    register(client, keys.api, "other", seed=76)
    codes = [send(client, "viral", **keys.api) for _ in range(6)]
    assert codes == [202] * 5 + [429]  # the item's limit, not the address's 3
    assert send(client, "other", **keys.api) == 202


def test_reading_ones_status_is_never_limited(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "p", seed=77)
    receipt = client.post("/v1/reports", json={
        "content_ids": ["p"], "category": "terms_violation",
        "reporter_relation": "other_user"}).json()
    for _ in range(3):
        send(client, "p")
    for _ in range(10):
        status = client.get(f"/v1/reports/{receipt['report_id']}/status",
                            headers={"X-Status-Token": receipt["status_token"]})
        assert status.status_code == 200


def test_a_bad_limit_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        Settings(report_rate_limit="twenty a minute")
    assert Settings(report_rate_limit=" off ").report_rate_limit == "off"
