"""Decisions: roles, the two-person rule, and removal of every copy."""

from fastapi.testclient import TestClient

from takedown.demo.media import generated_photo
from takedown.media.signals import reference_signals
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import only_case, register, report, states


def seed_graph(client: TestClient, keys: Keys) -> None:
    """An original with media, reposts of it and of reposts, a quote, a quote's repost,
    two exact re-uploads (one with its own repost), and unrelated content."""
    register(client, keys.api, "orig", seed=1, author="uploader")
    register(client, keys.api, "rp1", repost_of="orig")
    register(client, keys.api, "rp2", repost_of="rp1")
    register(client, keys.api, "q1", quote_of="orig")
    register(client, keys.api, "q1rp", repost_of="q1")
    register(client, keys.api, "copy1", seed=1, author="reuploader-1")
    register(client, keys.api, "copy2", seed=1, author="reuploader-2")
    register(client, keys.api, "copy2rp", repost_of="copy2")
    register(client, keys.api, "benign", seed=2, author="bystander")
    register(client, keys.api, "benign-rp", repost_of="benign")


COPIES = ("orig", "rp1", "rp2", "q1", "q1rp", "copy1", "copy2", "copy2rp")


def decide(client: TestClient, case_id: int, bearer: dict[str, str], outcome: str,
           expect: int = 200, **extra: object) -> dict[str, object]:
    response = client.post(f"/v1/cases/{case_id}/decisions", headers=bearer,
                           json={"outcome": outcome, "notes": "reviewed", **extra})
    assert response.status_code == expect, response.text
    body: dict[str, object] = response.json()
    return body


