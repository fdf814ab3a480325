"""Perceptual matching through the API: copies that dodge exact hashes are found at
upload and swept from what is already registered; look-alikes are left alone."""

import base64
import json
from typing import Any

from fastapi.testclient import TestClient

from takedown.demo.media import altered_copies, generated_photo, look_alike
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import WHEN, only_case, reference, report, states


def upload(client: TestClient, keys: Keys, content_id: str, data: bytes,
           expect: int = 201, author: str | None = None) -> dict[str, Any]:
    body = {"content_id": content_id, "author_id": author or f"acct-{content_id}",
            "created_at": WHEN, "media": [{"data_base64": base64.b64encode(data).decode()}]}
    response = client.post("/v1/content", json=body, headers=keys.api)
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


def decide(client: TestClient, keys: Keys, case_id: int, outcome: str = "violation") -> None:
    response = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("specialist"),
                           json={"outcome": outcome})
    assert response.status_code == 200, response.text


def test_altered_reuploads_are_restricted_then_removed_and_look_alikes_are_not(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    original = generated_photo(1)
    upload(client, keys, "orig", original)
    copies = altered_copies(original)
    for name, data in copies.items():
        assert upload(client, keys, name, data)["verdict"] == "allow"  # nothing known yet
    for n in range(5):
        upload(client, keys, f"look-alike-{n}", look_alike(n))
    report(client, content_ids=["orig"], relation="depicted_person", depicted_minor=True)
    assert set(states(client, keys.api, "orig", *copies).values()) == {"restricted"}
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    decide(client, keys, case_id)
    assert set(states(client, keys.api, "orig", *copies).values()) == {"removed"}
    looks = states(client, keys.api, *(f"look-alike-{n}" for n in range(5)))
    assert set(looks.values()) == {"visible"}
    deliver_all(system)
    suspended = {a["target"]["id"] for a in receiver.actions if a["type"] == "suspend"}
    assert suspended == {"acct-orig", *(f"acct-{name}" for name in copies)}


def test_after_a_violation_altered_uploads_are_blocked_at_upload(
        client: TestClient, keys: Keys) -> None:
    original = generated_photo(2)
    upload(client, keys, "orig", original)
    report(client, content_ids=["orig"], relation="law_enforcement", case_numbers=["X"])
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    decide(client, keys, case_id)
    for name, data in altered_copies(original).items():
        answer = upload(client, keys, f"later-{name}", data)
        assert (answer["verdict"], answer["case_id"]) == ("block", case_id), name
    assert upload(client, keys, "innocent", look_alike(2))["verdict"] == "allow"


def test_a_blocked_reupload_keeps_its_case_category(client: TestClient, keys: Keys) -> None:
    """The `confirmed` bank holds every category: an NCII case stays NCII."""
    original = generated_photo(8)
    upload(client, keys, "orig", original)
    report(client, content_ids=["orig"], category="non_consensual_intimate_imagery",
           relation="depicted_person")
    case_id = only_case(client, keys.bearer("moderator"))["id"]
    response = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("moderator"),
                           json={"outcome": "violation"})
    assert response.status_code == 200
    assert upload(client, keys, "again", altered_copies(original)["resized"])["verdict"] == \
        "block"
    detail = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("moderator")).json()
    assert detail["category"] == "non_consensual_intimate_imagery"
    assert detail["events"][-2]["data"]["category"] == "non_consensual_intimate_imagery"


