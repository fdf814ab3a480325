"""Statements of reasons (DSA Art. 17): every restriction and removal carries one, valid
against the Transparency Database's schema, with no personal data, and a short text for
the uploader in their language saying how to appeal."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from takedown.domain.vocabulary import ActionKind, Category
from takedown.notify.uploader import uploader_notice
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import image_b64, only_case, reference, register, report

SECRET_WORDS = ("uploader-7", "https://social.example/p/", "reporter@example.org",
                "post-", "Maria Muster", "case 2020-")


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(reference("dsa", "statement.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def errors(statement: dict[str, Any]) -> list[str]:
    return [e.message for e in validator().iter_errors(statement)]


def seed_case(client: TestClient, keys: Keys, category: str = "child_sexual_abuse") -> None:
    """A post, two reposts, a quote and a re-upload of its picture by someone else."""
    for cid, extra in (("post-1", {"seed": 5, "url": "https://social.example/p/1"}),
                       ("post-1-r1", {"repost_of": "post-1"}),
                       ("post-1-r2", {"repost_of": "post-1"}),
                       ("post-1-q", {"quote_of": "post-1"}),
                       ("post-2", {"seed": 5})):
        register(client, keys.api, cid, author="uploader-7", **extra)
    report(client, content_ids=["post-1"], category=category, relation="parent_guardian",
           case_numbers=["case 2020-0042"], contact_email="reporter@example.org",
           depicted_minor=True)


def actions_of(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [a for a in receiver.actions if a["type"] == kind]


@pytest.mark.parametrize("category", ["child_sexual_abuse", "non_consensual_intimate_imagery"])
def test_every_restriction_and_removal_carries_a_valid_statement_without_personal_data(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver,
        category: str) -> None:
    seed_case(client, keys, category)
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    response = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("specialist"),
                           json={"outcome": "violation", "notes": "confirmed"})
    assert response.status_code == 200, response.text
    deliver_all(system)
    restricted, removed = actions_of(receiver, "restrict"), actions_of(receiver, "remove")
    assert len(restricted) == 5 and len(removed) == 5
    puids = set()
    for action in restricted + removed:
        statement = action["statement"]
        assert errors(statement) == [], (action["type"], errors(statement))
        assert statement["puid"] not in puids
        puids.add(statement["puid"])
        text = json.dumps(statement)
        for word in SECRET_WORDS:
            assert word not in text, (word, statement)
        assert action["notice"]["language"] == "en"
    by_target = {(a["type"], a["target"]["id"]): a["statement"] for a in restricted + removed}
    expected = {"child_sexual_abuse": ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
                                       "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"),
                "non_consensual_intimate_imagery": ("STATEMENT_CATEGORY_CYBER_VIOLENCE",
                                                    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING")}
    for statement in by_target.values():
        assert (statement["category"], statement["category_specification"][0]) == \
            expected[category]
        assert statement["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    # The reported post: a notice, restricted by rule before anyone looked (provisional,
    # fully automated), then removed by a person's decision.
    first = by_target[("restrict", "post-1")]
    assert first["source_type"] == "SOURCE_ARTICLE_16"
    assert first["automated_detection"] == "No"
    assert first["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert first["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert "provisional" in first["decision_facts"]
    final = by_target[("remove", "post-1")]
    assert final["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert final["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    # The re-upload, found by hash matching: own initiative, detected automatically.
    copy = by_target[("remove", "post-2")]
    assert copy["source_type"] == "SOURCE_VOLUNTARY"
    assert copy["automated_detection"] == "Yes"
    assert copy["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"
    assert copy["content_type"] == ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_TEXT"]
    # A repost shows the original's picture.
    assert "CONTENT_TYPE_IMAGE" in by_target[("remove", "post-1-r1")]["content_type"]
    notice = next(a["notice"] for a in removed if a["target"]["id"] == "post-1")
    assert "appeal until" in notice["text"] and final["puid"] in notice["text"]


def test_the_uploader_is_told_in_their_language(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    body = {"content_id": "de-1", "author_id": "u-de", "created_at": "2026-11-01T10:00:00Z",
            "author_language": "de-AT", "media": [{"data_base64": image_b64(11)}]}
    assert client.post("/v1/content", json=body, headers=keys.api).status_code == 201
    report(client, content_ids=["de-1"], category="non_consensual_intimate_imagery",
           relation="depicted_person")
    case_id = only_case(client, keys.bearer("specialist"))["id"]
    client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("specialist"),
                json={"outcome": "violation"})
    deliver_all(system)
    notices = {a["type"]: (a["notice"], a["statement"]["puid"]) for a in receiver.actions
               if "notice" in a}
    for kind in ("restrict", "remove"):
        notice, puid = notices[kind]
        assert notice["language"] == "de" and puid in notice["text"]
        english = uploader_notice(ActionKind(kind), "provisional" if kind == "restrict"
                                  else "decided", Category.NON_CONSENSUAL_INTIMATE_IMAGERY,
                                  None, puid, date(2027, 1, 1))["text"]
        assert notice["text"].split(" ")[:3] != english.split(" ")[:3], notice["text"]
    assert "2027" not in notices["restrict"][0]["text"]  # provisional: nothing to appeal yet


def test_statements_are_kept_and_readable_by_their_platform_and_reviewers(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    seed_case(client, keys)
    deliver_all(system)
    puid = actions_of(receiver, "restrict")[0]["statement"]["puid"]
    mine = client.get(f"/v1/statements/{puid}", headers=keys.api)
    assert mine.status_code == 200, mine.text
    assert mine.json()["statement"]["puid"] == puid
    assert client.get(f"/v1/statements/{puid}",
                      headers=keys.bearer("specialist")).status_code == 200
    other, _ = system.add_platform("othernet", receiver.url, webhook_secret=receiver.secret)
    assert client.get(f"/v1/statements/{puid}",
                      headers={"X-Api-Key": other}).status_code == 404
    assert client.get("/v1/statements/takedown-nope", headers=keys.api).status_code == 404
    assert client.get(f"/v1/statements/{puid}").status_code == 401
