"""The console in a real browser: Playwright driving Debian's chromium, headless."""

from __future__ import annotations

import hashlib
import os
import re

import pytest
from sqlalchemy import select

from takedown.cases.intake import ReportSubmission
from takedown.demo.media import generated_photo
from takedown.domain.vocabulary import Category, Relation
from takedown.media.intake import MediaInput
from takedown.platform.content import ContentSubmission
from takedown.store.tables import AuditEntryRow, NotificationRow
from tests.web.browser import (
    CLEAR_LOADED,
    HAVE_CHROMIUM,
    NO_CHROMIUM,
    Console,
    make_case,
    sign_in,
    when,
)

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
SCREENSHOTS = os.environ.get("TAKEDOWN_SCREENSHOTS")  # a folder: docs/ when refreshing


def test_sign_in_and_out(console: Console) -> None:
    page = console.page()
    sign_in(page, console.url, "ana", "wrong password")
    assert page.get_by_role("alert").inner_text() == "Wrong name or password."
    sign_in(page, console.url, "ana")
    assert page.get_by_role("heading", name="Queue").is_visible()
    page.click("button:has-text('Sign out')")
    assert page.url.endswith("/console/login")
    page.goto(f"{console.url}/console/")
    assert page.url.endswith("/console/login")  # the session is gone


def test_queue_is_ordered_by_priority_with_time_left(console: Console) -> None:
    spam = make_case(console.system, "spam", category=Category.TERMS_VIOLATION, seed=2)
    urgent = make_case(console.system, "urgent", category=Category.CHILD_SEXUAL_ABUSE,
                       relation=Relation.PARENT_GUARDIAN, seed=3)
    page = console.page("ana")
    rows = page.locator("#queue tbody tr")
    assert [rows.nth(i).get_attribute("data-case") for i in range(2)] == [str(urgent),
                                                                          str(spam)]
    assert re.match(r"\d+ min left", rows.nth(0).locator(".time-left").inner_text())
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/console-queue.png", full_page=True)


def test_deciding_a_case_end_to_end(console: Console) -> None:
    case_id = make_case(console.system, "post", category=Category.TERMS_VIOLATION)
    page = console.page("max")
    page.click(f"a:has-text('#{case_id}')")
    page.check("input[value=violation]")
    page.fill("textarea[name=notes]", "spam, confirmed")
    page.click("#submit-decision")
    assert page.get_by_role("status").inner_text() == "Recorded: closed violation."
    platform = console.system.platform_named("net")
    assert console.system.content_state(platform, "post")["moderation_state"] == "removed"


def test_a_reviewer_ticks_which_file_of_an_album_is_abusive(console: Console) -> None:
    system = console.system
    platform = system.platform_named("net")
    meme, abuse = generated_photo(40, (480, 360)), generated_photo(41, (480, 360))
    system.register_content(platform, ContentSubmission("meme", "acct-meme", when()),
                            [MediaInput(data=meme)])
    system.register_content(platform, ContentSubmission("album", "acct-album", when()),
                            [MediaInput(data=abuse), MediaInput(data=meme)])
    system.submit_report(ReportSubmission(category=Category.CHILD_SEXUAL_ABUSE,
                                          relation=Relation.PARENT_GUARDIAN,
                                          content_ids=["album"]), None, {})
    system.settle()
    case_id = int(system.content_state(platform, "album")["case_id"])
    page = console.page("ana")
    page.goto(f"{console.url}/console/cases/{case_id}")
    boxes = page.locator("#abusive-files input[name=media]")
    assert boxes.count() == 2 and not boxes.nth(0).is_checked()  # neither matched anything
    page.check("input[value=violation]")
    page.click("#submit-decision")
    assert "Tick the files that are abusive" in page.get_by_role("alert").inner_text()
    page.check(f"#abusive-files input[value='{hashlib.sha256(abuse).hexdigest()}']")
    page.check("input[value=violation]")
    page.click("#submit-decision")
    assert page.get_by_role("status").inner_text() == "Recorded: closed violation."
    state = {c: system.content_state(platform, c)["moderation_state"] for c in ("album", "meme")}
    assert state == {"album": "removed", "meme": "visible"}
    sha = hashlib.sha256(abuse).hexdigest()
    assert "confirmed" in page.locator(f".media-item[data-sha='{sha}']").inner_text()
    assert "not in the case" in page.locator(
        f".media-item[data-sha='{hashlib.sha256(meme).hexdigest()}']").inner_text()


def filters(page, index: int = 0) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator(".media-item img").nth(index).evaluate(
        "element => getComputedStyle(element).filter"))


