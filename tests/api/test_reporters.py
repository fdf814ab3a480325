"""Reporters: asked for more information (status, e-mail, their answer), and marked
abusive (open reports invalidated, later ones set aside as they arrive)."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.pipeline.escalation import NotificationSender
from takedown.store.tables import AuditEntryRow
from takedown.system import Takedown
from tests.conftest import Inbox, Keys, Receiver, deliver_all
from tests.helpers import only_case, register, report, states

NCII = "non_consensual_intimate_imagery"
QUESTION = "How old were you when the photo was taken?"


def status_of(client: TestClient, receipt: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/v1/reports/{receipt['report_id']}/status",
                          headers={"X-Status-Token": receipt["status_token"]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def answer(client: TestClient, receipt: dict[str, Any], expect: int,
           **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/reports/{receipt['report_id']}/information", json=body,
                           headers={"X-Status-Token": receipt["status_token"]})
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def test_asking_the_reporter_tells_them_and_their_answer_joins_the_case(
        client: TestClient, keys: Keys, system: Takedown, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    register(client, keys.api, "post", seed=5)
    victim = report(client, content_ids=["post"], category=NCII, relation="depicted_person",
                    contact_email="Victim@Example.org")
    report(client, content_ids=["post"], category=NCII)  # anonymous: no address to write to
    case = only_case(client, keys.bearer("moderator"))
    asked = client.post(f"/v1/cases/{case['id']}/decisions", headers=keys.bearer("moderator"),
                        json={"outcome": "request_information", "notes": "internal: unsure",
                              "reason": system.policy.reasons["request_information"][2],
                              "question": QUESTION})
    assert asked.status_code == 200, asked.text
    told = status_of(client, victim)
    assert told["status"] == "information_requested" and told["question"] == QUESTION
    assert "internal" not in str(told)

    sender = NotificationSender(system.db, system.settings.with_(smtp_port=port))
    assert sender.run_once("worker") == 2  # the receipt, then the question
    receipt, mail = sorted(inbox.messages, key=lambda m: "more information" in m["Subject"])
    assert receipt["Subject"] == "We received your report"
    assert f"/report/{victim['report_id']}?token={victim['status_token']}" in \
        receipt.get_body(("plain",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "victim@example.org" and "more information" in mail["Subject"]
    assert QUESTION in text and "status page" in text
    assert "internal" not in text and "Never send them" in text
    assert QUESTION in mail.get_body(("html",)).get_content()

    given = answer(client, victim, 202, text="I was 16. <script>x</script>",
                   case_numbers=["PD-77"])
    assert given["status"] == "restricted" and given["question"] is None
    after = client.get(f"/v1/cases/{case['id']}", headers=keys.bearer("moderator")).json()
    assert after["information_requested"] is False and after["priority"] > case["priority"]
    mine = next(r for r in after["reports"] if r["id"] == victim["report_id"])
    assert mine["answers"][0]["text"] == "I was 16. <script>x</script>"
    assert mine["answers"][0]["case_numbers"] == ["PD-77"]

    wrong = client.post(f"/v1/reports/{victim['report_id']}/information", json={"text": "x"},
                        headers={"X-Status-Token": "guess"})
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "unknown_report"
    empty = client.post(f"/v1/reports/{victim['report_id']}/information", json={"text": ""},
                        headers={"X-Status-Token": victim["status_token"]})
    assert empty.status_code == 422
    client.post(f"/v1/cases/{case['id']}/decisions", headers=keys.bearer("moderator"),
                json={"outcome": "violation"})
    late = answer(client, victim, 409, text="more")
    assert late["error"]["code"] == "case_closed"


def reporter_of(client: TestClient, keys: Keys, case_id: int, email: str | None) -> str:
    detail = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("admin")).json()
    keys_by_email = {r["contact_email"]: r["reporter"]["key"] for r in detail["reports"]}
    return str(keys_by_email[email])


def case_of(client: TestClient, keys: Keys, content_id: str) -> dict[str, Any]:
    state: dict[str, Any] = client.get(f"/v1/content/{content_id}", headers=keys.api).json()
    detail: dict[str, Any] = client.get(f"/v1/cases/{state['case_id']}",
                                        headers=keys.bearer("admin")).json()
    return detail


def test_marking_a_reporter_abusive_invalidates_their_open_reports(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    abuser = "flood@example.org"
    receipts = {}
    for n in range(3):
        register(client, keys.api, f"post-{n}", seed=40 + n)
        receipts[n] = report(client, content_ids=[f"post-{n}"], category=NCII,
                             relation="depicted_person", contact_email=abuser)
    honest = report(client, content_ids=["post-0"], category=NCII, contact_email="h@example.org")
    register(client, keys.api, "child", seed=50)
    report(client, content_ids=["child"], relation="parent_guardian", depicted_minor=True,
           contact_email=abuser)
    assert set(states(client, keys.api, "post-0", "post-1", "post-2", "child").values()) \
        == {"restricted"}  # restricted first, as the reports claimed the depicted person
    child_before = case_of(client, keys, "child")
    key = reporter_of(client, keys, child_before["id"], abuser)

    by_moderator = client.put(f"/v1/reporters/{key}/abusive", json={"reason": "flood"},
                              headers=keys.bearer("moderator"))
    assert by_moderator.status_code == 403
    marked = client.put(f"/v1/reporters/{key}/abusive", json={"reason": "flood of false reports"},
                        headers=keys.bearer("specialist"))
    assert marked.status_code == 200, marked.text
    result = marked.json()
    assert result["abusive"] and result["marked_by"] == "ana"
    assert (result["reports_changed"], result["cases_touched"], result["cases_set_aside"]) \
        == (4, 4, 2)
    assert result["reports"] == 4 and result["open_reports"] == 2

    # Set aside: the restriction the false reports caused is lifted on the platform.
    deliver_all(system)
    assert states(client, keys.api, "post-1", "post-2") == {"post-1": "visible",
                                                            "post-2": "visible"}
    assert status_of(client, receipts[1])["status"] == "set_aside"
    # Another reporter's report keeps its case open.
    assert case_of(client, keys, "post-0")["status"] == "open"
    assert status_of(client, honest)["status"] == "restricted"
    assert status_of(client, receipts[0])["status"] == "set_aside"
    # A child-safety case is never ended this way: lower priority, still a deadline.
    child = case_of(client, keys, "child")
    assert child["status"] == "open" and child["restricted"]
    assert child["priority"] < child_before["priority"]
    assert child["deadline"] > child_before["deadline"]
    assert [r["invalidated"] for r in child["reports"]] == \
        ["reporter marked abusive: flood of false reports"]

    # Later reports are stored (202) and set aside as they arrive.
    register(client, keys.api, "post-3", seed=44)
    late = report(client, content_ids=["post-3"], category=NCII, relation="depicted_person",
                  contact_email=abuser)
    assert states(client, keys.api, "post-3") == {"post-3": "visible"}
    assert status_of(client, late)["status"] == "set_aside"
    with system.db.transaction() as s:
        entries = {(e.actor, e.action, e.target) for e in s.scalars(select(AuditEntryRow))}
    assert ("ana", "reporter_marked_abusive", f"reporter:{key}") in entries
    assert ("max", "access_denied", f"reporter:{key}") in entries  # the refused attempt

    lifted = client.delete(f"/v1/reporters/{key}/abusive", headers=keys.bearer("admin"))
    assert lifted.status_code == 200 and not lifted.json()["abusive"]
    assert lifted.json()["reports_changed"] == 2  # post-0 and child, still open
    assert case_of(client, keys, "child")["priority"] == child_before["priority"]
    assert status_of(client, receipts[1])["status"] == "set_aside"  # closed stays closed
    again = client.delete(f"/v1/reporters/{key}/abusive", headers=keys.bearer("admin"))
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_marked"


def test_unknown_or_malformed_reporter_keys_get_a_clear_4xx(client: TestClient,
                                                           keys: Keys) -> None:
    unknown = client.get("/v1/reporters/" + "a" * 64, headers=keys.bearer("admin"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_reporter"
    malformed = client.put("/v1/reporters/nope/abusive", json={"reason": "x"},
                           headers=keys.bearer("admin"))
    assert malformed.status_code == 422
    no_reason = client.put("/v1/reporters/" + "a" * 64 + "/abusive", json={},
                           headers=keys.bearer("admin"))
    assert no_reason.status_code == 422
