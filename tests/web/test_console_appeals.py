"""The console's appeals in a real browser (Playwright driving Debian's chromium): the
queue of appeals waiting for a person, an appeal beside its case (media blurred and
grey), and deciding it: a child-safety reversal proposed by one specialist and
confirmed by an admin restores the content; the original decider, a second attempt
after someone else decided, and a refusal without a reason are refused with a message
on the page; a moderator cannot open a child-safety appeal."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.store.tables import AppealRow, AuditEntryRow
from takedown.system import Takedown
from tests.api.test_appeals import appeal, confirmed_case
from tests.conftest import Keys, Receiver, deliver_all
from tests.web.browser import (
    HAVE_CHROMIUM,
    NO_CHROMIUM,
    Console,
    reviewer_keys,
    running_console,
)

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
NCII = "non_consensual_intimate_imagery"
SCREENSHOTS = os.environ.get("TAKEDOWN_SCREENSHOTS")  # a folder: docs/ when refreshing


@pytest.fixture
def keys(system: Takedown, receiver: Receiver) -> Keys:
    return reviewer_keys(system, receiver)


@pytest.fixture
def console(system: Takedown, keys: Keys) -> Iterator[Console]:
    """As tests/web/conftest.py's, with the users of `keys`."""
    with running_console(system) as console:
        yield console


def watched(console: Console, user: str):  # type: ignore[no-untyped-def]
    """A signed-in page, and the messages its console logs (CSP refusals among them)."""
    page = console.page(user)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    return page, messages


def no_csp_refusal(messages: list[str]) -> None:
    assert not [m for m in messages if "Content Security Policy" in m], messages


def no_inline_code(page, url: str) -> None:  # type: ignore[no-untyped-def]
    html = page.request.get(url).text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), url


def filters(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator(".media-item img").first.evaluate(
        "element => getComputedStyle(element).filter"))


def status_of(system: Takedown, appeal_id: str) -> str:
    with system.db.transaction() as s:
        row = s.get(AppealRow, appeal_id)
        assert row is not None
        return row.status


def csrf_of(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator("header input[name=csrf]").get_attribute("value"))


def decide_in(page, outcome: str, reason: str = "") -> None:  # type: ignore[no-untyped-def]
    page.check(f"#appeal-form input[name=outcome][value={outcome}]")
    page.fill("#appeal-form textarea[name=reason]", reason)
    page.click("#decide-appeal")


def test_a_child_safety_reversal_is_proposed_confirmed_and_restores_the_content(
        console: Console, client: TestClient, keys: Keys) -> None:
    system = console.system
    case_id = confirmed_case(client, keys, system)  # decided by ana, a specialist
    appeal_id = appeal(client, keys, content_id="post-2")["appeal_id"]
    ben, messages = watched(console, "ben")
    ben.click("header a:has-text('Appeals')")
    row = ben.locator(f"#appeals-queue tr[data-appeal='{appeal_id}']")
    assert row.locator(".appellant").inner_text() == "uploader (en)"
    assert row.locator(".under-appeal").inner_text() == "closed violation by ana"
    assert row.locator(".may-decide").inner_text() == "yes"
    assert "child sexual abuse" in row.inner_text() and f"#{case_id}" in row.inner_text()
    no_inline_code(ben, ben.url)
    ana = console.page("ana")  # the decider: listed, but not hers to decide
    ana.goto(f"{console.url}/console/appeals")
    assert ana.locator(f"tr[data-appeal='{appeal_id}'] .may-decide").inner_text() == "no"

    row.locator("a:has-text('Appeal on case')").click()
    no_inline_code(ben, ben.url)
    assert ben.locator("#appeal-text").inner_text() == "This is my own holiday photo."
    assert ben.locator("#appeal-status").inner_text() == "open"
    assert ben.locator("#deciders").inner_text() == "ana"
    assert "decided by ana: violation" in ben.locator("#decision-under-appeal").inner_text()
    explained = ben.locator("#reversal-explained").inner_text()
    assert "restores every item" in explained and "confirmed" in explained
    assert "CyberTipline" in explained and "second child-safety specialist" in explained
    # The case beside it: its media blurred and grey, as on the case page.
    ben.wait_for_function("() => document.querySelector('.media-item img').complete")
    assert "blur(18px)" in filters(ben) and "grayscale(1)" in filters(ben)
    assert not str(ben.locator(".media-item img").first.get_attribute("src")).endswith("/clear")
    assert ben.locator("#views-today").inner_text() == "0"
    assert "parent guardian" in ben.locator("#reports").inner_text()
    assert ben.locator("#content tr[data-item='post-1'] .state").inner_text() == "removed"
    if SCREENSHOTS:
        ben.screenshot(path=f"{SCREENSHOTS}/console-appeal.png", full_page=True)

    decide_in(ben, "reversed", "A family photo, not abuse.")
    assert ben.get_by_role("status").inner_text().startswith("Recorded: reversal proposed")
    assert ben.locator("#appeal-status").inner_text() == "reversal proposed"
    assert "second child-safety specialist" in ben.locator("#not-yours").inner_text()
    assert ben.locator("#appeal-form").count() == 0
    assert ben.locator("#case-status").inner_text() == "closed violation"

    ada, ada_messages = watched(console, "ada")
    ada.goto(f"{console.url}/console/appeals")
    row = ada.locator(f"#appeals-queue tr[data-appeal='{appeal_id}']")
    assert "needs a second specialist" in row.locator(".status").inner_text()
    row.locator("a").first.click()
    assert "ben would reverse" in ada.locator("#proposed").inner_text()
    decide_in(ada, "reversed", "Confirmed: a family photo.")
    assert ada.get_by_role("status").inner_text() == \
        "Recorded: appeal reversed: the case is now closed no violation."
    assert ada.locator("#appeal-status").inner_text() == "reversed"
    assert ada.locator("#case-status").inner_text() == "closed no violation"
    assert "ben,ada" in ada.locator("#appeal-outcome").inner_text()
    deliver_all(system)
    ada.reload()
    assert {ada.locator(f"#content tr[data-item='{i}'] .state").inner_text()
            for i in ("post-1", "post-1-r", "post-2")} == {"visible"}
    assert "restore" in ada.locator("#actions").inner_text()
    # Decided: gone from the queue, found with the filter.
    ada.goto(f"{console.url}/console/appeals")
    assert ada.locator(f"tr[data-appeal='{appeal_id}']").count() == 0
    ada.select_option("#appeal-filter select[name=status]", "decided")
    ada.click("#appeal-filter button")
    decided = ada.locator(f"#appeals-queue tr[data-appeal='{appeal_id}']")
    assert decided.locator(".status").inner_text().startswith("reversed")
    assert decided.locator(".may-decide").inner_text() == "no"
    no_csp_refusal(messages + ada_messages)


