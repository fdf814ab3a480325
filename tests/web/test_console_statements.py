"""The console's statements page in a real browser (Playwright driving Debian's
chromium): an admin sees the statement the DSA Transparency Database (the stand-in,
over real HTTP) rejected, with the database's message, and sends it again; others are
refused, and both are in the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.api.app import create_app
from takedown.config import Settings
from takedown.demo.tdb import StandInTransparencyDatabase, serve_stand_in
from takedown.store.tables import AuditEntryRow, StatementRow
from takedown.system import Takedown
from tests.legal.test_tdb import TOKEN, add_statements
from tests.web.browser import HAVE_CHROMIUM, NO_CHROMIUM, Console, add_reviewers, post_sign_in

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
REFUSAL = "The platform is not registered for statements of this category."


@pytest.fixture
def tdb() -> Iterator[tuple[StandInTransparencyDatabase, str]]:
    server = StandInTransparencyDatabase(token=TOKEN)
    with serve_stand_in(server) as url:
        yield server, url


@pytest.fixture
def settings(database_url: str, tmp_path: Path,
             tdb: tuple[StandInTransparencyDatabase, str]) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    inprocess_workers=0, dsa_tdb_url=tdb[1], dsa_tdb_token=TOKEN,
                    dsa_tdb_timeout_s=5)


def audited(system: Takedown, action: str) -> list[tuple[str, str]]:
    with system.db.transaction() as s:
        return [(e.actor, e.target) for e in s.scalars(
            select(AuditEntryRow).where(AuditEntryRow.action == action))]


def status_of(system: Takedown, puid: str) -> str:
    with system.db.transaction() as s:
        row = s.get(StatementRow, puid)
        assert row is not None
        return row.status


def test_an_admin_sees_a_rejection_and_sends_the_statement_again(
        console: Console, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    system, (server, _) = console.system, tdb
    rejected, *others = add_statements(system, 3)
    server.refuse(rejected, REFUSAL)
    assert system.statement_sender.run_once("w") == 3
    page = console.page("ada")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.click("header a:has-text('Statements')")
    assert page.locator("#statement-counts").inner_text() == "delivered: 2 · rejected: 1"
    assert page.locator("#tdb-off").count() == 0
    row = page.locator(f"#statement-problems tr[data-puid='{rejected}']")
    assert row.locator(".status").inner_text() == "rejected"
    assert REFUSAL in row.locator(".tdb-error").inner_text()
    assert page.locator("#statement-problems tr[data-puid]").count() == 1  # only problems
    html = page.request.get(page.url).text()
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", html)

    row.locator("button.resend").click()
    assert page.get_by_role("status").inner_text() == \
        f"Recorded: statement {rejected} will be sent again."
    assert page.locator("#statement-problems tr[data-puid]").count() == 0
    assert status_of(system, rejected) == "pending"
    assert system.statement_sender.run_once("w") == 1
    page.reload()
    assert page.locator("#statement-counts").inner_text() == "delivered: 3"
    assert server.stored == {p: 1 for p in (rejected, *others)}
    assert audited(system, "statement_requeued") == [("ada", f"statement:{rejected}")]
    assert not [m for m in messages if "Content Security Policy" in m], messages


def test_a_failing_batch_shows_its_error_until_it_goes(
        console: Console, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    system, (server, _) = console.system, tdb
    [puid] = add_statements(system, 1)
    server.fail(503)
    system.statement_sender.run_once("w")
    page = console.page("ada")
    page.goto(f"{console.url}/console/statements")
    row = page.locator(f"#statement-problems tr[data-puid='{puid}']")
    assert row.locator(".status").inner_text().startswith("failing, next try ")
    assert "HTTP 503" in row.locator(".tdb-error").inner_text()
    assert row.locator("button.resend").count() == 0  # it is retried by itself


def test_only_admins_see_the_page_and_forms_need_the_token(
        console: Console, tdb: tuple[StandInTransparencyDatabase, str]) -> None:
    system, (server, _) = console.system, tdb
    [puid] = add_statements(system, 1)
    server.refuse(puid, REFUSAL)
    system.statement_sender.run_once("w")
    for user in ("max", "ana"):
        page = console.page(user)
        assert page.locator("header a:has-text('Statements')").count() == 0
        answer = page.goto(f"{console.url}/console/statements")
        assert answer is not None and answer.status == 403, user
        assert "recorded in the audit log" in page.content()
        assert REFUSAL not in page.content()
    assert ("max", "statements") in audited(system, "access_denied")
    ada = console.page("ada")
    ada.goto(f"{console.url}/console/statements")
    forged = ada.request.post(f"{console.url}/console/statements/{puid}/resend",
                              form={"csrf": "not-the-token"}, max_redirects=0)
    assert forged.status == 403
    assert status_of(system, puid) == "rejected"


def test_the_page_says_when_the_database_is_not_configured(system: Takedown) -> None:
    add_reviewers(system)
    add_statements(system, 2)
    off = Takedown(system.settings.with_(dsa_tdb_url="", dsa_tdb_token=""))
    try:
        with TestClient(create_app(off, run_workers=False)) as client:
            assert post_sign_in(client, "ada").status_code == 303
            page = client.get("/console/statements")
    finally:
        off.close()
    assert page.status_code == 200
    assert 'id="tdb-off"' in page.text and "pending: 2" in page.text
