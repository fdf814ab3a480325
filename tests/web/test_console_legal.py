"""The console's legal pages in a real browser (Playwright driving Debian's chromium):
a specialist checks, edits and submits a CyberTipline report that a stand-in NCMEC
server (real HTTP, validating against NCMEC's XSD) accepts; a liaison opens a case's
evidence with a reason, sets a legal hold and downloads the signed bundle. Others are
refused, and the refusals are in the audit log."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.config import Settings
from takedown.demo.ncmec import StandInNcmec, serve_stand_in
from takedown.legal.bundle import verify_bundle
from takedown.store.tables import AuditEntryRow
from takedown.system import Takedown
from tests.conftest import Keys, Receiver
from tests.helpers import reference
from tests.legal.test_cybertipline import confirmed_case
from tests.web.browser import (
    HAVE_CHROMIUM,
    NO_CHROMIUM,
    Console,
    reviewer_keys,
    running_console,
)

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
ENTICEMENT = "Online Enticement of Children for Sexual Acts"
SCREENSHOTS = os.environ.get("TAKEDOWN_SCREENSHOTS")  # a folder: docs/ when refreshing


@pytest.fixture
def ncmec() -> Iterator[tuple[StandInNcmec, str]]:
    server = StandInNcmec(username="esp", password="s3cret",
                          xsd=reference("ncmec", "cyber_tipline.xsd"))
    with serve_stand_in(server) as url:
        yield server, url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, ncmec: tuple[StandInNcmec, str]) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    inprocess_workers=0, webhook_timeout_s=5.0,
                    max_media_bytes=6 * 1024 * 1024, max_request_bytes=12 * 1024 * 1024,
                    oncall_webhook_url="http://127.0.0.1:9/oncall",
                    ncmec_url=ncmec[1], ncmec_username="esp", ncmec_password="s3cret")


@pytest.fixture
def keys(system: Takedown, receiver: Receiver) -> Keys:
    return reviewer_keys(system, receiver)


@pytest.fixture
def console(system: Takedown, keys: Keys) -> Iterator[Console]:
    """As tests/web/conftest.py's, with the users of `keys`."""
    with running_console(system) as console:
        yield console


def audited(system: Takedown, action: str) -> list[tuple[str, dict[str, object]]]:
    with system.db.transaction() as s:
        return [(e.actor, e.details or {}) for e in s.scalars(
            select(AuditEntryRow).where(AuditEntryRow.action == action))]


def no_inline_code(page, url: str) -> None:  # type: ignore[no-untyped-def]
    html = page.request.get(url).text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), url


def run_legal(system: Takedown) -> None:
    for _ in range(10):
        if system.tipline.run_once("w") == 0:
            return


def test_a_specialist_checks_edits_and_submits_a_report(
        console: Console, client: TestClient, keys: Keys,
        ncmec: tuple[StandInNcmec, str]) -> None:
    system, (server, _) = console.system, ncmec
    case_id = confirmed_case(client, keys, system)
    page = console.page("ana")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.click("header a:has-text('CyberTipline')")
    row = page.locator(f"#tipline-queue tr[data-case='{case_id}']")
    assert row.locator(".stage").inner_text() == "draft"
    assert "left" in row.locator(".due").inner_text()  # due in a day: not overdue
    assert "2 (reuploader, trafficker)" in row.inner_text()
    no_inline_code(page, page.url)
    row.locator(f"a:has-text('Report for case #{case_id}')").click()
    no_inline_code(page, page.url)
    assert page.locator("#stage").inner_text() == "draft"
    assert "reuploader, trafficker" in page.locator("#accounts").inner_text()

    page.select_option("#incident-type", ENTICEMENT)
    page.check("#annotations input[value=sextortion]")
    page.fill("textarea[name=summary]", "Extorted at 13 <b>not bold</b>.")
    page.click("#save-report")
    assert page.get_by_role("status").inner_text() == "Recorded: changes saved."
    xml = page.locator("#xml").inner_text()
    assert f"<incidentType>{ENTICEMENT}</incidentType>" in xml
    assert "<sextortion>true</sextortion>" in xml and "Extorted at 13" in xml
    assert page.locator("#xml b, #xml incidentType").count() == 0  # text, not markup
    assert page.locator("#incident-type").input_value() == ENTICEMENT
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/console-cybertipline.png", full_page=True)

    page.click("#submit-report")
    assert "submitted" in page.get_by_role("status").inner_text()
    assert page.locator("#stage").inner_text() == "sending"
    assert page.locator("#save-report").count() == 0  # frozen while it goes
    run_legal(system)
    page.reload()
    assert page.locator("#stage").inner_text() == "finished"
    [report_id] = server.reports
    assert page.locator("#ncmec-report-id").inner_text() == str(report_id)
    assert b"<sextortion>true</sextortion>" in server.reports[report_id].xml
    assert page.locator("#retract-report").count() == 0  # a finished report stays
    assert not [m for m in messages if "Content Security Policy" in m], messages
    page.goto(f"{console.url}/console/cybertipline")  # done: no longer waiting
    assert page.locator("#tipline-queue tr[data-case]").count() == 0
    assert ("ana", {"fields": ["annotations", "escalate_reason", "incident_type",
                               "summary"]}) in audited(system, "cybertipline_edited")