def test_media_is_blurred_and_grey_until_a_reviewer_chooses(console: Console) -> None:
    case_id = make_case(console.system, "pic", category=Category.CHILD_SEXUAL_ABUSE,
                        relation=Relation.DEPICTED_PERSON)
    page = console.page("ana")
    page.goto(f"{console.url}/console/cases/{case_id}")
    page.wait_for_function("() => document.querySelector('.media-item img').complete")
    assert "blur(18px)" in filters(page) and "grayscale(1)" in filters(page)
    image = page.locator(".media-item img")
    assert not str(image.get_attribute("src")).endswith("/clear")  # blurred by the server
    size = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert max(size) <= 320  # a thumbnail, not the file
    assert page.locator(".item-count").inner_text() == "file 1 · 1 item(s) · reported"
    assert page.locator("#views-today").inner_text() == "0"  # a blurred preview is no view
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/console-case.png", full_page=True)
    page.click("button[data-toggle=blurred]")
    page.wait_for_function(CLEAR_LOADED)
    assert "blur(0px)" in filters(page) and "grayscale(1)" in filters(page)
    assert page.locator("#views-today").inner_text() == "1"
    page.click("button[data-toggle=grey]")
    assert "blur(0px)" in filters(page) and "grayscale(0)" in filters(page)
    page.click("button[data-toggle=blurred]")  # each toggle is separate
    assert "blur(18px)" in filters(page) and "grayscale(0)" in filters(page)
    page.reload()
    assert page.locator("#views-today").inner_text() == "1"  # one clear view, counted


def test_a_child_safety_dismissal_needs_a_second_specialist(console: Console) -> None:
    case_id = make_case(console.system, "x", category=Category.CHILD_SEXUAL_ABUSE,
                        relation=Relation.PARENT_GUARDIAN)
    ana = console.page("ana")
    ana.goto(f"{console.url}/console/cases/{case_id}")
    ana.check("input[value=no_violation]")
    ana.click("#submit-decision")
    assert "awaiting second review" in ana.locator("#case-status").inner_text()
    assert "cannot confirm your own" in ana.locator("#second-review").inner_text()
    ana.check("input[value=no_violation]")
    ana.click("#submit-decision")
    assert "second child-safety specialist" in ana.get_by_role("alert").last.inner_text()
    ben = console.page("ben")
    ben.goto(f"{console.url}/console/cases/{case_id}")
    assert "ana found no violation" in ben.locator("#second-review").inner_text()
    ben.check("input[value=no_violation]")
    ben.click("#submit-decision")
    assert ben.get_by_role("status").inner_text() == "Recorded: closed no violation."


def test_a_moderator_is_refused_a_child_safety_case_and_it_is_logged(
        console: Console) -> None:
    case_id = make_case(console.system, "y", category=Category.CHILD_SEXUAL_ABUSE)
    page = console.page("max")
    assert page.locator("#queue tbody tr[data-case]").count() == 0
    response = page.goto(f"{console.url}/console/cases/{case_id}")
    assert response is not None and response.status == 403
    assert "recorded in the audit log" in page.content()
    media = page.request.get(f"{console.url}/console/cases/{case_id}/media/{'0' * 64}")
    assert media.status == 403
    with console.system.db.transaction() as s:
        denied = [(e.actor, e.target) for e in s.query(AuditEntryRow)
                  .filter(AuditEntryRow.action == "access_denied")]
    assert ("max", f"case:{case_id}") in denied


def test_escalating_moves_a_case_to_the_specialists_queue(console: Console) -> None:
    case_id = make_case(console.system, "e", category=Category.OTHER_ILLEGAL)
    page = console.page("max")
    page.goto(f"{console.url}/console/cases/{case_id}")
    page.check("input[value=escalate]")
    page.select_option("#reason", label="Needs legal review")
    page.click("#submit-decision")
    assert page.get_by_role("status").inner_text() == "Recorded: escalate."
    assert page.locator(".escalated").inner_text() == "escalated \u00d71"
    assert "escalated by max: Needs legal review" in page.locator("#history").inner_text()
    assert "specialists' queue" in page.locator("#moved").inner_text()
    assert page.locator("#submit-decision").count() == 0  # no longer the moderator's
    page.goto(f"{console.url}/console/")
    assert page.locator("#queue tbody tr[data-case]").count() == 0
    assert page.locator("#queues").count() == 0  # moderators have one queue
    ana = console.page("ana")
    ana.click("a:has-text(\"Specialists' queue\")")
    assert ana.locator("#queue tbody tr[data-case]").get_attribute("data-case") == str(case_id)
    ana.click("a:has-text('General queue')")
    assert ana.locator("#queue tbody tr[data-case]").count() == 0
    ana.goto(f"{console.url}/console/cases/{case_id}")
    ana.check("input[value=violation]")
    ana.select_option("#reason", label="Needs legal review")  # not a violation reason
    ana.click("#submit-decision")
    assert "not a reason the policy gives" in ana.get_by_role("alert").last.inner_text()