def test_the_decider_a_late_second_decision_and_a_bare_refusal_are_refused_on_the_page(
        console: Console, client: TestClient, keys: Keys) -> None:
    system = console.system
    confirmed_case(client, keys, system, NCII, decider="moderator")  # decided by max
    appeal_id = appeal(client, keys, content_id="post-1")["appeal_id"]
    url = f"{console.url}/console/appeals/{appeal_id}"

    max_, messages = watched(console, "max")
    max_.goto(url)
    assert "took part in the decision" in max_.locator("#not-yours").inner_text()
    assert max_.locator("#appeal-form").count() == 0
    # The form sent anyway (with the session's token): the service refuses it, and the
    # page it comes back to says why.
    answer = max_.request.post(f"{url}/decide", form={
        "csrf": csrf_of(max_), "outcome": "reversed", "reason": "I was wrong"})
    assert answer.ok and "took no part in the decision" in answer.text()
    max_.goto(answer.url)
    assert "took no part in the decision" in max_.get_by_role("alert").inner_text()
    assert status_of(system, appeal_id) == "open"

    ana = console.page("ana")  # opens the appeal now, decides later
    ana.goto(url)
    ada, ada_messages = watched(console, "ada")
    ada.goto(url)
    decide_in(ada, "refused")  # manifestly unfounded needs a reason
    assert ada.get_by_role("alert").inner_text() == "say why the appeal is manifestly unfounded"
    assert ada.locator("#appeal-status").inner_text() == "open"
    decide_in(ada, "upheld", "The image is the reported person's, shared without consent.")
    assert ada.get_by_role("status").inner_text() == \
        "Recorded: appeal upheld: the case stays closed violation."
    assert "The image is the reported person's" in ada.locator("#appeal-outcome").inner_text()
    assert ada.locator("#appeal-form").count() == 0

    decide_in(ana, "reversed", "Looks consensual to me.")  # too late: ada decided
    assert ana.get_by_role("alert").inner_text() == "this appeal was already upheld"
    assert ana.locator("#appeal-status").inner_text() == "upheld"
    assert status_of(system, appeal_id) == "upheld"
    no_csp_refusal(messages + ada_messages)


def test_a_moderator_cannot_open_a_child_safety_appeal(
        console: Console, client: TestClient, keys: Keys) -> None:
    system = console.system
    confirmed_case(client, keys, system)
    appeal_id = appeal(client, keys, content_id="post-1")["appeal_id"]
    page, messages = watched(console, "max")
    page.click("header a:has-text('Appeals')")
    assert page.locator("#appeals-queue tr[data-appeal]").count() == 0
    url = f"{console.url}/console/appeals/{appeal_id}"
    response = page.goto(url)
    assert response is not None and response.status == 403
    assert "recorded in the audit log" in page.content()
    assert "holiday photo" not in page.content()
    answer = page.request.post(f"{url}/decide", form={"csrf": csrf_of(page),
                                                      "outcome": "upheld"})
    assert answer.status == 403  # back to the appeal: the 403 page again
    forged = page.request.post(f"{url}/decide", form={"csrf": "not-the-token",
                                                      "outcome": "upheld"}, max_redirects=0)
    assert forged.status == 403
    assert status_of(system, appeal_id) == "open"
    with system.db.transaction() as s:
        denied = [(e.actor, e.target) for e in s.scalars(
            select(AuditEntryRow).where(AuditEntryRow.action == "access_denied"))]
    assert ("max", f"appeal:{appeal_id}") in denied
    missing = page.goto(f"{console.url}/console/appeals/no-such-appeal")
    assert missing is not None and missing.status == 404
    no_csp_refusal(messages)