def test_a_stopped_report_shows_why_and_can_be_retracted(
        console: Console, client: TestClient, keys: Keys,
        ncmec: tuple[StandInNcmec, str]) -> None:
    server, _ = ncmec
    case_id = confirmed_case(client, keys, console.system)
    server.fail("fileinfo", 4100)  # opened at NCMEC, then refused: a person must look
    page = console.page("ana")
    page.goto(f"{console.url}/console/cases/{case_id}")
    page.click("#legal-links a:has-text('CyberTipline report')")
    page.click("#submit-report")
    run_legal(console.system)
    page.goto(f"{console.url}/console/cybertipline")
    row = page.locator(f"#tipline-queue tr[data-case='{case_id}']")
    assert row.locator(".stage").inner_text() == "stopped" and "4100" in row.inner_text()
    row.locator("a:has-text('Report for case')").click()
    assert "(code 4100)" in page.locator("#ncmec-error").inner_text()
    assert page.locator("#submit-report").inner_text() == "Submit again"
    page.fill("#retract textarea[name=reason]", "wrong files attached")
    page.click("#retract-report")
    assert "retraction queued" in page.get_by_role("status").inner_text()
    assert page.locator("#stage").inner_text() == "retracting"
    run_legal(console.system)
    page.reload()
    assert page.locator("#stage").inner_text() == "retracted"
    assert "wrong files attached" in page.locator("#state").inner_text()
    assert page.locator("#submit-report").inner_text() == "Submit a corrected report"
    [report_id] = server.reports
    assert server.reports[report_id].retracted


def test_only_specialists_and_admins_open_reports_and_only_liaisons_evidence(
        console: Console, client: TestClient, keys: Keys) -> None:
    case_id = confirmed_case(client, keys, console.system)
    for user in ("max", "lee"):
        page = console.page(user)
        assert page.locator("header a:has-text('CyberTipline')").count() == 0
        for path in ("/console/cybertipline", f"/console/cases/{case_id}/cybertipline"):
            answer = page.goto(f"{console.url}{path}")
            assert answer is not None and answer.status == 403, (user, path)
            assert "recorded in the audit log" in page.content()
    for user in ("ana", "max"):
        page = console.page(user)
        answer = page.goto(f"{console.url}/console/cases/{case_id}/evidence")
        assert answer is not None and answer.status == 403, user
        assert page.locator("input[name=reason]").count() == 0
    denied = [(who, details["wanted"]) for who, details in audited(console.system,
                                                                   "access_denied")]
    assert ("max", "the CyberTipline queue") in denied
    assert ("lee", "a CyberTipline report") in denied
    assert ("ana", "the evidence vault") in denied
    ada = console.page("ada")  # an admin may do both, from the case
    ada.goto(f"{console.url}/console/cases/{case_id}")
    assert ada.locator("#legal-links a").all_inner_texts() == ["CyberTipline report",
                                                               "Evidence"]


def test_a_liaison_opens_evidence_with_a_reason_holds_and_exports_it(
        console: Console, client: TestClient, keys: Keys) -> None:
    system = console.system
    case_id = confirmed_case(client, keys, system)
    page = console.page("lee")
    page.goto(f"{console.url}/console/cases/{case_id}")
    assert page.locator("#legal-links a").all_inner_texts() == ["Evidence"]
    page.click("#legal-links a:has-text('Evidence')")
    assert page.locator("#items").count() == 0  # nothing before a reason
    assert audited(system, "evidence_viewed") == []
    no_inline_code(page, page.url)
    page.fill("input[name=reason]", "Preservation request PR-7 from county police")
    page.click("#open-evidence")
    items = page.locator("#items tbody tr")
    assert items.count() >= 2  # the confirmed file and the case record
    assert "media" in page.locator("#items").inner_text()
    assert re.search(r"[0-9a-f]{64}", page.locator("#items").inner_text())
    assert [(a, d["reason"]) for a, d in audited(system, "evidence_viewed")] == [
        ("lee", "Preservation request PR-7 from county police")]
    no_inline_code(page, page.url)

    page.fill("input[name=agency]", "County Police <Cyber Unit>")
    page.fill("input[name=legal_process]", "18 U.S.C. 2703(f) request PR-7")
    page.click("#set-hold")
    assert page.get_by_role("status").inner_text() == "Recorded: legal hold set."
    held = page.locator("#hold-details").inner_text()
    assert "County Police <Cyber Unit>" in held and "set by lee" in held
    assert page.locator("#items tbody tr").count() == items.count()  # still open
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/console-evidence.png", full_page=True)

    with page.expect_download() as download:
        page.click("#export-evidence")
    path = Path(download.value.path())
    assert download.value.suggested_filename == f"case-{case_id}-evidence.zip"
    pem, _ = system.signing_public_key()
    check = verify_bundle(path, pem.encode())
    assert check.ok, check.problems
    assert [(a, d["reason"]) for a, d in audited(system, "evidence_exported")] == [
        ("lee", "Preservation request PR-7 from county police")]

    page.click("#lift-hold")
    assert page.get_by_role("status").inner_text() == "Recorded: legal hold lifted."
    assert "No legal hold" in page.locator("#hold-details").inner_text()