def test_violation_removes_every_copy_blocks_reuploads_and_suspends_uploaders(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    seed_graph(client, keys)
    report(client, content_ids=["rp2"], relation="depicted_person", depicted_minor=True)
    case = only_case(client, keys.bearer("specialist"))
    result = decide(client, case["id"], keys.bearer("specialist"), "violation")
    assert result["status"] == "closed_violation"
    assert set(states(client, keys.api, *COPIES).values()) == {"removed"}
    assert states(client, keys.api, "benign", "benign-rp") == {"benign": "visible",
                                                              "benign-rp": "visible"}
    # Exact re-upload and repost of removed content are blocked, with the case reference.
    blocked = register(client, keys.api, "again", seed=1, author="later")
    assert (blocked["verdict"], blocked["case_id"]) == ("block", case["id"])
    repost = register(client, keys.api, "rp-late", repost_of="orig")
    assert (repost["verdict"], repost["case_id"]) == ("block", case["id"])
    deliver_all(system)
    sent = receiver.actions
    removed = {a["target"]["id"] for a in sent if a["type"] == "remove"}
    assert removed >= set(COPIES) | {"again", "rp-late"}
    suspended = {a["target"]["id"] for a in sent if a["type"] == "suspend"}
    assert suspended == {"uploader", "reuploader-1", "reuploader-2"}
    # Reporters' identities never reach the platform.
    assert "boy@" not in str(sent) and all("reporter" not in str(a) for a in sent)


def test_a_quote_is_removed_but_its_own_unrelated_image_is_not_banked(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    register(client, keys.api, "orig", seed=1, author="uploader")
    register(client, keys.api, "quote", quote_of="orig", seed=3, author="quoter")
    report(client, content_ids=["orig"], relation="depicted_person")
    decide(client, only_case(client, keys.bearer("specialist"))["id"],
           keys.bearer("specialist"), "violation")
    assert states(client, keys.api, "orig", "quote") == {"orig": "removed", "quote": "removed"}
    assert register(client, keys.api, "same-image-as-quote", seed=3)["verdict"] == "allow"
    assert register(client, keys.api, "same-as-orig", seed=1)["verdict"] == "block"
    deliver_all(system)
    assert {a["target"]["id"] for a in receiver.actions if a["type"] == "suspend"} == \
        {"uploader"}


def test_a_confirmed_violation_adds_the_media_to_the_confirmed_bank(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"], relation="law_enforcement", case_numbers=["X-1"])
    case = only_case(client, keys.bearer("specialist"))
    decide(client, case["id"], keys.bearer("admin"), "violation")
    detail = client.get(f"/v1/cases/{case['id']}", headers=keys.bearer("admin")).json()
    actioned = next(e["data"] for e in detail["events"] if e["type"] == "actioned")
    data = generated_photo(1, (320, 240))
    signals = {s.signal_type: s.value for s in system.hash_file(data)}
    references = {s.value for s in reference_signals(data, "image/jpeg")}
    # sha256, md5, the PDQ as uploaded, and each reference hash (some coincide)
    assert actioned["banked"] == len(references | set(signals.values()))
    assert len(references) > 40  # rotations, mirror images, crops
    exported = system.export_bank("confirmed", "csv")
    assert signals["sha256"] in exported and signals["md5"] in exported
    assert all(h in exported for h in references)


def test_a_child_safety_dismissal_by_one_person_only_proposes_it(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    seed_graph(client, keys)
    report(client, content_ids=["orig"], relation="parent_guardian", case_numbers=["PD-1"])
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    first = decide(client, case_id, keys.bearer("specialist"), "no_violation")
    assert first["appended"] == ["dismissal_proposed"]
    assert first["status"] == "awaiting_second_review"
    assert set(states(client, keys.api, *COPIES).values()) == {"restricted"}
    alone = decide(client, case_id, keys.bearer("specialist"), "no_violation", expect=409)
    assert alone["error"]["code"] == "decision_conflict"  # type: ignore[index]
    refused = decide(client, case_id, keys.bearer("moderator"), "no_violation", expect=403)
    assert refused["error"]["code"] == "child_safety_only"  # type: ignore[index]
    # Still waiting, still hidden; the case stays in the queue.
    assert only_case(client, keys.bearer("specialist"))["status"] == "awaiting_second_review"
    second = decide(client, case_id, keys.bearer("specialist2"), "no_violation")
    assert second["status"] == "closed_no_violation"
    assert set(states(client, keys.api, *COPIES).values()) == {"visible"}
    deliver_all(system)
    restored = {a["target"]["id"] for a in receiver.actions if a["type"] == "restore"}
    assert restored == set(COPIES)


def test_a_second_specialist_may_overturn_a_proposed_dismissal(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"], relation="depicted_person")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    decide(client, case_id, keys.bearer("specialist"), "no_violation")
    result = decide(client, case_id, keys.bearer("specialist2"), "violation")
    assert result["status"] == "closed_violation"
    assert states(client, keys.api, "orig") == {"orig": "removed"}


def test_moderators_do_not_see_child_safety_cases(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"])
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    assert client.get("/v1/cases", headers=keys.bearer("moderator")).json() == []
    response = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("moderator"))
    assert response.status_code == 403
    assert client.get(f"/v1/cases/{case_id}", headers=keys.bearer("liaison")).status_code == 200
    refused = decide(client, case_id, keys.bearer("liaison"), "violation", expect=403)
    assert refused["error"]["code"] == "decision_forbidden"  # type: ignore[index]


def test_other_categories_are_decided_by_one_moderator(client: TestClient,
                                                       keys: Keys) -> None:
    register(client, keys.api, "post", seed=5)
    report(client, content_ids=["post"], category="terms_violation")
    case_id = only_case(client, keys.bearer("moderator"))["id"]
    assert decide(client, case_id, keys.bearer("moderator"),
                  "no_violation")["status"] == "closed_no_violation"
    decide(client, case_id, keys.bearer("moderator"), "violation", expect=409)


def test_decisions_need_a_token_and_a_known_case(client: TestClient, keys: Keys) -> None:
    assert client.post("/v1/cases/1/decisions", json={"outcome": "violation"}).status_code == 401
    missing = client.post("/v1/cases/999/decisions", headers=keys.bearer("admin"),
                          json={"outcome": "violation"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_case"
    bad = client.post("/v1/cases/abc/decisions", headers=keys.bearer("admin"),
                      json={"outcome": "maybe"})
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {"case_id", "outcome"}


def test_a_retried_decision_with_its_key_acts_once(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"], relation="depicted_person")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    headers = keys.bearer("specialist") | {"Idempotency-Key": "d-1"}
    first = client.post(f"/v1/cases/{case_id}/decisions", headers=headers,
                        json={"outcome": "violation"})
    again = client.post(f"/v1/cases/{case_id}/decisions", headers=headers,
                        json={"outcome": "violation"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


def test_a_report_on_removed_content_does_not_reopen_but_one_on_a_dismissed_case_does(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"], relation="depicted_person")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    decide(client, case_id, keys.bearer("specialist"), "violation")
    report(client, content_ids=["orig"])
    assert client.get("/v1/cases", headers=keys.bearer("specialist")).json() == []
    register(client, keys.api, "other", seed=9)
    report(client, content_ids=["other"], category="terms_violation")
    other = only_case(client, keys.bearer("moderator"))["id"]
    decide(client, other, keys.bearer("moderator"), "no_violation")
    report(client, content_ids=["other"], category="terms_violation", relation="trusted_flagger")
    reopened = only_case(client, keys.bearer("moderator"))
    assert reopened["id"] == other and reopened["status"] == "open"


def test_case_detail_has_reports_copies_history_and_actions(
        client: TestClient, keys: Keys) -> None:
    seed_graph(client, keys)
    report(client, content_ids=["rp1"], relation="depicted_person", age_at_time=13, age_now=16,
           text="<script>alert(1)</script>", contact_email="boy@example.org")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    detail = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("specialist")).json()
    assert detail["content_total"] == len(COPIES)
    assert {c["content_id"] for c in detail["content"] if c["reported"]} == {"orig"}
    assert detail["reports"][0]["text"] == "<script>alert(1)</script>"
    assert [e["type"] for e in detail["events"]] == ["reported", "restricted"]
    assert detail["actions"] == [{"kind": "restrict", "status": "pending", "count": 8}]
    actions = client.get(f"/v1/actions?case_id={case_id}", headers=keys.bearer("specialist"))
    assert len(actions.json()) == 8 and actions.json()[0]["status"] == "pending"



def test_claims_through_the_api(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    report(client, content_ids=["orig"], relation="depicted_person")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    taken = client.post(f"/v1/cases/{case_id}/claim", headers=keys.bearer("specialist"))
    assert taken.status_code == 200 and taken.json()["claimed_by"] == "ana"
    refused = client.post(f"/v1/cases/{case_id}/claim", headers=keys.bearer("specialist2"))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "claimed"
    mine = client.get("/v1/cases?mine=true", headers=keys.bearer("specialist")).json()
    theirs = client.get("/v1/cases?mine=true", headers=keys.bearer("specialist2")).json()
    assert [c["id"] for c in mine] == [case_id] and theirs == []
    client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("specialist"),
                json={"outcome": "violation"})
    assert client.get("/v1/cases?mine=true", headers=keys.bearer("specialist")).json() == []


def test_escalating_moves_a_case_to_the_specialists_queue(client: TestClient, keys: Keys,
                                                          system: Takedown) -> None:
    register(client, keys.api, "post", seed=5)
    register(client, keys.api, "child", seed=6)
    report(client, content_ids=["post"], category="other_illegal")
    report(client, content_ids=["child"])
    case = only_case(client, keys.bearer("moderator"))  # the child-safety case is not theirs
    general = client.get("/v1/cases?queue=general", headers=keys.bearer("specialist")).json()
    assert [c["id"] for c in general] == [case["id"]]
    reason = system.policy.reasons["escalate"][1]
    escalated = decide(client, case["id"], keys.bearer("moderator"), "escalate",
                       reason=reason)
    assert escalated == {"case_id": case["id"], "status": "open", "appended": ["escalated"],
                         "actions_requested": 0}
    assert client.get("/v1/cases", headers=keys.bearer("moderator")).json() == []
    asked = client.get("/v1/cases?queue=specialists", headers=keys.bearer("moderator"))
    assert asked.status_code == 403 and asked.json()["error"]["code"] == "specialists_only"
    special = client.get("/v1/cases?queue=specialists", headers=keys.bearer("specialist")).json()
    assert len(special) == 2 and case["id"] in [c["id"] for c in special]
    moved = next(c for c in special if c["id"] == case["id"])
    assert moved["escalations"] == 1 and moved["priority"] > case["priority"]
    assert client.get("/v1/cases?queue=general", headers=keys.bearer("specialist")).json() == []
    refused = decide(client, case["id"], keys.bearer("moderator"), "no_violation", expect=403)
    assert "specialists' queue" in refused["error"]["message"]  # type: ignore[index]
    claim = client.post(f"/v1/cases/{case['id']}/claim", headers=keys.bearer("moderator"))
    assert claim.status_code == 403
    detail = client.get(f"/v1/cases/{case['id']}", headers=keys.bearer("moderator")).json()
    assert detail["specialists_queue"] is True  # still readable: not child safety
    bad = decide(client, case["id"], keys.bearer("specialist"), "no_violation", expect=422,
                 reason="made up")
    assert bad["error"]["fields"][0]["field"] == "reason"  # type: ignore[index]
    done = decide(client, case["id"], keys.bearer("specialist"), "no_violation",
                  reason=system.policy.reasons["no_violation"][2])
    assert done["status"] == "closed_no_violation"


def test_a_flood_is_decided_at_once_under_the_same_rules(client: TestClient,
                                                         keys: Keys) -> None:
    for n in range(4):
        register(client, keys.api, f"spam-{n}", seed=20 + n)
        report(client, content_ids=[f"spam-{n}"], category="terms_violation", language="de")
    register(client, keys.api, "child", seed=30)
    report(client, content_ids=["child"], relation="parent_guardian")
    queue = client.get("/v1/cases", headers=keys.bearer("admin")).json()
    german = client.get("/v1/cases?language=de", headers=keys.bearer("admin")).json()
    assert len(queue) == 5 and len(german) == 4
    ids = [c["id"] for c in queue]
    response = client.post("/v1/cases/decisions", headers=keys.bearer("specialist"),
                           json={"case_ids": ids, "outcome": "no_violation"})
    assert response.status_code == 200
    statuses = {r["case_id"]: r["status"] for r in response.json()}
    child_case = queue[0]["id"]  # the child-safety case ranks first
    assert statuses.pop(child_case) == "awaiting_second_review"  # only proposed
    assert set(statuses.values()) == {"closed_no_violation"}
