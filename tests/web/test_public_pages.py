"""The reporter's pages (issue 12) in a real browser, in each of the four languages:
the report form (filled with the keyboard, on a phone-sized screen), its receipt, the
status page and the answer to a reviewer's question, the fingerprint page that never
sends the file; and, through a plain client, the TAKE IT DOWN Act's missing elements
and the 429 page. Nothing here depends on the translated words: the pages' languages
are checked by their lang attribute, their parts by id."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.api.app import create_app
from takedown.config import Settings
from takedown.demo.media import generated_photo
from takedown.server import BackgroundServer, free_port
from takedown.store.tables import BankEntryRow
from takedown.system import Takedown
from tests.conftest import Keys
from tests.helpers import WHEN, register
from tests.web.browser import CHROMIUM, HAVE_CHROMIUM, NO_CHROMIUM

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
SCREENSHOTS = os.environ.get("TAKEDOWN_SCREENSHOTS")  # a folder: docs/ when refreshing
LANGUAGES = ("en", "de", "fr", "es")
PHONE = {"width": 390, "height": 844}
REPORT_FIELDS = ["content", "category", "relation", "depicted_minor", "age_at_time",
                 "age_now", "case_numbers", "text", "contact_email", "language",
                 "good_faith_statement", "signature"]
# What each language's reporter says: a different path through the form each time.
# (category, relation, e-mail, NCII statement and signature)
REPORTS: dict[str, tuple[str, str, str, bool]] = {
    "en": ("other_illegal", "other_user", "reporter@example.org", False),
    "de": ("terms_violation", "other_user", "", False),
    "fr": ("other_illegal", "law_enforcement", "", False),
    "es": ("non_consensual_intimate_imagery", "depicted_person", "yo@example.org", True),
}
# Functions, not expressions: Playwright evaluates an expression with eval(), which the
# pages' Content-Security-Policy refuses.
LABELS = """(form) => Array.from(form.querySelectorAll('input, select, textarea'))
    .filter((el) => el.type !== 'hidden')
    .map((el) => [el.id, el.labels.length ? el.labels[0].innerText.trim() : ''])"""
FOCUSED = "() => document.activeElement.id || document.activeElement.tagName"
OPTIONS = "(el) => Array.from(el.options, (o) => o.value)"
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"
ONE_HASH_PER_FILE = "(n) => document.querySelectorAll('#hashes input[name=hash]').length === n"


@dataclass
class Site:
    url: str
    system: Takedown
    client: TestClient
    keys: Keys
    browser: Any

    def page(self) -> Any:
        """A phone-sized page that fails the test on anything the page's
        Content-Security-Policy refuses."""
        page = self.browser.new_context(viewport=PHONE).new_page()
        page.set_default_timeout(10_000)
        page.refused = []
        page.on("console", lambda m: "Content Security Policy" in m.text
                and page.refused.append(m.text))
        return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def site(system: Takedown, client: TestClient, keys: Keys, browser: Any) -> Iterator[Site]:
    with BackgroundServer(create_app(system, run_workers=False), free_port()) as server:
        yield Site(server.url, system, client, keys, browser)


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """A test may set the reports' limit per address: parametrize("settings", [...],
    indirect=True)."""
    limit = getattr(request, "param", None)
    return settings.with_(report_rate_limit=limit) if limit else settings


# --- helpers --------------------------------------------------------------------------


def in_language(page: Any, language: str, *, picker: bool = True) -> None:
    """The page is in `language`; its picker offers all four, keeping the page's other
    query parameters."""
    assert page.locator("html").get_attribute("lang") == language
    assert page.evaluate(FITS), "the page scrolls sideways on a phone"
    assert not page.refused, page.refused
    links = page.locator("nav.languages a")
    if not picker:
        assert links.count() == 0
        return
    assert [links.nth(i).get_attribute("hreflang") for i in range(4)] == list(LANGUAGES)
    assert page.locator("nav.languages a[aria-current=page]").get_attribute(
        "hreflang") == language
    kept = {(k, v) for k, v in parse_qsl(urlsplit(page.url).query)
            if k not in ("lang", "answered")}  # a notice shown once
    for i in range(4):
        href = links.nth(i).get_attribute("href")
        assert kept <= set(parse_qsl(urlsplit(href).query)), (href, kept)


def labelled(page: Any, form: str) -> list[str]:
    """Every visible control of the form has a label that finds it."""
    fields = page.locator(form).evaluate(LABELS)
    for field_id, label in fields:
        assert label, f"#{field_id} has no label"
        assert page.get_by_label(label, exact=True).get_attribute("id") == field_id
    return [field_id for field_id, _ in fields]


def choose(page: Any, field_id: str, value: str) -> None:
    """Pick an option of the focused <select> with the arrow keys."""
    options = page.locator(f"#{field_id}").evaluate(OPTIONS)
    now = options.index(page.locator(f"#{field_id}").input_value())
    key = "ArrowDown" if options.index(value) >= now else "ArrowUp"
    for _ in range(abs(options.index(value) - now)):
        page.keyboard.press(key)
    assert page.locator(f"#{field_id}").input_value() == value


def tab_through(page: Any, fill: dict[str, str], last: str) -> list[str]:
    """Tab from the top of the page to `last`, filling each field on the way (text is
    typed, options picked with the arrows, boxes ticked with the space bar); the ids
    focused, in order."""
    seen: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = str(page.evaluate(FOCUSED))
        seen.append(focused)
        if focused == last:
            return seen
        value = fill.get(focused)
        if value is None:
            continue
        kind = page.locator(f"#{focused}").evaluate("(el) => el.type")
        if kind.startswith("select"):
            choose(page, focused, value)
        elif kind == "checkbox":
            page.keyboard.press("Space")
        else:
            page.keyboard.type(value)
    raise AssertionError(f"never reached #{last}: {seen}")


def status_link(html: str) -> str:
    found = re.findall(r'id="status-link" href="([^"]+)"', html)
    assert len(found) == 1, html
    return str(found[0]).replace("&amp;", "&")


def ask(site: Site, content_id: str, question: str) -> int:
    platform = site.system.platform_named("testnet")
    case_id = int(site.system.content_state(platform, content_id)["case_id"])
    reason = site.system.policy.reasons["request_information"][0]
    answer = site.client.post(f"/v1/cases/{case_id}/decisions",
                              headers=site.keys.bearer("moderator"), json={
                                  "outcome": "request_information", "reason": reason,
                                  "question": question})
    assert answer.status_code == 200, answer.text
    return case_id


# --- the report, its receipt, the status page and the answer --------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_report_status_and_answer_in_each_language(site: Site, language: str) -> None:
    category, relation, email, statement = REPORTS[language]
    content_id = f"post-{language}"
    register(site.client, site.keys.api, content_id, seed=300 + LANGUAGES.index(language))
    page = site.page()
    page.goto(f"{site.url}/report?lang={language}&platform=testnet&content={content_id}")
    in_language(page, language)
    assert labelled(page, "form[method=post]") == REPORT_FIELDS
    assert page.locator("#content").input_value() == content_id  # the platform's prefill
    assert page.locator("#language").input_value() == language
    fill = {"category": category, "relation": relation, "case_numbers": "PD-1\nPD-2",
            "text": "It was posted by a stranger.", "contact_email": email}
    if statement:
        fill |= {"good_faith_statement": "tick", "signature": "Ana Example"}
    seen = tab_through(page, {k: v for k, v in fill.items() if v}, last="send")
    assert [s for s in seen if s in REPORT_FIELDS] == REPORT_FIELDS  # focus order
    if SCREENSHOTS and language == "en":
        page.screenshot(path=f"{SCREENSHOTS}/report-page.png", full_page=True)
    page.keyboard.press("Enter")

    page.wait_for_selector("#received")
    in_language(page, language, picker=False)
    assert page.locator("a[href*='token=']").count() == 1  # the status link, once
    link = page.locator("#status-link")
    assert link.inner_text() == site.url + link.get_attribute("href")
    if statement:
        assert page.locator("#take-it-down").get_attribute("data-valid") == "true"
    else:
        assert page.locator("#take-it-down").count() == 0
    site.system.settle()

    link.click()
    page.wait_for_selector("#timeline")
    in_language(page, language)  # the report's language: the link names none
    steps = page.locator("#timeline li").count()
    assert steps >= 1 and page.locator("#question").count() == 0

    question = "Which account posted it, if you know?"
    case_id = ask(site, content_id, question)
    page.reload()
    assert page.locator("#status").get_attribute("data-status") == "information_requested"
    assert page.locator("#question").inner_text() == question
    assert page.locator("#timeline li").count() == steps + 1
    if SCREENSHOTS and language == "en":
        page.screenshot(path=f"{SCREENSHOTS}/status-page.png", full_page=True)
    assert labelled(page, "#question-box form") == ["answer", "answer_case_numbers"]
    answer = f"The account is @someone-{language}."
    seen = tab_through(page, {"answer": answer, "answer_case_numbers": "PD-3"},
                       last="send-answer")
    assert seen.index("answer") < seen.index("answer_case_numbers")
    page.keyboard.press("Enter")

    page.wait_for_selector("#answered")
    in_language(page, language)
    assert page.locator("#timeline li").count() == steps + 2
    detail = site.client.get(f"/v1/cases/{case_id}", headers=site.keys.bearer("moderator"))
    assert answer in detail.text and "PD-3" in detail.text


def test_a_form_without_content_shows_the_error_beside_the_field(site: Site) -> None:
    page = site.page()
    page.goto(f"{site.url}/report?lang=es")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.click("#send")
    assert sent.value.status == 422  # a page, not a 500
    in_language(page, "es")
    error = page.locator("#content-error")
    assert error.is_visible()
    content = page.locator("#content")
    assert content.get_attribute("aria-invalid") == "true"
    assert "content-error" in content.get_attribute("aria-describedby")
    # The error sits with its field, and the summary at the top links to it.
    assert page.locator(".field.has-error #content-error").count() == 1
    assert page.locator(".error-summary a[href='#content']").count() == 1


def test_take_it_down_request_without_signature_says_what_is_missing(
        client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "intimate", seed=320)
    receipt = client.post("/report?lang=de", data={
        "content": "intimate", "category": "non_consensual_intimate_imagery",
        "relation": "depicted_person", "contact_email": "me@example.org",
        "good_faith_statement": "yes", "language": "de"})
    assert receipt.status_code == 200, receipt.text
    assert '<html lang="de">' in receipt.text
    assert 'data-valid="false"' in receipt.text
    assert re.findall(r'data-missing="(\w+)"', receipt.text) == ["signature"]
    client.app.state.takedown.settle()  # type: ignore[attr-defined]
    status = client.get(status_link(receipt.text))  # stored, and tells the same
    assert status.status_code == 200
    assert re.findall(r'data-missing="(\w+)"', status.text) == ["signature"]


@pytest.mark.parametrize("settings", ["2/minute"], indirect=True)
def test_too_many_reports_get_a_429_page_in_their_language(client: TestClient,
                                                          keys: Keys) -> None:
    register(client, keys.api, "p", seed=321)
    form = {"content": "p", "category": "terms_violation", "relation": "other_user"}
    sent = [client.post("/report?lang=fr", data=form) for _ in range(3)]
    assert [s.status_code for s in sent] == [200, 200, 429]
    refused = sent[2]
    assert int(refused.headers["Retry-After"]) >= 1
    assert '<html lang="fr">' in refused.text and 'id="limited"' in refused.text
    assert ">p</textarea>" in refused.text  # what they typed is still there
    link = status_link(sent[0].text)
    assert all(client.get(link).status_code == 200 for _ in range(5))  # never limited


# --- fingerprints made on the reporter's own device -----------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_fingerprints_leave_the_device_not_the_file(site: Site, language: str,
                                                    tmp_path: Path) -> None:
    photo = generated_photo(330 + LANGUAGES.index(language), (480, 360))
    video = b"not really a video, only bytes to fingerprint " * 2000
    (tmp_path / "mine.png").write_bytes(photo)
    (tmp_path / "mine.mp4").write_bytes(video)
    page = site.page()
    bodies: list[bytes] = []
    page.on("request", lambda r: bodies.append(r.post_data_buffer or b""))
    page.goto(f"{site.url}/report/hash?lang={language}")
    in_language(page, language)
    assert labelled(page, "#hash-form") == ["own-files", "relation", "contact_email",
                                            "language"]
    assert page.locator("#own-files").get_attribute("name") is None
    page.set_input_files("#own-files", [str(tmp_path / "mine.png"), str(tmp_path / "mine.mp4")])
    page.wait_for_function(ONE_HASH_PER_FILE, arg=2)
    tab_through(page, {"relation": "depicted_person"}, last="send")
    page.keyboard.press("Enter")

    page.wait_for_selector("#received")
    in_language(page, language, picker=False)
    sent = [b for b in bodies if b]
    assert sent and all(photo[:64] not in b and video[:64] not in b for b in sent)
    site.system.settle()
    with site.system.db.transaction() as s:
        banked = {(e.signal_type, e.value) for e in s.scalars(
            select(BankEntryRow).where(BankEntryRow.bank == "self_reported"))}
    assert ("md5", hashlib.md5(video).hexdigest()) in banked
    assert [kind for kind, _ in banked].count("pdq") == 1

    upload = site.client.post("/v1/content", headers=site.keys.api, json={
        "content_id": f"upload-{language}", "author_id": "someone", "created_at": WHEN,
        "media": [{"data_base64": base64.b64encode(photo).decode()}]})
    assert upload.json()["verdict"] == "restrict", upload.text
    page.locator("#status-link").click()
    page.wait_for_selector("#timeline")
    assert page.locator("#status").get_attribute("data-status") == "restricted"


def test_bad_answers_are_shown_beside_their_fields(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "known", seed=322)
    form = {"content": "known", "category": "terms_violation", "relation": "other_user"}
    for change, field in (({"content": "no-such-post"}, "content"),
                          ({"text": "a\x00b"}, "text"),  # no database stores it
                          ({"contact_email": "not an address"}, "contact_email"),
                          ({"age_at_time": "15", "age_now": "12"}, "age_now"),
                          ({"age_now": "twelve"}, "age_now"),
                          ({"case_numbers": "x" * 101}, "case_numbers")):
        refused = client.post("/report?lang=de", data={**form, **change})
        assert refused.status_code == 422, (change, refused.text)
        assert re.findall(r'class="field-error" id="([\w-]+)-error"', refused.text) == [field]
        assert f'aria-describedby="{field}-error"' in refused.text or \
            f'{field}-hint {field}-error' in refused.text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_reporter_appeals_a_dismissal_from_the_status_page(site: Site, language: str) -> None:
    """DSA Art. 20: the reporter asks for another review; someone else decides it; the
    page says so, in the reporter's language."""
    register(site.client, site.keys.api, "fine", seed=323)
    receipt = site.client.post(f"/report?lang={language}", data={
        "content": "fine", "category": "terms_violation", "relation": "other_user",
        "language": language})
    site.system.settle()
    link = status_link(receipt.text)
    assert 'id="appeal-box"' not in site.client.get(link).text  # nothing decided yet
    case = site.client.get("/v1/cases", headers=site.keys.bearer("moderator")).json()[0]
    reason = site.system.policy.reasons["no_violation"][0]
    site.client.post(f"/v1/cases/{case['id']}/decisions", headers=site.keys.bearer("moderator"),
                     json={"outcome": "no_violation", "reason": reason})
    page = site.page()
    page.goto(site.url + link)
    in_language(page, language)
    assert page.locator("#status").get_attribute("data-status") == "no_violation"
    page.locator("#send-appeal").click()  # empty: the error is beside the field
    page.wait_for_selector("#appeal-error")
    page.locator("#appeal").fill("It is my picture, posted to mock me.")
    page.locator("#send-appeal").click()
    page.wait_for_selector("#appealed")
    in_language(page, language)
    assert page.locator(".appeal-status").get_attribute("data-status") == "open"
    assert page.locator("#send-appeal").count() == 0  # one appeal at a time
    appeal = site.client.get("/v1/appeals", headers=site.keys.bearer("admin")).json()[0]
    assert appeal["appellant"] == "reporter" and appeal["may_decide"]
    decided = site.client.post(f"/v1/appeals/{appeal['appeal_id']}/decision",
                               headers=site.keys.bearer("admin"),
                               json={"outcome": "upheld", "reason": "An ordinary meme."})
    assert decided.status_code == 200, decided.text
    page.reload()
    assert page.locator(".appeal-status").get_attribute("data-status") == "upheld"
    assert "An ordinary meme." in page.locator(".appeal-status").inner_text()
    assert page.refused == []


def test_the_language_is_the_one_chosen_else_the_reports_else_the_browsers(
        client: TestClient, keys: Keys) -> None:
    def lang(url: str, accept: str = "") -> str:
        page = client.get(url, headers={"Accept-Language": accept} if accept else {})
        assert page.status_code == 200, page.text
        return str(re.findall(r'<html lang="(\w+)">', page.text)[0])

    assert lang("/report") == "en"
    assert lang("/report/hash", "es-MX,es;q=0.9,en;q=0.5") == "es"
    assert lang("/report?lang=fr", "es") == "fr"
    register(client, keys.api, "lang", seed=324)
    receipt = client.post("/report?lang=fr", data={
        "content": "lang", "category": "terms_violation", "relation": "other_user",
        "language": "de"})
    link = status_link(receipt.text)
    assert lang(link, "es") == "de"  # the report's language, over the browser's
    assert lang(f"{link}&lang=es", "fr") == "es"
