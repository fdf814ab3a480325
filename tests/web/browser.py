"""Helpers for the console's tests: reviewers, cases with media, signing in (in
Playwright driving Debian's chromium, or through a TestClient)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response

from takedown.api.app import create_app
from takedown.cases.intake import ReportSubmission
from takedown.demo.media import generated_photo
from takedown.domain.vocabulary import Category, Relation, Role
from takedown.media.intake import MediaInput
from takedown.platform.content import ContentSubmission
from takedown.server import BackgroundServer, free_port
from takedown.system import Takedown
from takedown.web.session import LOGIN_COOKIE
from tests.conftest import Keys, Receiver
from tests.helpers import WHEN

CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = f"{CHROMIUM} missing: `make test` installs it"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
PASSWORD = "a long passphrase for tests"
# A function, not an expression: Playwright polls an expression with eval(), which the
# console's Content-Security-Policy refuses.
CLEAR_LOADED = """() => { const image = document.querySelector('.media-item img');
    return image.src.endsWith('/clear') && image.complete && image.naturalWidth > 0; }"""
REVIEWERS = (("ana", Role.CHILD_SAFETY_SPECIALIST), ("ben", Role.CHILD_SAFETY_SPECIALIST),
             ("max", Role.MODERATOR), ("ada", Role.ADMIN))


def reviewer_keys(system: Takedown, receiver: Receiver) -> Keys:
    """The API's keys, for users who can also sign in to the console."""
    key, _ = system.add_platform("testnet", receiver.url, webhook_secret=receiver.secret)

    def user(name: str, role: Role) -> str:
        return system.add_user(name, role, password=PASSWORD)

    return Keys(platform=key, specialist=user("ana", Role.CHILD_SAFETY_SPECIALIST),
                specialist2=user("ben", Role.CHILD_SAFETY_SPECIALIST),
                moderator=user("max", Role.MODERATOR), admin=user("ada", Role.ADMIN),
                liaison=user("lee", Role.LIAISON))


@contextmanager
def running_console(system: Takedown) -> Iterator[Console]:
    """The console on a real HTTP server, and Chromium to drive it."""
    from playwright.sync_api import sync_playwright

    with BackgroundServer(create_app(system, run_workers=False), free_port()) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield Console(server.url, system, browser)
        browser.close()


def add_reviewers(system: Takedown) -> None:
    for name, role in REVIEWERS:
        system.add_user(name, role, password=PASSWORD)
    system.add_platform("net", "http://127.0.0.1:9/hook")


@dataclass
class Console:
    url: str
    system: Takedown
    browser: object

    def page(self, user: str | None = None):  # type: ignore[no-untyped-def]
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        page = context.new_page()
        if user:
            sign_in(page, self.url, user)
        return page


def sign_in(page, url: str, user: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/console/login")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")


def post_sign_in(client: TestClient, user: str, password: str = PASSWORD,
                 headers: dict[str, str] | None = None) -> Response:
    """One sign-in through the form, as a browser would: the form and its token, then the
    post, not followed (so that its status and cookies can be checked). The token goes
    back in an explicit Cookie header: the client's jar would hold back a Secure one
    over plain HTTP, which is how the tests reach an app behind a pretended TLS proxy."""
    form = client.get("/console/login", headers=headers)
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found, form.text
    answer: Response = client.post(
        "/console/login", follow_redirects=False,
        headers={**(headers or {}), "Cookie": f"{LOGIN_COOKIE}={found[1]}"},
        data={"name": user, "password": password, "csrf": found[1]})
    return answer


def when() -> datetime:
    return datetime.fromisoformat(WHEN.replace("Z", "+00:00"))


def make_case(system: Takedown, content_id: str, *, category: Category,
              relation: Relation = Relation.OTHER_USER, text: str = "",
              seed: int = 1, email: str | None = None, media: bytes | None = None) -> int:
    platform = system.platform_named("net")
    data = media if media is not None else generated_photo(seed, (480, 360))
    system.register_content(platform, ContentSubmission(content_id, f"acct-{content_id}",
                                                        when()), [MediaInput(data=data)])
    system.submit_report(ReportSubmission(category=category, relation=relation,
                                          content_ids=[content_id], text=text,
                                          contact_email=email), None, {})
    system.settle()
    return int(system.content_state(platform, content_id)["case_id"])
