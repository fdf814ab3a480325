"""Appeals (DSA Art. 20, 23): the uploader through the platform, a reporter from the
status page; decided by a person who did not decide the case; a reversal restores the
content and its copies and stops blocking the hash; a reversed dismissal enforces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.clock import utcnow
from takedown.store.tables import BankEntryRow, NotificationRow, TiplineReportRow
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import only_case, register, report, states


def confirmed_case(client: TestClient, keys: Keys, system: Takedown,
                   category: str = "child_sexual_abuse", decider: str = "specialist",
                   seed: int = 5) -> int:
    """A post with a repost and a re-upload of its picture, removed as a violation."""
    register(client, keys.api, "post-1", seed=seed, author="uploader-1")
    register(client, keys.api, "post-1-r", repost_of="post-1", author="reposter")
    register(client, keys.api, "post-2", seed=seed, author="uploader-2")
    report(client, content_ids=["post-1"], category=category, relation="parent_guardian")
    case_id: int = only_case(client, keys.bearer(decider))["id"]
    decided = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer(decider),
                          json={"outcome": "violation"})
    assert decided.status_code == 200, decided.text
    deliver_all(system)
    return case_id


def appeal(client: TestClient, keys: Keys, expect: int = 201, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/appeals", headers=keys.api,
                           json={"text": "This is my own holiday photo.", **body})
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


def decide(client: TestClient, keys: Keys, appeal_id: str, who: str, outcome: str,
           expect: int = 200, reason: str = "looked again") -> dict[str, Any]:
    response = client.post(f"/v1/appeals/{appeal_id}/decision", headers=keys.bearer(who),
                           json={"outcome": outcome, "reason": reason})
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_an_appeal_is_acknowledged_and_followed_by_its_platform_only(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    confirmed_case(client, keys, system, "non_consensual_intimate_imagery")
    lodged = appeal(client, keys, content_id="post-1")
    assert lodged["status"] == "open" and lodged["appellant"] == "uploader"
    again = appeal(client, keys, expect=200, content_id="post-1")
    assert again["appeal_id"] == lodged["appeal_id"]
    seen = client.get(f"/v1/appeals/{lodged['appeal_id']}", headers=keys.api)
    assert seen.status_code == 200 and seen.json()["status"] == "open"
    other, _ = system.add_platform("othernet", receiver.url, webhook_secret=receiver.secret)
    assert client.get(f"/v1/appeals/{lodged['appeal_id']}",
                      headers={"X-Api-Key": other}).status_code == 404
    assert client.get(f"/v1/appeals/{lodged['appeal_id']}").status_code == 401
    queue = client.get("/v1/appeals", headers=keys.bearer("moderator")).json()
    assert [a["appeal_id"] for a in queue] == [lodged["appeal_id"]]
    # By statement puid too: the uploader quotes the statement they were sent.
    puid = next(a["statement"]["puid"] for a in receiver.actions
                if a["type"] == "remove" and a["target"]["id"] == "post-2")
    by_puid = appeal(client, keys, statement_puid=puid)
    assert by_puid["statement_puid"] == puid


def test_bad_appeals_are_refused_with_a_clear_error(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "quiet", seed=9)
    assert client.post("/v1/appeals", headers=keys.api,
                       json={"content_id": "quiet", "text": "x"}).json()["error"]["code"] \
        == "nothing_to_appeal"
    assert client.post("/v1/appeals", headers=keys.api,
                       json={"content_id": "nope", "text": "x"}).status_code == 404
    assert client.post("/v1/appeals", headers=keys.api, json={"text": "x"}).status_code == 422
    assert client.post("/v1/appeals", headers=keys.api,
                       json={"content_id": "quiet", "statement_puid": "p", "text": "x"}
                       ).status_code == 422
    # Restricted first, under review: nothing decided yet, so nothing to appeal.
    report(client, content_ids=["quiet"], category="non_consensual_intimate_imagery",
           relation="depicted_person")
    assert states(client, keys.api, "quiet")["quiet"] == "restricted"
    body = client.post("/v1/appeals", headers=keys.api,
                       json={"content_id": "quiet", "text": "x"})
    assert body.status_code == 409, body.text
    assert body.json()["error"]["code"] == "appeal_conflict"
    assert "still under review" in body.json()["error"]["message"]


def test_the_original_decider_may_not_decide_the_appeal(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    confirmed_case(client, keys, system, "non_consensual_intimate_imagery", decider="moderator")
    lodged = appeal(client, keys, content_id="post-1")
    refused = decide(client, keys, lodged["appeal_id"], "moderator", "upheld", expect=409)
    assert refused["error"]["code"] == "appeal_conflict"
    assert "took no part" in refused["error"]["message"]
    upheld = decide(client, keys, lodged["appeal_id"], "admin", "upheld")
    assert upheld["status"] == "upheld"
    assert decide(client, keys, lodged["appeal_id"], "specialist", "reversed",
                  expect=409)["error"]["code"] == "appeal_conflict"


def test_a_reversal_restores_the_content_and_its_copies_and_stops_blocking_the_hash(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    case_id = confirmed_case(client, keys, system)
    assert set(states(client, keys.api, "post-1", "post-1-r", "post-2").values()) == \
        {"removed"}
    assert register(client, keys.api, "post-3", seed=5)["verdict"] == "block"
    lodged = appeal(client, keys, content_id="post-2", language="de")
    # A moderator may not decide a child-safety appeal; the decider may not either.
    assert decide(client, keys, lodged["appeal_id"], "moderator", "reversed",
                  expect=403)["error"]["code"] in ("child_safety_only", "appeal_forbidden")
    assert decide(client, keys, lodged["appeal_id"], "moderator", "upheld",
                  expect=403)["error"]["code"] in ("child_safety_only", "appeal_forbidden")
    decide(client, keys, lodged["appeal_id"], "specialist", "reversed", expect=409)
    # Clearing confirmed child abuse takes two specialists, as a dismissal does.
    proposed = decide(client, keys, lodged["appeal_id"], "specialist2", "reversed")
    assert proposed["status"] == "reversal_proposed"
    assert states(client, keys.api, "post-1")["post-1"] == "removed"
    decide(client, keys, lodged["appeal_id"], "specialist2", "reversed", expect=409)
    receiver.reset()
    done = decide(client, keys, lodged["appeal_id"], "admin", "reversed")
    assert done["status"] == "reversed" and done["case_status"] == "closed_no_violation"
    deliver_all(system)
    assert set(states(client, keys.api, "post-1", "post-1-r", "post-2", "post-3").values()) \
        == {"visible"}
    restores = [a for a in receiver.actions if a["type"] == "restore"]
    assert {a["target"]["id"] for a in restores} == {"post-1", "post-1-r", "post-2", "post-3"}
    for action in restores:  # a new statement, naming the one it replaces
        assert action["statement"]["decision_visibility"] == ["DECISION_VISIBILITY_OTHER"]
        assert "replaces statement takedown-" in action["statement"]["decision_facts"]
    assert {a["target"]["id"] for a in receiver.actions if a["type"] == "reinstate"} == \
        {"uploader-1", "uploader-2"}
    told = [a for a in receiver.actions if a["type"] == "appeal_decided"]
    assert len(told) == 1 and told[0]["content_id"] == "post-2"
    assert told[0]["notice"]["language"] == "de"
    # The hash no longer blocks; the CyberTipline draft is withdrawn.
    assert register(client, keys.api, "post-4", seed=5)["verdict"] == "allow"
    with system.db.transaction() as s:
        entries = list(s.scalars(select(BankEntryRow).where(BankEntryRow.case_id == case_id,
                                                            BankEntryRow.bank == "confirmed")))
        assert entries and not any(e.enabled for e in entries)
        tip = s.scalar(select(TiplineReportRow).where(TiplineReportRow.case_id == case_id))
        assert tip is not None and tip.stage == "withdrawn"
    events = [e["type"] for e in client.get(f"/v1/cases/{case_id}",
                                            headers=keys.bearer("admin")).json()["events"]]
    assert events.count("appealed") == 1 and "appeal_decided" in events


def test_a_reporter_appeals_a_dismissal_and_a_reversal_enforces(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "ncii-1", seed=21)
    register(client, keys.api, "ncii-1-r", repost_of="ncii-1")
    receipt = report(client, content_ids=["ncii-1"], category="non_consensual_intimate_imagery",
                     relation="other_user", contact_email="me@example.org", language="fr")
    case_id = only_case(client, keys.bearer("moderator"))["id"]
    client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("moderator"),
                json={"outcome": "no_violation"})
    token = {"X-Status-Token": receipt["status_token"]}
    url = f"/v1/reports/{receipt['report_id']}/appeals"
    assert client.post(url, json={"text": "c'est moi"}).status_code == 401
    assert client.post(url, json={"text": "c'est moi"},
                       headers={"X-Status-Token": "wrong"}).status_code == 404
    lodged = client.post(url, json={"text": "C'est moi, sans mon accord."}, headers=token)
    assert lodged.status_code == 201, lodged.text
    appeal_id = lodged.json()["appeal_id"]
    decide(client, keys, appeal_id, "moderator", "reversed", expect=409)
    done = decide(client, keys, appeal_id, "specialist", "reversed")
    assert done["case_status"] == "closed_violation"
    deliver_all(system)
    assert set(states(client, keys.api, "ncii-1", "ncii-1-r").values()) == {"removed"}
    with system.db.transaction() as s:
        mails = [n.dedupe_key for n in s.scalars(select(NotificationRow))]
    assert any(f"appeal:{appeal_id}:open" in k for k in mails)  # acknowledged
    assert any(k.startswith(f"reporter:decision:{case_id}:") for k in mails)


def test_appeals_close_after_the_window(client: TestClient, keys: Keys, system: Takedown,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    confirmed_case(client, keys, system, "non_consensual_intimate_imagery")
    later = utcnow() + timedelta(days=184)
    monkeypatch.setattr("takedown.cases.appeals.utcnow", lambda: later)
    late = appeal(client, keys, expect=409, content_id="post-1")
    assert late["error"]["code"] == "appeal_too_late"


def test_repeated_manifestly_unfounded_appeals_are_refused(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    confirmed_case(client, keys, system, "non_consensual_intimate_imagery")
    first = appeal(client, keys, content_id="post-1")
    assert decide(client, keys, first["appeal_id"], "admin", "refused", expect=422,
                  reason=" ")["error"]["code"] == "reason_required"
    decide(client, keys, first["appeal_id"], "admin", "refused", reason="no new facts")
    for _ in range(2):
        lodged = appeal(client, keys, content_id="post-1")
        decide(client, keys, lodged["appeal_id"], "admin", "refused",
               reason="the same text again, no new facts")
    suspended = appeal(client, keys, expect=403, content_id="post-1")
    assert suspended["error"]["code"] == "appeals_suspended"
    # Another uploader is not affected.
    assert appeal(client, keys, content_id="post-2")["status"] == "open"
