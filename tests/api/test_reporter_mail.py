"""Issue 12: a reporter who gave an address hears at each step (receipt with the status
link, a question, the decision), from the outbox over a real SMTP server, in their
language; their own hashes (computed on their device) find and hide matching uploads
and their status follows. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.demo.media import generated_photo
from takedown.pipeline.escalation import NotificationSender
from takedown.store.tables import BankEntryRow, NotificationRow
from takedown.system import Takedown
from tests.api.test_decisions import decide
from tests.conftest import Inbox, Keys, Receiver, deliver_all
from tests.helpers import only_case, register, report, settle

NCII = "non_consensual_intimate_imagery"


def mails(system: Takedown, port: int, inbox: Inbox) -> list[Any]:
    sender = NotificationSender(system.db, system.settings.with_(smtp_port=port))
    while sender.run_once("w"):
        pass
    return list(inbox.messages)


def test_receipt_then_decision_each_naming_what_was_reported(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver,
        smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    register(client, keys.api, "pic", seed=81, url="https://testnet.example/p/pic")
    for n in range(3):
        register(client, keys.api, f"rp{n}", repost_of="pic")
    mine = report(client, urls=["https://testnet.example/p/pic"], category=NCII,
                  relation="depicted_person", contact_email="me@example.org",
                  signature="Jane Doe", good_faith_statement=True)
    [receipt] = mails(system, port, inbox)
    text = receipt.get_body(("plain",)).get_content()
    assert receipt["To"] == "me@example.org" and receipt["Subject"] == "We received your report"
    assert "https://testnet.example/p/pic" in text and "intimate images" in text
    assert f"/report/{mine['report_id']}?token={mine['status_token']}" in text
    assert "TAKE IT DOWN" in text and "must come down by" in text
    assert "/report/" in receipt.get_body(("html",)).get_content()
    with system.db.transaction() as s:  # once sent, the outbox keeps no copy of the link
        kept = [str(n.body) for n in s.scalars(select(NotificationRow))]
    assert kept and not any(mine["status_token"] in body for body in kept)

    decide(client, only_case(client, keys.bearer("moderator"))["id"], keys.bearer("moderator"),
           "violation")
    deliver_all(system)
    decision = mails(system, port, inbox)[-1]
    body = decision.get_body(("plain",)).get_content()
    assert decision["Subject"] == "A decision on your report"
    assert "https://testnet.example/p/pic" in body
    assert "The post and 3 copies are being removed" in body  # what was done, in numbers
    assert mine["status_token"] not in body  # only the receipt carries the link
    assert len(mails(system, port, inbox)) == 2  # each once


def test_a_german_reporter_is_answered_in_german(
        client: TestClient, keys: Keys, system: Takedown, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    register(client, keys.api, "bild", seed=82)
    mine = report(client, content_ids=["bild"], category=NCII, relation="depicted_person",
                  contact_email="ich@example.de", language="de-AT")
    status = client.get(f"/v1/reports/{mine['report_id']}/status",
                        headers={"X-Status-Token": mine["status_token"]}).json()
    assert status["language"] == "de"
    [receipt] = mails(system, port, inbox)
    assert receipt["Subject"] != "We received your report"  # the German catalogue's words
    assert receipt.get_body(("html",)).get_content().count('lang="de"') == 1


def test_an_anonymous_report_gets_no_mail(client: TestClient, keys: Keys, system: Takedown,
                                          smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    register(client, keys.api, "x", seed=83)
    report(client, content_ids=["x"], relation="parent_guardian", depicted_minor=True)
    assert mails(system, port, inbox) == []


def test_own_hashes_find_and_hide_matching_uploads(client: TestClient, keys: Keys,
                                                   system: Takedown) -> None:
    own = generated_photo(84)
    already = register(client, keys.api, "already-up", seed=None)  # text only: no match
    assert already["verdict"] == "allow"
    def upload(content_id: str, data: bytes) -> dict[str, Any]:
        media = [{"data_base64": base64.b64encode(data).decode()}]
        answer = client.post("/v1/content", headers=keys.api, json={
            "content_id": content_id, "author_id": "someone",
            "created_at": "2020-01-18T10:00:00Z", "media": media})
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    assert upload("before", own)["verdict"] == "allow"
    pdq = next(s for s in system.hash_file(own) if s.signal_type == "pdq")
    status, receipt = system.submit_report(_hash_submission(pdq.value, pdq.quality or 0),
                                           None, {})
    assert status == 202
    settle(client)
    with system.db.transaction() as s:
        banked = list(s.scalars(select(BankEntryRow).where(BankEntryRow.bank == "self_reported")))
    assert [e.value for e in banked] == [pdq.value] and banked[0].case_id is not None
    told = client.get(f"/v1/reports/{receipt['report_id']}/status",
                      headers={"X-Status-Token": receipt["status_token"]}).json()
    assert told["status"] == "restricted"  # the upload that was already there is hidden
    assert upload("after", own)["verdict"] == "restrict"  # and so is the next one
    case = only_case(client, keys.bearer("moderator"))
    detail = client.get(f"/v1/cases/{case['id']}", headers=keys.bearer("moderator")).json()
    assert detail["category"] == NCII


def test_hashes_are_checked(system: Takedown) -> None:
    import pytest

    from takedown.errors import Invalid

    for value, quality, code in (("zz" * 32, 90, "invalid_hash"),
                                 ("ab" * 32, 10, "hash_quality_too_low")):
        with pytest.raises(Invalid) as refused:
            system.submit_report(_hash_submission(value, quality), None, {})
        assert refused.value.code == code


def _hash_submission(value: str, quality: int) -> Any:
    from takedown.cases.intake import ReportSubmission
    from takedown.domain.vocabulary import Category, Relation

    return ReportSubmission(category=Category.NON_CONSENSUAL_INTIMATE_IMAGERY,
                            relation=Relation.DEPICTED_PERSON,
                            hashes=[{"signal_type": "pdq", "value": value, "quality": quality}])


def test_each_language_renders_in_itself_whatever_came_before() -> None:
    """Each language's templates keep their own gettext (a shared Jinja overlay once
    rendered a page in the language of the one loaded before it)."""
    from takedown.notify.mail import render

    subjects: dict[str, str] = {}
    for language in ("de", "es", "de", "fr", "en", "es", "fr"):
        subject, _, html = render("decision", language, category="terms_violation",
                                  references=["x"], message="m", status="action_taken")
        assert f'lang="{language}"' in html
        assert subjects.setdefault(language, subject) == subject
    assert len(set(subjects.values())) == 4
