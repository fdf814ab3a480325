"""Every copy, and nothing else (the independent replay of the seed case): a case holds
only the files that matched or that a reviewer confirmed; restrict-first reaches
every copy at once; copies uploaded during review are hidden and join; the reporter
is told what was done, in numbers."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takedown.demo.edits import (
    border,
    clip,
    crop_side,
    frame_at,
    generated_video,
    jpeg,
    opened,
    rotate,
    slideshow,
)
from takedown.demo.media import generated_photo, harmless_photo
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import WHEN, only_case, report, states


def post(client: TestClient, keys: Keys, content_id: str, *files: bytes,
         author: str | None = None, repost_of: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content_id": content_id, "author_id": author or f"acct-{content_id}",
        "created_at": WHEN, "media": [{"data_base64": base64.b64encode(f).decode()}
                                      for f in files]}
    if repost_of:
        body["repost_of"] = repost_of
    response = client.post("/v1/content", json=body, headers=keys.api)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def decide(client: TestClient, keys: Keys, case_id: int, outcome: str = "violation",
           expect: int = 200, **extra: Any) -> dict[str, Any]:
    response = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("specialist"),
                           json={"outcome": outcome, **extra})
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def edited(data: bytes, edit: Any, quality: int = 85) -> bytes:
    return jpeg(edit(opened(data)), quality)


ABUSE = generated_photo(1)  # stands for the abusive image: a harmless generated picture
MEME = harmless_photo(77)  # a common picture that many people post


def test_an_album_carrying_a_copy_and_a_meme_brings_only_the_copy_into_the_case(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    post(client, keys, "orig", ABUSE)
    for n in range(3):
        post(client, keys, f"meme-{n}", MEME)
        post(client, keys, f"meme-{n}-repost", repost_of=f"meme-{n}")
    post(client, keys, "album", ABUSE, MEME)
    post(client, keys, "album-repost", repost_of="album")
    report(client, content_ids=["orig"], relation="parent_guardian", depicted_minor=True)
    memes = [f"meme-{n}" for n in range(3)] + [f"meme-{n}-repost" for n in range(3)]
    assert set(states(client, keys.api, "orig", "album", "album-repost").values()) == \
        {"restricted"}
    assert set(states(client, keys.api, *memes).values()) == {"visible"}
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    detail = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("specialist")).json()
    files = {m["sha256"]: m for m in detail["media"]}
    assert files[sha(ABUSE)]["via"] == "reported"
    assert files[sha(MEME)]["via"] is None  # shown, for the reviewer, but not in the case
    assert detail["content_total"] == 3  # orig, album, album-repost

    decide(client, keys, case_id)
    assert set(states(client, keys.api, "orig", "album", "album-repost").values()) == {"removed"}
    assert set(states(client, keys.api, *memes).values()) == {"visible"}
    assert post(client, keys, "meme-later", MEME)["verdict"] == "allow"
    assert post(client, keys, "abuse-later", ABUSE)["verdict"] == "block"
    banked = system.export_bank("confirmed", "csv")
    assert sha(ABUSE) in banked and sha(MEME) not in banked
    deliver_all(system)
    suspended = {a["target"]["id"] for a in receiver.actions if a["type"] == "suspend"}
    assert suspended == {"acct-orig", "acct-album"}  # not the meme's posters, not reposters


def test_a_reported_album_needs_the_reviewer_to_say_which_file_is_abusive(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    post(client, keys, "meme", MEME)
    post(client, keys, "album", ABUSE, MEME)
    report(client, content_ids=["album"], relation="depicted_person", depicted_minor=True)
    assert states(client, keys.api, "album", "meme") == {"album": "restricted",
                                                         "meme": "visible"}
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    refused = decide(client, keys, case_id, expect=422)
    assert refused["error"]["code"] == "abusive_media_required"
    unknown = decide(client, keys, case_id, expect=422, media=[sha(b"not in the case")])
    assert unknown["error"]["code"] == "unknown_media"
    decide(client, keys, case_id, media=[sha(ABUSE)])
    assert states(client, keys.api, "album", "meme") == {"album": "removed", "meme": "visible"}
    detail = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("specialist")).json()
    confirmed = {m["sha256"]: m["confirmed"] for m in detail["media"]}
    assert confirmed == {sha(ABUSE): True, sha(MEME): False}
    assert post(client, keys, "meme-later", MEME)["verdict"] == "allow"
    assert post(client, keys, "abuse-later", ABUSE)["verdict"] == "block"


def test_a_violation_on_the_text_alone_removes_the_post_and_banks_nothing(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "meme", MEME)
    post(client, keys, "album", ABUSE, MEME)
    report(client, content_ids=["album"], category="terms_violation")
    case_id = only_case(client, keys.bearer("admin"))["id"]
    decide(client, keys, case_id, media=[])
    assert states(client, keys.api, "album", "meme") == {"album": "removed", "meme": "visible"}
    assert post(client, keys, "abuse-later", ABUSE)["verdict"] == "allow"


def test_restrict_first_hides_every_perceptual_copy_in_the_same_step(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    copies = {"rotated-3": edited(ABUSE, rotate(3)),
              "cropped-top": edited(ABUSE, crop_side(0.05, "top"), 50),
              "letterboxed": edited(ABUSE, border(0.08, "letterbox"))}
    for name, data in copies.items():
        post(client, keys, name, data)
        for n in range(3):
            post(client, keys, f"{name}-repost-{n}", repost_of=name)
    post(client, keys, "look-alike", generated_photo(10_001))
    report(client, content_ids=["orig"], relation="depicted_person", depicted_minor=True)
    everything = ["orig", *copies, *(f"{c}-repost-{n}" for c in copies for n in range(3))]
    assert set(states(client, keys.api, *everything).values()) == {"restricted"}
    assert states(client, keys.api, "look-alike") == {"look-alike": "visible"}


def test_copies_uploaded_during_review_are_restricted_and_join_the_case(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    report(client, content_ids=["orig"], relation="law_enforcement", case_numbers=["PD-1"])
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    during = post(client, keys, "during", edited(ABUSE, rotate(-2)))
    assert (during["verdict"], during["case_id"]) == ("restrict", case_id)
    exact = post(client, keys, "exact", ABUSE)
    assert (exact["verdict"], exact["case_id"]) == ("restrict", case_id)
    assert post(client, keys, "other", harmless_photo(5))["verdict"] == "allow"
    assert len(client.get("/v1/cases", headers=keys.bearer("specialist")).json()) == 1
    decide(client, keys, case_id)
    assert set(states(client, keys.api, "orig", "during", "exact").values()) == {"removed"}


def test_a_copy_uploaded_while_an_unhidden_case_is_reviewed_joins_it_unhidden(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    report(client, content_ids=["orig"], relation="other_user")  # not trusted to restrict
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    during = post(client, keys, "during", edited(ABUSE, lambda p: p, 50))  # re-encoded
    assert (during["verdict"], during["case_id"]) == ("allow", case_id)
    # An ordinary reporter's files are not hashed into references at their word (that
    # costs whoever reports nothing): the decision's sweep finds the cropped copy.
    cropped = post(client, keys, "cropped", edited(ABUSE, crop_side(0.06, "left")))
    assert (cropped["verdict"], cropped["case_id"]) == ("allow", None)
    decide(client, keys, case_id)
    assert set(states(client, keys.api, "orig", "during", "cropped").values()) == {"removed"}


def test_a_dismissal_releases_the_held_files(client: TestClient, keys: Keys,
                                             system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    report(client, content_ids=["orig"], category="non_consensual_intimate_imagery",
           relation="depicted_person")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    assert post(client, keys, "during", edited(ABUSE, rotate(2)))["verdict"] == "restrict"
    decide(client, keys, case_id, outcome="no_violation")
    assert set(states(client, keys.api, "orig", "during").values()) == {"visible"}
    assert post(client, keys, "after", edited(ABUSE, rotate(2)))["verdict"] == "allow"


def test_after_a_violation_re_uploads_with_every_kind_of_edit_are_blocked(
        client: TestClient, keys: Keys) -> None:
    post(client, keys, "orig", ABUSE)
    report(client, content_ids=["orig"], relation="law_enforcement", case_numbers=["X"])
    decide(client, keys, only_case(client, keys.bearer("specialist"))["id"])
    from takedown.demo.edits import EDITS

    verdicts = {e.name: post(client, keys, f"late-{n}", e.apply(ABUSE))["verdict"]
                for n, e in enumerate(EDITS)}
    assert {name for name, verdict in verdicts.items() if verdict != "block"} == set()
    for n in range(5):  # and nothing harmless is
        assert post(client, keys, f"harmless-{n}", harmless_photo(n))["verdict"] == "allow"


VIDEO = generated_video(3, seconds=8)


def test_a_re_cut_clip_a_grabbed_frame_and_a_slideshow_are_found(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "video", VIDEO)
    post(client, keys, "clip", clip(VIDEO, 1.37, 4))  # frames at other offsets
    post(client, keys, "picture", ABUSE)
    post(client, keys, "other-video", generated_video(4, seconds=8))
    report(client, content_ids=["video"], relation="depicted_person", depicted_minor=True)
    assert states(client, keys.api, "video", "clip", "other-video") == {
        "video": "restricted", "clip": "restricted", "other-video": "visible"}
    assert post(client, keys, "clip-during", clip(VIDEO, 3.7, 3))["verdict"] == "restrict"
    decide(client, keys, only_case(client, keys.bearer("specialist"))["id"])
    assert states(client, keys.api, "video", "clip", "clip-during") == {
        "video": "removed", "clip": "removed", "clip-during": "removed"}
    assert post(client, keys, "frame", frame_at(VIDEO, 5.2))["verdict"] == "block"
    assert post(client, keys, "clip-late", clip(VIDEO, 0.62, 5))["verdict"] == "block"
    assert post(client, keys, "other-later", generated_video(5, seconds=6))["verdict"] == "allow"
    # a confirmed picture, shown in a slideshow between harmless ones
    report(client, content_ids=["picture"], relation="law_enforcement", case_numbers=["Y"])
    queue = client.get("/v1/cases", headers=keys.bearer("specialist")).json()
    decide(client, keys, queue[0]["id"])
    show = slideshow([harmless_photo(8), ABUSE, harmless_photo(9)])
    assert post(client, keys, "slideshow", show)["verdict"] == "block"
    harmless_show = slideshow([harmless_photo(8), harmless_photo(9)])
    assert post(client, keys, "harmless-show", harmless_show)["verdict"] == "allow"


def test_the_reporter_is_told_in_numbers_and_only_what_the_platform_has_done(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    for n in range(4):
        post(client, keys, f"repost-{n}", repost_of="orig")
    post(client, keys, "rotated", edited(ABUSE, rotate(3)))
    receipt = report(client, content_ids=["orig"], relation="parent_guardian",
                     depicted_minor=True, contact_email="parent@example.org")

    def told() -> str:
        response = client.get(f"/v1/reports/{receipt['report_id']}/status",
                              headers={"X-Status-Token": receipt["status_token"]})
        assert response.status_code == 200, response.text
        message: str = response.json()["message"]
        return message

    assert told() == ("The post and 5 copies are being hidden while a human reviewer looks "
                      "at your report: 0 done so far, 6 still visible until the platform acts.")
    deliver_all(system)
    assert told() == "The post and 5 copies were hidden while a human reviewer looks at " \
                     "your report."
    decide(client, keys, only_case(client, keys.bearer("specialist"))["id"])
    assert told().startswith("The post and 5 copies are being removed: 0 done so far, 6 still "
                             "visible")
    deliver_all(system)
    assert told() == "The post and 5 copies were removed. Future uploads of it are blocked."


# --- what an independent review of this change found ------------------------------


def test_an_album_report_does_not_join_the_case_of_its_other_file(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    for n in range(3):
        post(client, keys, f"meme-{n}", MEME)
    report(client, content_ids=["meme-0"], category="terms_violation")
    meme_case = only_case(client, keys.bearer("admin"))["id"]
    decide(client, keys, meme_case, outcome="no_violation")
    post(client, keys, "album", ABUSE, MEME)
    report(client, content_ids=["album"], relation="parent_guardian", depicted_minor=True)
    queue = client.get("/v1/cases", headers=keys.bearer("specialist")).json()
    assert [c["id"] for c in queue] != [meme_case] and len(queue) == 1
    assert states(client, keys.api, "album", "meme-0", "meme-1", "meme-2") == {
        "album": "restricted", "meme-0": "visible", "meme-1": "visible", "meme-2": "visible"}


def test_an_untrusted_report_cannot_widen_what_a_case_hides(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    for n in range(2):
        post(client, keys, f"meme-{n}", MEME)
    report(client, content_ids=["orig"], relation="parent_guardian", depicted_minor=True)
    report(client, content_ids=["orig", "meme-0"], relation="other_user")
    assert states(client, keys.api, "orig", "meme-0", "meme-1") == {
        "orig": "restricted", "meme-0": "visible", "meme-1": "visible"}
    during = post(client, keys, "meme-during", MEME)  # joins for the reviewer, stays up
    assert during["verdict"] == "allow"
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    detail = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("specialist")).json()
    suggested = {m["sha256"] for m in detail["media"] if m["suggested"]}
    assert suggested == {sha(ABUSE)}  # what the console ticks, and the default
    decide(client, keys, case_id)
    assert states(client, keys.api, "orig", "meme-0", "meme-1", "meme-during") == {
        "orig": "removed", "meme-0": "visible", "meme-1": "visible", "meme-during": "visible"}
    assert sha(MEME) not in system.export_bank("confirmed", "csv")


def test_marking_a_trusted_looking_reporter_abusive_lifts_what_only_they_hid(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    post(client, keys, "meme", MEME)
    post(client, keys, "other-meme", harmless_photo(78))
    report(client, content_ids=["orig"], relation="law_enforcement", case_numbers=["X"])
    for ids in (["orig", "meme"], ["other-meme"]):  # joins the case; opens its own
        report(client, content_ids=ids, relation="parent_guardian",
               contact_email="liar@example.org")
    assert set(states(client, keys.api, "orig", "meme", "other-meme").values()) == \
        {"restricted"}
    queue = client.get("/v1/cases", headers=keys.bearer("specialist")).json()
    detail = client.get(f"/v1/cases/{queue[0]['id']}", headers=keys.bearer("specialist")).json()
    key = next(r["reporter"]["key"] for r in detail["reports"]
               if r["relation"] == "parent_guardian")
    marked = client.put(f"/v1/reporters/{key}/abusive", headers=keys.bearer("specialist"),
                        json={"reason": "false reports"})
    assert marked.status_code == 200, marked.text
    assert states(client, keys.api, "orig", "meme", "other-meme") == {
        "orig": "restricted", "meme": "visible", "other-meme": "visible"}


def test_reporting_a_quote_reaches_the_picture_it_quotes(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    body = {"content_id": "quote", "author_id": "quoter", "created_at": WHEN,
            "text": "look at this", "quote_of": "orig"}
    assert client.post("/v1/content", json=body, headers=keys.api).status_code == 201
    post(client, keys, "copy", ABUSE)
    report(client, content_ids=["quote"], relation="depicted_person", depicted_minor=True)
    assert set(states(client, keys.api, "orig", "quote", "copy").values()) == {"restricted"}
    decide(client, keys, only_case(client, keys.bearer("specialist"))["id"])
    assert set(states(client, keys.api, "orig", "quote", "copy").values()) == {"removed"}


def test_a_dismissal_leaves_hidden_what_another_open_case_hides(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    post(client, keys, "meme", MEME)
    post(client, keys, "album", ABUSE, MEME)
    report(client, content_ids=["meme"], category="non_consensual_intimate_imagery",
           relation="depicted_person")
    report(client, content_ids=["orig"], relation="parent_guardian", depicted_minor=True)
    queue = {c["category"]: c["id"] for c in
             client.get("/v1/cases", headers=keys.bearer("specialist")).json()}
    decide(client, keys, queue["non_consensual_intimate_imagery"], outcome="no_violation")
    assert states(client, keys.api, "meme", "album", "orig") == {
        "meme": "visible", "album": "restricted", "orig": "restricted"}


def test_a_restriction_lifted_and_asked_again_is_not_told_as_done(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    post(client, keys, "orig", ABUSE)
    report(client, content_ids=["orig"], category="non_consensual_intimate_imagery",
           relation="depicted_person")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    deliver_all(system)
    decide(client, keys, case_id, outcome="no_violation")
    deliver_all(system)
    again = report(client, content_ids=["orig"], category="non_consensual_intimate_imagery",
                   relation="depicted_person")
    status = client.get(f"/v1/reports/{again['report_id']}/status",
                        headers={"X-Status-Token": again["status_token"]}).json()
    assert status["message"].startswith("The post is being hidden"), status


def test_the_report_stands_if_hiding_its_copies_fails(
        client: TestClient, keys: Keys, system: Takedown,
        monkeypatch: pytest.MonkeyPatch) -> None:
    post(client, keys, "orig", ABUSE)
    post(client, keys, "rotated", edited(ABUSE, rotate(3)))

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("hashing failed")

    monkeypatch.setattr(system, "_prepare_references", broken)
    report(client, content_ids=["orig"], relation="parent_guardian", depicted_minor=True)
    assert states(client, keys.api, "orig") == {"orig": "restricted"}
    # Meanwhile an exact re-upload is held by the file's own signals.
    assert post(client, keys, "exact", ABUSE)["verdict"] == "restrict"
    monkeypatch.undo()
    decide(client, keys, only_case(client, keys.bearer("specialist"))["id"])
    assert set(states(client, keys.api, "orig", "rotated", "exact").values()) == {"removed"}


def test_media_goes_only_with_a_violation(client: TestClient, keys: Keys) -> None:
    post(client, keys, "orig", ABUSE)
    report(client, content_ids=["orig"], relation="parent_guardian")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    refused = decide(client, keys, case_id, outcome="escalate", expect=422, media=[sha(ABUSE)])
    assert refused["error"]["code"] == "media_without_violation"
