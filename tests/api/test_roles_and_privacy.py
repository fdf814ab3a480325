"""Who may decide and read what, and what the platform never learns.

- A moderator cannot make a child-sexual-abuse determination, not even by giving a
  terms case that category in a decision.
- Moderators cannot read a child-safety case's actions or a child-safety reporter's
  record through the back doors (`/v1/actions`, `/v1/reporters/{key}`).
- The platform is never told who reported or which bank matched: every webhook
  `reason` is one fixed phrase per action kind, and so is a screening answer.
"""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.demo.media import generated_photo
from takedown.media.signals import compute_signals
from takedown.platform.actions import PLATFORM_REASONS
from takedown.store.tables import ActionRow, AuditEntryRow, BankEntryRow
from takedown.system import Takedown
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import register, report

TERMS = "terms_violation"
CSA = "child_sexual_abuse"
NCII = "non_consensual_intimate_imagery"  # hidden at once too, but not a child-safety case


def _case_of(client: TestClient, keys: Keys, content_id: str) -> int:
    case_id: int = client.get(f"/v1/content/{content_id}", headers=keys.api).json()["case_id"]
    return case_id


def test_a_moderator_cannot_decide_child_sexual_abuse_on_a_terms_case(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "post", seed=3, author="uploader")
    report(client, content_ids=["post"], category=TERMS)
    case_id = _case_of(client, keys, "post")
    refused = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("moderator"),
                          json={"outcome": "violation", "category": CSA, "notes": "x"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "decision_forbidden"
    with system.db.transaction() as s:
        assert s.scalars(select(BankEntryRow).where(BankEntryRow.bank == "confirmed")).all() == []
        assert s.scalars(select(ActionRow).where(ActionRow.kind == "suspend")).all() == []
    # The same decision as a terms violation stays the moderator's to make.
    allowed = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("moderator"),
                          json={"outcome": "violation", "notes": "spam"})
    assert allowed.status_code == 200, allowed.text


def test_moderators_cannot_read_child_safety_actions_or_reporters(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "csa", seed=4)
    register(client, keys.api, "spam", seed=5)
    report(client, content_ids=["csa"], relation="depicted_person", category=CSA)
    report(client, content_ids=["spam"], relation="depicted_person", category=NCII)
    csa_case = _case_of(client, keys, "csa")
    moderator, specialist = keys.bearer("moderator"), keys.bearer("specialist")
    assert client.get(f"/v1/actions?case_id={csa_case}", headers=moderator).status_code == 403
    listed = client.get("/v1/actions", headers=moderator).json()
    assert {a["case_id"] for a in listed} == {_case_of(client, keys, "spam")}
    assert csa_case in {a["case_id"] for a in client.get("/v1/actions", headers=specialist)
                        .json()}
    detail = client.get(f"/v1/cases/{csa_case}", headers=specialist).json()
    reporter_key = detail["reports"][0]["reporter"]["key"]
    assert client.get(f"/v1/reporters/{reporter_key}", headers=moderator).status_code == 403
    assert client.get(f"/v1/reporters/{reporter_key}", headers=specialist).status_code == 200
    with system.db.transaction() as s:
        denied = s.scalars(select(AuditEntryRow.target).where(
            AuditEntryRow.action == "access_denied")).all()
    assert f"reporter:{reporter_key}" in denied


def _reasons(actions: list[dict[str, Any]]) -> set[str]:
    return {a["reason"] for a in actions}


def test_the_platform_never_learns_who_reported_or_which_bank_matched(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    register(client, keys.api, "a", seed=6)
    register(client, keys.api, "b", seed=7)
    report(client, content_ids=["a"], relation="depicted_person", category=CSA,
           case_numbers=["PD-2020-0117"], depicted_minor=True)
    report(client, content_ids=["b"], relation="law_enforcement",
           category=NCII, case_numbers=["FBI-42"])
    photo = generated_photo(8, (320, 240))
    pdq = next(s for s in compute_signals(photo, "image/jpeg") if s.signal_type == "pdq")
    system.add_to_bank("stopncii", "pdq", pdq.value, "tester")
    screened = register(client, keys.api, "c", seed=8)
    assert screened["verdict"] != "allow"
    assert "stopncii" not in (screened["reason"] or "").lower()
    deliver_all(system)
    sent = receiver.actions
    assert sent and _reasons(sent) <= set(PLATFORM_REASONS.values())
    body = str(sent).lower()
    for secret in ("depicted", "law_enforcement", "law enforcement", "pd-2020", "fbi-42",
                   "stopncii", "parent"):
        assert secret not in body, secret
