"""The public report API: validation, idempotency, unknown content, case joining."""

from fastapi.testclient import TestClient

from takedown.system import Takedown
from tests.conftest import Keys
from tests.helpers import only_case, register, report


def test_report_is_acknowledged_with_id_and_token_after_it_is_stored(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "p1", seed=1)
    receipt = report(client, content_ids=["p1"], relation="other_user", text="abuse",
                     contact_email="someone@example.org")
    assert receipt["report_id"] and len(receipt["status_token"]) >= 24
    assert receipt["references"] == [{"kind": "content_id", "value": "p1", "resolved": True,
                                      "problem": None}]
    # Stored: a fresh service over the same database sees it.
    other = Takedown(system.settings)
    status = other.report_status(receipt["report_id"], receipt["status_token"])
    other.close()
    assert status["status"] == "received"


def test_status_needs_the_right_token(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "p1", seed=1)
    receipt = report(client, content_ids=["p1"])
    url = f"/v1/reports/{receipt['report_id']}/status"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-Status-Token": "wrong"}).status_code == 404
    ok = client.get(url, headers={"X-Status-Token": receipt["status_token"]})
    assert ok.status_code == 200 and ok.json()["status"] == "received"
    assert client.get(f"{url}?token={receipt['status_token']}").status_code == 200


def test_invalid_report_names_each_bad_field(client: TestClient) -> None:
    response = client.post("/v1/reports", json={
        "content_ids": ["x"], "category": "spam", "reporter_relation": "cousin",
        "age_at_time": -3, "contact_email": "not-an-email", "language": "english!!"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    fields = {f["field"] for f in error["fields"]}
    assert {"category", "reporter_relation", "age_at_time", "contact_email",
            "language"} <= fields


def test_report_naming_nothing_is_refused(client: TestClient) -> None:
    response = client.post("/v1/reports", json={"category": "child_sexual_abuse",
                                                "reporter_relation": "other_user"})
    assert response.status_code == 422
    assert "content_ids or urls" in response.text


def test_broken_json_is_a_400_naming_the_problem(client: TestClient) -> None:
    response = client.post("/v1/reports", content=b'{"category": ',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_unknown_fields_are_refused(client: TestClient) -> None:
    response = client.post("/v1/reports", json={
        "content_ids": ["x"], "category": "terms_violation", "reporter_relation": "other_user",
        "reporter_name": "should not be here"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "reporter_name"


def test_unknown_content_is_a_clear_404(client: TestClient, keys: Keys) -> None:
    response = client.post("/v1/reports", json={
        "content_ids": ["nope"], "category": "child_sexual_abuse",
        "reporter_relation": "other_user"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unknown_content"
    assert error["fields"] == [{"field": "content_ids[0]", "message": "unknown content id"}]


def test_partly_unknown_report_is_kept_and_says_what_did_not_resolve(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "p1", seed=1)
    receipt = report(client, content_ids=["p1", "ghost"],
                     urls=["https://elsewhere.example/x/1"])
    resolved = {r["value"]: r["resolved"] for r in receipt["references"]}
    assert resolved == {"p1": True, "ghost": False, "https://elsewhere.example/x/1": False}
    case = only_case(client, keys.bearer("specialist"))
    detail = client.get(f"/v1/cases/{case['id']}", headers=keys.bearer("specialist")).json()
    assert detail["reports"][0]["references"][1]["problem"] == "unknown content id"


def test_report_with_only_an_unknown_url_is_kept_for_a_human(
        client: TestClient, keys: Keys) -> None:
    receipt = report(client, urls=["https://elsewhere.example/video/9"])
    assert receipt["references"][0]["resolved"] is False
    case = only_case(client, keys.bearer("specialist"))
    assert case["status"] == "open" and case["deadline"] is not None


def test_report_by_url_resolves_registered_content(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "p1", seed=1, url="https://net.example/p/1")
    receipt = report(client, urls=["https://net.example/p/1"])
    assert receipt["references"][0]["resolved"] is True


def test_idempotency_key_makes_a_retry_one_report(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "p1", seed=1)
    key = {"Idempotency-Key": "retry-1"}
    first = report(client, content_ids=["p1"], headers=key)
    second = report(client, content_ids=["p1"], headers=key)
    assert first == second
    case = only_case(client, keys.bearer("specialist"))
    detail = client.get(f"/v1/cases/{case['id']}", headers=keys.bearer("specialist")).json()
    assert len(detail["reports"]) == 1
    reused = client.post("/v1/reports", headers=key, json={
        "content_ids": ["p1"], "category": "terms_violation", "reporter_relation": "other_user"})
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_reports_on_the_same_content_a_repost_or_a_copy_join_one_case(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=7)
    register(client, keys.api, "rp", repost_of="orig")
    register(client, keys.api, "rprp", repost_of="rp")
    register(client, keys.api, "copy", seed=7, author="someone-else")
    register(client, keys.api, "unrelated", seed=8)
    for target in ("orig", "rprp", "copy", "orig"):
        report(client, content_ids=[target], category="terms_violation")
    report(client, content_ids=["unrelated"], category="terms_violation")
    queue = client.get("/v1/cases", headers=keys.bearer("moderator")).json()
    assert len(queue) == 2
    detail = client.get(f"/v1/cases/{queue[0]['id']}", headers=keys.bearer("moderator")).json()
    assert len(detail["reports"]) == 4
    assert {c["content_id"] for c in detail["content"]} == {"orig", "rp", "rprp", "copy"}


def test_each_new_report_raises_priority_and_the_seed_case_tops_the_queue(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "spam", seed=2)
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["spam"], category="terms_violation")
    specialist = keys.bearer("specialist")
    seen = []
    for relation, extra in (("depicted_person", {"age_at_time": 13, "age_now": 16}),
                            ("parent_guardian", {"case_numbers": ["PD-1"],
                                                 "contact_email": "mum@example.org"}),
                            ("parent_guardian", {"case_numbers": ["PD-1", "FBI-2"],
                                                 "contact_email": "mum@example.org"})):
        report(client, content_ids=["orig"], relation=relation, **extra)
        top = client.get("/v1/cases", headers=specialist).json()[0]
        seen.append(top["priority"])
        assert top["category"] == "child_sexual_abuse"
        assert 0 < top["seconds_left"] <= 3600
    assert seen[0] < seen[1] < seen[2]


def test_a_credible_child_safety_report_restricts_every_copy_at_once(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    register(client, keys.api, "rp", repost_of="orig")
    register(client, keys.api, "q", quote_of="rp")
    register(client, keys.api, "copy", seed=1, author="other")
    register(client, keys.api, "benign", seed=2)
    report(client, content_ids=["rp"], relation="depicted_person", depicted_minor=True)
    states = {i: client.get(f"/v1/content/{i}", headers=keys.api).json()["moderation_state"]
              for i in ("orig", "rp", "q", "copy", "benign")}
    assert states == {"orig": "restricted", "rp": "restricted", "q": "restricted",
                      "copy": "restricted", "benign": "visible"}
    case = only_case(client, keys.bearer("specialist"))
    assert case["restricted"] is True


def test_an_anonymous_other_user_report_does_not_restrict(client: TestClient,
                                                          keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"], relation="other_user")
    assert client.get("/v1/content/orig", headers=keys.api).json()["moderation_state"] == \
        "visible"