def test_asking_the_reporter_shows_the_question_until_they_answer(console: Console) -> None:
    case_id = make_case(console.system, "q", category=Category.NON_CONSENSUAL_INTIMATE_IMAGERY,
                        email="victim@example.org")
    page = console.page("max")
    page.goto(f"{console.url}/console/cases/{case_id}")
    page.check("input[value=request_information]")
    page.select_option("#reason", label="Need the depicted person's age")
    page.fill("textarea[name=question]", "How old were you <then>?")
    page.click("#submit-decision")
    assert "How old were you <then>?" in page.locator("#waiting").inner_text()
    with console.system.db.transaction() as s:
        mails = [(n.target, n.body["text"]) for n in s.scalars(
            select(NotificationRow).where(NotificationRow.dedupe_key.like("%question%")))]
    assert len(mails) == 1 and mails[0][0] == "victim@example.org"  # besides the receipt
    assert "How old were you <then>?" in mails[0][1]


def test_marking_a_reporter_abusive_sets_aside_their_reports(console: Console) -> None:
    ids = [make_case(console.system, f"f-{n}", category=Category.TERMS_VIOLATION, seed=60 + n,
                     email="flood@example.org") for n in range(3)]
    max_page = console.page("max")
    max_page.goto(f"{console.url}/console/cases/{ids[0]}")
    assert "3 report(s) from this reporter" in max_page.locator(".reporter-record").inner_text()
    assert max_page.locator(".reporter-form").count() == 0  # for specialists and admins
    ana = console.page("ana")
    ana.goto(f"{console.url}/console/cases/{ids[0]}")
    ana.fill("input[name=reason]", "flood of false reports")
    ana.click("button:has-text('Mark reporter abusive')")
    assert "3 report(s) set aside, 3 case(s) closed" in ana.get_by_role("status").inner_text()
    assert "closed no violation" in ana.locator("#case-status").inner_text()
    assert "reporter marked abusive" in ana.locator(".invalidated").inner_text()
    ana.goto(f"{console.url}/console/")
    assert ana.locator("#queue tbody tr[data-case]").count() == 0
    ana.goto(f"{console.url}/console/cases/{ids[0]}")
    ana.click("button:has-text('Lift the abusive mark')")
    assert "mark lifted" in ana.get_by_role("status").inner_text()
    with console.system.db.transaction() as s:
        acts = [e.action for e in s.scalars(select(AuditEntryRow))]
    assert "reporter_marked_abusive" in acts and "reporter_unmarked" in acts


def test_selected_cases_are_decided_together(console: Console) -> None:
    ids = [make_case(console.system, f"flood-{n}", category=Category.TERMS_VIOLATION,
                     seed=40 + n) for n in range(3)]
    page = console.page("max")
    for case_id in ids[:2]:
        page.check(f"input[name=case][value='{case_id}']")
    page.select_option("#bulk-outcome", "violation")
    page.select_option("#bulk-reason", label="Breaks the terms of service")
    page.click("#decide-selected")
    assert page.get_by_role("status").inner_text() == "2 of 2 decided"
    remaining = page.locator("#queue tbody tr[data-case]")
    assert [remaining.nth(i).get_attribute("data-case") for i in range(remaining.count())] \
        == [str(ids[2])]


def test_a_claimed_case_shows_who_is_on_it(console: Console) -> None:
    case_id = make_case(console.system, "c", category=Category.CHILD_SEXUAL_ABUSE,
                        relation=Relation.LAW_ENFORCEMENT)
    ana = console.page("ana")
    ana.goto(f"{console.url}/console/cases/{case_id}")
    ana.click("#claim-button")
    assert "You are working on this case" in ana.locator("#claimed").inner_text()
    ana.goto(f"{console.url}/console/?mine=true")
    assert ana.locator("#queue tbody tr[data-case]").count() == 1
    ben = console.page("ben")
    assert "ana is on it" in ben.locator("#queue").inner_text()
    ben.goto(f"{console.url}/console/cases/{case_id}")
    assert "ana is working on this case" in ben.locator("#claimed").inner_text()
    assert ben.locator("#claim-button").count() == 0


def test_a_script_in_a_report_is_shown_as_text(console: Console) -> None:
    text = "<script>window.pwned = 1</script><b>bold?</b>"
    case_id = make_case(console.system, "z", category=Category.TERMS_VIOLATION, text=text)
    page = console.page("max")
    page.goto(f"{console.url}/console/cases/{case_id}")
    assert page.locator(".report-text").inner_text() == text
    assert page.evaluate("window.pwned") is None
    assert page.locator(".report-text b").count() == 0


def test_a_form_without_the_sessions_csrf_token_is_refused(console: Console) -> None:
    case_id = make_case(console.system, "w", category=Category.TERMS_VIOLATION)
    page = console.page("max")
    response = page.request.post(f"{console.url}/console/cases/{case_id}/decide",
                                 form={"outcome": "violation", "csrf": "forged"})
    assert response.status == 403
    platform = console.system.platform_named("net")
    assert console.system.content_state(platform, "w")["moderation_state"] == "visible"

