"""A confirmed child-abuse case ends with an accepted CyberTipline report: drafted with
the decision, checked by a specialist, sent step by step to a stand-in NCMEC server
(real HTTP; it validates against the XSD and answers NCMEC's codes), resumed after
failures, never opened twice. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.config import Settings
from takedown.demo.ncmec import StandInNcmec, serve_stand_in
from takedown.legal.tipline_xml import schema_errors
from takedown.store.tables import ActionRow, AuditEntryRow, NotificationRow
from takedown.system import Takedown
from tests.api.test_decisions import decide
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import only_case, reference, register, report

XSD = reference("ncmec", "cyber_tipline.xsd")


@pytest.fixture
def ncmec() -> Iterator[tuple[StandInNcmec, str]]:
    server = StandInNcmec(username="esp", password="s3cret", xsd=XSD)
    with serve_stand_in(server) as url:
        yield server, url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, ncmec: tuple[StandInNcmec, str]) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    inprocess_workers=0, webhook_timeout_s=5.0,
                    oncall_webhook_url="http://127.0.0.1:9/oncall",
                    ncmec_url=ncmec[1], ncmec_username="esp", ncmec_password="s3cret")


def confirmed_case(client: TestClient, keys: Keys, system: Takedown) -> int:
    """The seed case in small: an upload, reposts, a re-upload by another account,
    reported by the boy and by his mother with a police case number; a specialist
    confirms it; the platform carries out the removals."""
    register(client, keys.api, "orig", seed=1, author="trafficker",
             url="https://testnet.example/p/orig")
    register(client, keys.api, "rp1", repost_of="orig", url="https://testnet.example/p/rp1")
    register(client, keys.api, "copy1", seed=1, author="reuploader",
             url="https://testnet.example/p/copy1")
    report(client, content_ids=["rp1"], relation="depicted_person", depicted_minor=True,
           age_at_time=13, text="this is me when I was 13 <b>please</b> help")
    report(client, content_ids=["orig"], relation="parent_guardian", depicted_minor=True,
           age_at_time=13, case_numbers=["PD-2020-0117", "PD-2020-0199"],
           contact_email="mother@example.org")
    case_id = int(only_case(client, keys.bearer("specialist"))["id"])
    decide(client, case_id, keys.bearer("specialist"), "violation")
    deliver_all(system)
    return case_id


def run_legal(system: Takedown, worker: str = "legal-test") -> None:
    for _ in range(10):
        if system.tipline.run_once(worker) == 0:
            return


def tipline(client: TestClient, keys: Keys, case_id: int, who: str = "specialist"
            ) -> dict[str, Any]:
    response = client.get(f"/v1/cases/{case_id}/cybertipline", headers=keys.bearer(who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_confirmed_case_is_drafted_checked_and_accepted(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver,
        ncmec: tuple[StandInNcmec, str]) -> None:
    server, _ = ncmec
    case_id = confirmed_case(client, keys, system)
    draft = tipline(client, keys, case_id)
    assert draft["stage"] == "draft" and draft["ncmec_report_id"] is None
    assert draft["accounts_pending"] == ["reuploader", "trafficker"]
    assert len(draft["files"]) == 1

    # The platform preserved both uploaders before suspending them, and answers.
    kinds = [(a["type"], a["target"]["id"]) for a in receiver.actions
             if a["target"]["type"] == "account"]
    for account in ("trafficker", "reuploader"):
        assert kinds.index(("preserve_account", account)) < kinds.index(("suspend", account))
    answer = client.put("/v1/accounts/trafficker", headers=keys.api, json={
        "screen_name": "tr4ff", "emails": ["t@example.net"],
        "ip_events": [{"ip": "203.0.113.9", "at": "2020-01-18T10:00:00Z", "event": "Upload"}]})
    assert answer.status_code == 200, answer.text
    assert tipline(client, keys, case_id)["accounts_pending"] == ["reuploader"]

    xml = client.get(f"/v1/cases/{case_id}/cybertipline",
                     headers={**keys.bearer("specialist"), "Accept": "application/xml"})
    assert xml.headers["content-type"].startswith("application/xml")
    assert schema_errors(xml.content, XSD) == []
    text = xml.text
    for present in ("https://testnet.example/p/orig", "https://testnet.example/p/copy1",
                    "<espIdentifier>trafficker</espIdentifier>", "tr4ff", "203.0.113.9",
                    "<age>13</age>", "<caseNumber>PD-2020-0117</caseNumber>", "PD-2020-0199",
                    "<escalateToHighPriority>"):
        assert present in text, present
    assert "mother@example.org" not in text  # the reporter's address is not NCMEC's

    edited = client.patch(f"/v1/cases/{case_id}/cybertipline", headers=keys.bearer("specialist"),
                          json={"annotations": ["sextortion"], "summary": "Extorted at 13."})
    assert edited.status_code == 200, edited.text
    submitted = client.post(f"/v1/cases/{case_id}/cybertipline/submit",
                            headers=keys.bearer("specialist"))
    assert submitted.status_code == 200, submitted.text
    run_legal(system)

    done = tipline(client, keys, case_id)
    assert done["stage"] == "finished", done
    stand_in = server.reports[done["ncmec_report_id"]]
    assert stand_in.finished and not stand_in.retracted
    assert b"<sextortion>true</sextortion>" in stand_in.xml
    assert [f["file_id"] for f in done["files"]] == list(stand_in.file_info)
    assert {md5 for _, _, md5 in stand_in.files.values()} == {f["md5"] for f in done["files"]}
    assert [c[0] for c in server.calls] == ["submit", "upload", "fileinfo", "finish"]
    with system.db.transaction() as s:
        actions = set(s.scalars(select(AuditEntryRow.action).where(
            AuditEntryRow.target == f"case:{case_id}")))
    assert {"cybertipline_viewed", "cybertipline_edited", "cybertipline_submitted",
            "cybertipline_finished"} <= actions
    with system.db.transaction() as s:  # the mother, who gave an address, is told
        told = [(n.target, n.subject, n.body["text"]) for n in s.scalars(
            select(NotificationRow).where(NotificationRow.subject == "An update on your report"))]
    assert [t[0] for t in told] == ["mother@example.org"]
    assert "National Center for Missing & Exploited Children" in told[0][2]
    assert "  - orig" in told[0][2]  # what she named


def test_roles(client: TestClient, keys: Keys, system: Takedown,
               ncmec: tuple[StandInNcmec, str]) -> None:
    case_id = confirmed_case(client, keys, system)
    for who in ("moderator", "liaison"):
        for method, path in (("get", "/v1/cybertipline"),
                             ("get", f"/v1/cases/{case_id}/cybertipline"),
                             ("post", f"/v1/cases/{case_id}/cybertipline/submit")):
            answer = client.request(method, path, headers=keys.bearer(who))
            assert answer.status_code == 403, (who, path, answer.text)
    queue = client.get("/v1/cybertipline", headers=keys.bearer("admin")).json()
    assert [r["case_id"] for r in queue] == [case_id]
    assert client.get("/v1/cybertipline").status_code == 401


@pytest.mark.parametrize(("call", "code", "stage"), [
    ("submit", 1000, "finished"),  # server error: retried, then accepted
    ("submit", 4100, "stopped"),  # validation: a person must look
    ("submit", 4110, "stopped"),
    ("upload", 1011, "finished"),
    ("fileinfo", 4100, "stopped"),
    ("finish", 5102, "finished"),  # already finished: the wanted state
    ("submit", 2000, "stopped"),  # credentials: stop and tell on-call
    ("upload", 3100, "stopped"),
    ("upload", 5000, "stopped"),
])
def test_each_ncmec_answer(client: TestClient, keys: Keys, system: Takedown,
                           ncmec: tuple[StandInNcmec, str], call: str, code: int,
                           stage: str) -> None:
    server, _ = ncmec
    case_id = confirmed_case(client, keys, system)
    server.fail(call, code)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    system.tipline.run_once("w1")
    _due_now(system)
    system.tipline.run_once("w1")
    report_ = tipline(client, keys, case_id)
    assert report_["stage"] == stage, report_
    if stage == "stopped":
        assert report_["error_code"] == code and str(code) in report_["error"]
    with system.db.transaction() as s:
        alerts = [n.subject for n in s.scalars(select(NotificationRow))
                  if "refused takedown's credentials" in n.subject]
    assert bool(alerts) is (code in (2000, 3100))
    if stage == "stopped":  # fixed at NCMEC's end: submitted again, it resumes
        again = client.post(f"/v1/cases/{case_id}/cybertipline/submit",
                            headers=keys.bearer("specialist"))
        assert again.status_code == 200, again.text
        run_legal(system)
        assert tipline(client, keys, case_id)["stage"] == "finished"
    assert len(server.reports) == 1  # one NCMEC report for the case, whatever happened


def test_a_crash_between_upload_and_finish_resumes_without_a_second_report(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:
    server, _ = ncmec
    case_id = confirmed_case(client, keys, system)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    server.fail("finish", -1, times=1)  # the process "dies": NCMEC unreachable at /finish
    system.tipline.run_once("dying-worker")
    assert tipline(client, keys, case_id)["stage"] == "sending"
    # Another worker (a restarted process) takes over once the lease runs out.
    from takedown.store.tables import TiplineReportRow
    with system.db.transaction() as s:
        row = s.scalar(select(TiplineReportRow))
        assert row is not None
        row.lease_until = row.next_attempt_at = row.created_at
    system.tipline.run_once("next-worker")
    assert tipline(client, keys, case_id)["stage"] == "finished"
    assert len(server.reports) == 1
    assert [c[0] for c in server.calls].count("upload") == 1


def test_an_unfinished_report_can_be_retracted(client: TestClient, keys: Keys,
                                               system: Takedown,
                                               ncmec: tuple[StandInNcmec, str]) -> None:
    server, _ = ncmec
    case_id = confirmed_case(client, keys, system)
    early = client.post(f"/v1/cases/{case_id}/cybertipline/retract",
                        headers=keys.bearer("specialist"), json={"reason": "wrong files"})
    assert early.status_code == 409  # nothing is at NCMEC yet
    server.fail("fileinfo", 4100)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    run_legal(system)
    assert tipline(client, keys, case_id)["stage"] == "stopped"
    retract = client.post(f"/v1/cases/{case_id}/cybertipline/retract",
                          headers=keys.bearer("specialist"), json={"reason": "wrong files"})
    assert retract.status_code == 200, retract.text
    run_legal(system)
    done = tipline(client, keys, case_id)
    assert done["stage"] == "retracted" and done["retract_reason"] == "wrong files"
    assert server.reports[done["ncmec_report_id"]].retracted


def test_without_ncmec_configured_drafts_wait_with_a_notice(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    unconfigured = Takedown(system.settings.with_(ncmec_url=""))
    try:
        case_id = confirmed_case(client, keys, system)
        client.post(f"/v1/cases/{case_id}/cybertipline/submit",
                    headers=keys.bearer("specialist"))
        unconfigured.tipline.run_once("w")
        with unconfigured.db.transaction() as s:
            from takedown.legal.tipline import TiplineBook, view
            row = TiplineBook(s, unconfigured.policy).get(case_id)
            shown = view(s, unconfigured.policy, row, configured=False)
        assert shown["stage"] == "sending"
        assert "not configured" in (shown["notice"] or "")
    finally:
        unconfigured.close()


def test_only_child_abuse_cases_are_reported(client: TestClient, keys: Keys,
                                             system: Takedown) -> None:
    register(client, keys.api, "ncii", seed=3, author="ex")
    report(client, content_ids=["ncii"], category="non_consensual_intimate_imagery",
           relation="depicted_person")
    case_id = int(only_case(client, keys.bearer("specialist"))["id"])
    decide(client, case_id, keys.bearer("specialist"), "violation")
    assert client.get(f"/v1/cases/{case_id}/cybertipline",
                      headers=keys.bearer("specialist")).status_code == 404
    with system.db.transaction() as s:
        assert not list(s.scalars(select(ActionRow).where(
            ActionRow.kind == "preserve_account")))


def _due_now(system: Takedown) -> None:
    from takedown.store.tables import TiplineReportRow
    with system.db.transaction() as s:
        for row in s.scalars(select(TiplineReportRow)):
            row.next_attempt_at = row.created_at
            row.lease_until = None


def test_a_lost_answer_to_submit_stops_for_a_person_and_never_resends(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:
    server, _ = ncmec
    case_id = confirmed_case(client, keys, system)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    server.late_answer_s = 2.0
    server.lose_answer("submit")
    impatient = Takedown(system.settings.with_(ncmec_timeout_s=0.5))
    try:
        impatient.tipline.run_once("w")
    finally:
        impatient.close()
    stopped = tipline(client, keys, case_id)
    assert stopped["stage"] == "stopped" and stopped["ncmec_report_id"] is None
    assert "check with NCMEC" in stopped["error"]
    run_legal(system)  # nothing goes again by itself
    assert len(server.reports) == 1  # NCMEC did open one: a person must reconcile it
    with system.db.transaction() as s:
        assert [n for n in s.scalars(select(NotificationRow))
                if "answer was lost" in n.subject]


def test_a_decision_reversed_after_finish_is_recorded_and_the_operator_told(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:
    from takedown.cases.casebook import CaseBook
    from takedown.domain.case import EventType, NewEvent

    case_id = confirmed_case(client, keys, system)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    run_legal(system)
    assert tipline(client, keys, case_id)["stage"] == "finished"
    with system.db.transaction() as s:  # reopened (as an upheld appeal will, issue 13)
        CaseBook(s, system.policy).append(case_id, [NewEvent(EventType.REOPENED, {})])
    decide(client, case_id, keys.bearer("specialist"), "no_violation",
           reason="Content does not show what the report says")
    decide(client, case_id, keys.bearer("specialist2"), "no_violation",
           reason="Content does not show what the report says")
    reversed_ = tipline(client, keys, case_id)
    assert reversed_["overturned_at"] is not None
    assert "NCMEC must be told by other means" in reversed_["notice"]
    kinds = [i["name"] for i in client.get(
        f"/v1/cases/{case_id}/evidence", headers=keys.bearer("liaison"),
        params={"reason": "reversal"}).json()["items"]]
    assert any("reversal" in name for name in kinds)
    events = client.get(f"/v1/cases/{case_id}", headers=keys.bearer("specialist")).json()
    assert "cybertipline_overturned" in str(events)


def test_a_draft_past_its_deadline_tells_on_call(client: TestClient, keys: Keys,
                                                 system: Takedown,
                                                 ncmec: tuple[StandInNcmec, str]) -> None:
    from datetime import timedelta

    from takedown.clock import utcnow

    case_id = confirmed_case(client, keys, system)
    later = utcnow() + system.policy.legal.cybertipline_deadline + timedelta(minutes=1)
    system.tipline.escalate(later)
    system.tipline.escalate(later)  # once per escalation interval, not per pass
    assert tipline(client, keys, case_id)["escalations"] == 1
    with system.db.transaction() as s:
        told = [n.subject for n in s.scalars(select(NotificationRow))]
    assert any("overdue" in t and str(case_id) in t for t in told)
    metrics = client.get("/metrics").text
    assert 'takedown_cybertipline_reports{stage="draft"} 1.0' in metrics
    assert "takedown_cybertipline_overdue 0.0" in metrics  # due a day from now


def test_known_material_can_go_without_a_specialist_once_accounts_are_in(
        keys: Keys, system: Takedown, tmp_path: Path,
        ncmec: tuple[StandInNcmec, str]) -> None:
    from importlib import resources

    from takedown.api.app import create_app
    from takedown.demo.media import generated_photo

    text = resources.files("takedown").joinpath("policy.toml").read_text("utf-8")
    policy = tmp_path / "policy.toml"
    policy.write_text(text.replace("auto_submit_banks = []", 'auto_submit_banks = ["ncmec"]'))
    auto = Takedown(system.settings.with_(policy_path=policy))
    try:
        with TestClient(create_app(auto, run_workers=False)) as client:
            banned = generated_photo(7)
            auto.add_to_bank("ncmec", "pdq", auto.hash_file(banned)[2].value, "tester")
            posted = client.post("/v1/content", headers=keys.api, json={
                "content_id": "known", "author_id": "collector",
                "created_at": "2020-01-18T10:00:00Z", "url": "https://testnet.example/known",
                "media": [{"data_base64": base64.b64encode(banned).decode()}]})
            assert posted.status_code == 201 and posted.json()["verdict"] == "block"
            case_id = int(only_case(client, keys.bearer("specialist"))["id"])
            decide(client, case_id, keys.bearer("specialist"), "violation")
            deliver_all(auto)
            draft = tipline(client, keys, case_id)
            assert draft["auto_submit"] is True and draft["accounts_pending"] == ["collector"]
            auto.tipline.run_once("w")
            assert tipline(client, keys, case_id)["stage"] == "draft"  # waits for accounts
            client.put("/v1/accounts/collector", headers=keys.api, json={"screen_name": "c"})
            for _ in range(5):
                auto.tipline.run_once("w")
            done = tipline(client, keys, case_id)
            assert done["stage"] == "finished", done
            assert done["submitted_by"].startswith("takedown (auto-submit")
            assert b"<screenName>c</screenName>" in ncmec[0].reports[
                done["ncmec_report_id"]].xml
    finally:
        auto.close()


def test_the_cli_asks_ncmecs_status(system: Takedown,
                                   ncmec: tuple[StandInNcmec, str]) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(system.settings.data_dir),
           "TAKEDOWN_DATABASE_URL": system.settings.effective_database_url,
           "TAKEDOWN_NCMEC_URL": ncmec[1], "TAKEDOWN_NCMEC_USERNAME": "esp",
           "TAKEDOWN_NCMEC_PASSWORD": "s3cret", "COLUMNS": "200"}

    def status(**changes: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "takedown.cli", "cybertipline",
                               "status", "--json"], env={**env, **changes}, text=True,
                              capture_output=True, timeout=120, check=False)

    good = status()
    assert good.returncode == 0 and '"code": 0' in good.stdout, good.stdout + good.stderr
    refused = status(TAKEDOWN_NCMEC_PASSWORD="wrong")
    assert refused.returncode == 1 and '"code": 2000' in refused.stdout
    assert "wrong" not in refused.stdout + refused.stderr  # never echoes a password
    unset = status(TAKEDOWN_NCMEC_URL="")
    assert unset.returncode == 1 and "not configured" in unset.stdout
    key = subprocess.run([sys.executable, "-m", "takedown.cli", "evidence", "public-key"],
                         env=env, text=True, capture_output=True, timeout=120, check=False)
    assert key.returncode == 0 and "BEGIN PUBLIC KEY" in key.stdout
    assert system.signing_public_key()[1] in key.stdout


def test_a_damaged_upload_is_sent_again_then_given_to_a_person(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:
    server, _ = ncmec
    case_id = confirmed_case(client, keys, system)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    server.wrong_md5 = True
    for _ in range(8):
        _due_now(system)
        system.tipline.run_once("w")
    stopped = tipline(client, keys, case_id)
    assert stopped["stage"] == "stopped" and "MD5" in stopped["error"]
    assert [c[0] for c in server.calls].count("upload") == 5  # then a person looks
    server.wrong_md5 = False
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    run_legal(system)
    assert tipline(client, keys, case_id)["stage"] == "finished"
    assert len(server.reports) == 1


def test_a_decision_reversed_while_sending_retracts_the_report(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:
    from takedown.cases.casebook import CaseBook
    from takedown.domain.case import EventType, NewEvent

    server, _ = ncmec
    case_id = confirmed_case(client, keys, system)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    server.fail("fileinfo", 1000)  # NCMEC busy: the report waits half-sent
    system.tipline.run_once("w")
    half = tipline(client, keys, case_id)
    assert half["stage"] == "sending" and half["ncmec_report_id"] is not None
    with system.db.transaction() as s:
        CaseBook(s, system.policy).append(case_id, [NewEvent(EventType.REOPENED, {})])
    for who in ("specialist", "specialist2"):
        decide(client, case_id, keys.bearer(who), "no_violation",
               reason="Content does not show what the report says")
    _due_now(system)
    run_legal(system)
    done = tipline(client, keys, case_id)
    assert done["stage"] == "retracted" and done["retract_reason"] == "the decision was reversed"
    report = server.reports[done["ncmec_report_id"]]
    assert report.retracted and not report.finished