def test_an_imported_bank_sweeps_registered_media_and_blocks_new_uploads(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    banned, other = generated_photo(3), generated_photo(4)
    upload(client, keys, "already-up", banned)
    upload(client, keys, "fine", other)
    pdq_hash = system.hash_file(banned)[2].value
    csv = f"signal_type,signal\npdq,{pdq_hash}\nsha1,abc\n"
    result, matched = system.import_bank("ncmec", "csv", csv, "tester")
    assert (result.added, matched, len(result.skipped)) == (1, 1, 1)
    assert states(client, keys.api, "already-up", "fine") == {"already-up": "removed",
                                                              "fine": "visible"}
    case = only_case(client, keys.bearer("specialist"))
    detail = client.get(f"/v1/cases/{case['id']}", headers=keys.bearer("specialist")).json()
    assert [e["type"] for e in detail["events"]][:2] == ["hash_matched", "actioned"]
    assert detail["category"] == "child_sexual_abuse" and detail["deadline"] is not None
    resized = altered_copies(banned)["resized"]
    assert upload(client, keys, "again", resized)["verdict"] == "block"
    # Disabling the hash counts for the very next upload.
    system.set_bank_entry("ncmec", "pdq", pdq_hash, enabled=False)
    assert upload(client, keys, "after-disable", altered_copies(banned)["re-encoded"])[
        "verdict"] == "allow"


def test_stopncii_withdrawn_hashes_are_deleted(system: Takedown) -> None:
    value = "f" * 64
    record = {"signalType": "ImagePDQ", "hashValue": value, "hashStatus": "Active",
              "caseNumbers": ["SN-1"]}
    active = json.dumps({"hashRecords": [record]})
    result, _ = system.import_bank("stopncii", "stopncii", active, "tester")
    assert result.added == 1
    assert '"caseNumbers": [\n    "SN-1"' in system.export_bank("stopncii", "stopncii")
    withdrawn = active.replace("Active", "Withdrawn")
    result, _ = system.import_bank("stopncii", "stopncii", withdrawn, "tester")
    assert result.removed == 1
    assert value not in system.export_bank("stopncii", "csv")


def test_ncmec_entries_import_and_deleted_entries_go(system: Takedown) -> None:
    xml = ("<queryResult><images><image><id>7</id><fingerprints><md5>"
           + "a" * 32 + "</md5><pdq>" + "b" * 64 + "</pdq><sha1>00</sha1></fingerprints>"
           "</image></images><videos><video><id>8</id><fingerprints><md5>" + "c" * 32
           + "</md5></fingerprints></video></videos></queryResult>")
    result, _ = system.import_bank("ncmec", "ncmec", xml, "tester")
    assert (result.added, len(result.skipped)) == (3, 1)
    deleted = xml.replace("<image><id>7</id>", "<image deleted=\"true\"><id>7</id>")
    result, _ = system.import_bank("ncmec", "ncmec", deleted, "tester")
    assert result.removed == 2
    exported = system.export_bank("ncmec", "ncmec")
    assert "c" * 32 in exported and "a" * 32 not in exported


def test_a_review_bank_opens_a_case_without_hiding(client: TestClient, keys: Keys,
                                                   system: Takedown) -> None:
    from takedown.domain.vocabulary import Category

    system.create_bank("watch", "review", 20, Category.OTHER_ILLEGAL)
    data = generated_photo(5)
    system.add_to_bank("watch", "pdq", system.hash_file(data)[2].value, "tester")
    answer = upload(client, keys, "x", altered_copies(data)["re-encoded"])
    assert answer["verdict"] == "allow" and answer["case_id"] is not None
    case = only_case(client, keys.bearer("moderator"))
    assert case["category"] == "other_illegal" and case["restricted"] is False


def test_a_banked_video_finds_its_greyscaled_copy(client: TestClient, keys: Keys,
                                                  system: Takedown) -> None:
    chair = reference("video", "chair-orig-22-sd-bar.mp4").read_bytes()
    grey = reference("video", "chair-22-sd-grey-bar.mp4").read_bytes()
    pattern = reference("video", "pattern-sd-grey-bar.mp4").read_bytes()
    upload(client, keys, "chair", chair)
    upload(client, keys, "pattern", pattern)
    vpdq = next(s for s in system.hash_file(grey) if s.signal_type == "vpdq")
    _, matched = system.add_to_bank("ncmec", "vpdq", vpdq.value, "tester")
    assert matched == 1
    assert states(client, keys.api, "chair", "pattern") == {"chair": "removed",
                                                            "pattern": "visible"}
    assert upload(client, keys, "grey-again", grey)["verdict"] == "block"


def test_bank_changes_reach_another_process(client: TestClient, keys: Keys,
                                            system: Takedown) -> None:
    """The API process's index follows changes another process (the CLI) made."""
    data = generated_photo(6)
    assert upload(client, keys, "first", data)["verdict"] == "allow"
    other = Takedown(system.settings)
    try:
        other.add_to_bank("ncmec", "pdq", other.hash_file(data)[2].value, "cli")
    finally:
        other.close()
    assert upload(client, keys, "second", altered_copies(data)["greyscaled"])[
        "verdict"] == "block"


def test_undecodable_images_are_refused_clearly(client: TestClient, keys: Keys) -> None:
    truncated = generated_photo(7)[:3000]
    answer = upload(client, keys, "bad", truncated, expect=422)
    assert answer["error"]["code"] == "unreadable_media"
    assert "truncated" in answer["error"]["message"]
