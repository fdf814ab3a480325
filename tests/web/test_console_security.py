"""The console's defences: sign-in limits, trusted proxies, cookies, security headers,
server-blurred previews, and case numbers the database cannot hold. Through Starlette's
TestClient (whose peer address is "testclient"), and one check in a real browser that
the pages work under their Content-Security-Policy."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from sqlalchemy import select

from takedown.api.app import create_app
from takedown.demo.edits import generated_video
from takedown.demo.media import generated_photo
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Category, Relation, Role
from takedown.errors import Unauthorized
from takedown.store.tables import AuditEntryRow
from takedown.system import Takedown
from takedown.web.session import SESSION_COOKIE
from takedown.web.throttle import SignInLimiter, Throttled
from tests.web.browser import (
    CLEAR_LOADED,
    HAVE_CHROMIUM,
    NO_CHROMIUM,
    Console,
    add_reviewers,
    make_case,
    post_sign_in,
    sign_in,
)

OpenConsole = Callable[..., TestClient]
ANA = Reviewer(id="ana", role=Role.CHILD_SAFETY_SPECIALIST)
BEYOND = ("99999999999999999999", str(2**31), str(2**62), "0")  # no case can have these


@pytest.fixture
def open_console(system: Takedown) -> Iterator[OpenConsole]:
    """A TestClient on the console, with settings changed from the `system` fixture's
    (a second service object on the same database)."""
    add_reviewers(system)
    with ExitStack() as stack:
        def open_(base_url: str = "http://testserver", **changes: Any) -> TestClient:
            service = Takedown(system.settings.with_(**changes)) if changes else system
            if service is not system:
                stack.callback(service.close)
            return stack.enter_context(TestClient(create_app(service, run_workers=False),
                                                  base_url=base_url))
        yield open_


def audited(system: Takedown, action: str) -> list[tuple[str, str]]:
    with system.db.transaction() as s:
        return [(e.actor, e.source) for e in s.scalars(
            select(AuditEntryRow).where(AuditEntryRow.action == action)
            .order_by(AuditEntryRow.id))]


def cookie(answer: Response, name: str) -> str:
    return next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}="))


def signed_in(answer: Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"] == "/console/"


def refused_wrong(answer: Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].endswith("error=1")


# --- sign-in limits ---------------------------------------------------------------


def test_failed_sign_ins_lock_the_account_even_for_the_right_password(
        open_console: OpenConsole, system: Takedown) -> None:
    client = open_console()  # the defaults: 5 failures a minute per account
    assert all(refused_wrong(post_sign_in(client, "ana", f"guess {n}")) for n in range(5))
    throttled = post_sign_in(client, "ana", "guess 6")
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert "Too many failed sign-ins. Try again in 1 minute (after" in throttled.text
    right = post_sign_in(client, "ana")  # no oracle: the right password is refused too
    assert right.status_code == 429 and SESSION_COOKIE not in right.headers["set-cookie"]
    assert audited(system, "sign_in_throttled") == [("ana", "testclient")] * 2
    assert len(audited(system, "sign_in_failed")) == 5
    assert signed_in(post_sign_in(client, "max"))  # another account from the same address


def test_successful_sign_ins_do_not_count(open_console: OpenConsole) -> None:
    client = open_console(signin_limit_account="2/minute", signin_limit_address="2/minute")
    assert all(signed_in(post_sign_in(client, "ana")) for _ in range(3))
    assert all(refused_wrong(post_sign_in(client, "ana", "wrong")) for _ in range(2))
    assert post_sign_in(client, "ana").status_code == 429


def test_rotating_forwarded_for_from_an_untrusted_peer_is_still_one_address(
        open_console: OpenConsole, system: Takedown) -> None:
    client = open_console(signin_limit_address="2/minute", trusted_proxies="10.0.0.1")
    for n in range(2):
        forged = {"X-Forwarded-For": f"198.51.100.{n}"}
        assert refused_wrong(post_sign_in(client, f"user{n}", "x", forged))
    answer = post_sign_in(client, "ben", headers={"X-Forwarded-For": "198.51.100.9"})
    assert answer.status_code == 429  # a new name and a new forged address: same peer
    assert {source for _, source in audited(system, "sign_in_failed")} == {"testclient"}


def test_behind_a_trusted_proxy_the_forwarded_client_counts(
        open_console: OpenConsole, system: Takedown) -> None:
    client = open_console(signin_limit_address="2/minute", signin_limit_account="3/minute",
                          trusted_proxies="10.0.0.1, testclient")
    first, second = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    assert refused_wrong(post_sign_in(client, "ana", "x", first))
    assert refused_wrong(post_sign_in(client, "ben", "x", first))
    assert post_sign_in(client, "max", headers=first).status_code == 429
    assert refused_wrong(post_sign_in(client, "ana", "x", second))  # another client
    assert audited(system, "sign_in_failed") == [
        ("ana", "203.0.113.7"), ("ben", "203.0.113.7"), ("ana", "203.0.113.8")]
    third = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}  # the proxy's own: last
    assert refused_wrong(post_sign_in(client, "ana", "x", third))
    assert audited(system, "sign_in_failed")[-1] == ("ana", "203.0.113.9")
    # the account's own limit holds whichever address the guesses come from
    assert post_sign_in(client, "ana", headers={"X-Forwarded-For": "203.0.113.10"}) \
        .status_code == 429


def test_parallel_guesses_cannot_overtake_the_limit() -> None:
    limiter = SignInLimiter("3/minute", "100/minute")
    checked: list[int] = []
    outcomes: list[str] = []

    def wrong_password() -> None:
        checked.append(1)
        time.sleep(0.2)  # a slow password hash: every guess is in flight at once
        raise Unauthorized("wrong name or password")

    def guess() -> None:
        try:
            limiter.guard("ana", "192.0.2.1", wrong_password)
        except Unauthorized:
            outcomes.append("wrong")
        except Throttled as exc:
            outcomes.append(f"throttled {exc.retry_after > 0}")

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == 3
    assert sorted(outcomes) == ["throttled True"] * 7 + ["wrong"] * 3
    assert not limiter.in_flight  # nothing left behind


def test_a_very_long_name_is_refused_not_an_error(open_console: OpenConsole,
                                                  system: Takedown) -> None:
    client = open_console()
    assert refused_wrong(post_sign_in(client, "a" * 5000, "x"))
    assert audited(system, "sign_in_failed") == [("a" * 200, "testclient")]


def test_control_characters_in_the_sign_in_form_are_refused_not_an_error(
        open_console: OpenConsole) -> None:
    client = open_console()
    for name, password in (("ana\x00", "x"), ("ana", "pass\x00word")):
        answer = post_sign_in(client, name, password)
        assert 400 <= answer.status_code < 500, answer.status_code


# --- cookies ------------------------------------------------------------------------


def test_the_session_cookie_is_secure_behind_a_trusted_tls_proxy(
        open_console: OpenConsole) -> None:
    tls = {"X-Forwarded-Proto": "https"}
    behind_proxy = post_sign_in(open_console(trusted_proxies="testclient"), "ana",
                                headers=tls)
    session = cookie(behind_proxy, SESSION_COOKIE).lower()
    assert signed_in(behind_proxy)
    assert "; secure" in session and "; httponly" in session and "samesite=strict" in session
    direct = post_sign_in(open_console(base_url="https://testserver"), "ana")
    assert "; secure" in cookie(direct, SESSION_COOKIE).lower()
    forged = post_sign_in(open_console(), "ana", headers=tls)  # not from a trusted proxy
    session = cookie(forged, SESSION_COOKIE).lower()
    assert "; secure" not in session and "; httponly" in session and "samesite=strict" in session


# --- headers ------------------------------------------------------------------------


def signed_in_client(open_console: OpenConsole, user: str = "ana") -> TestClient:
    client = open_console()
    assert signed_in(post_sign_in(client, user))
    return client


def assert_console_headers(answer: Response) -> None:
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def test_console_pages_and_media_carry_security_headers(open_console: OpenConsole,
                                                         system: Takedown) -> None:
    case_id = make_case(system, "pic", category=Category.TERMS_VIOLATION)
    client = signed_in_client(open_console)
    url = media_url(system, case_id)
    pages = ["/console/login", "/console/", f"/console/cases/{case_id}", url, f"{url}/clear",
             "/console/cases/123456"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == (404 if path.endswith("123456") else 200), path
        assert_console_headers(answer)
    style = client.get("/console/static/console.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert client.get("/console/static/console.js").status_code == 200


def test_the_api_and_the_docs_get_fitting_headers(open_console: OpenConsole) -> None:
    client = open_console()
    health = client.get("/healthz")
    assert health.headers["content-security-policy"] == "default-src 'none'; " \
                                                        "frame-ancestors 'none'"
    assert health.headers["x-content-type-options"] == "nosniff"
    assert health.headers["cache-control"] == "no-store"
    docs = client.get("/docs")  # Swagger UI runs inline code: it may only not be framed
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert docs.headers["x-frame-options"] == "DENY"


def test_console_pages_have_no_inline_code(open_console: OpenConsole,
                                           system: Takedown) -> None:
    case_id = make_case(system, "pic", category=Category.TERMS_VIOLATION,
                        text="<script>alert(1)</script>")
    client = signed_in_client(open_console)
    for path in ("/console/login", "/console/", f"/console/cases/{case_id}"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path


# --- blurred previews ---------------------------------------------------------------


def sharpness(jpeg: bytes) -> float:
    """Variance of the Laplacian: high-frequency energy, what blurring takes away."""
    grey = np.asarray(Image.open(io.BytesIO(jpeg)).convert("L"), dtype=float)
    laplacian = (4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1]
                 - grey[1:-1, :-2] - grey[1:-1, 2:])
    return float(laplacian.var())


def is_grey(jpeg: bytes) -> bool:
    image = Image.open(io.BytesIO(jpeg))
    if image.mode == "L":
        return True
    rgb = np.asarray(image.convert("RGB"), dtype=int)
    return bool(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max() <= 2)


def media_url(system: Takedown, case_id: int) -> str:
    sha = system.case_detail(case_id, ANA)["media"][0]["sha256"]
    return f"/console/cases/{case_id}/media/{sha}"


def test_the_default_preview_is_blurred_and_grey_and_the_clear_one_is_counted(
        open_console: OpenConsole, system: Takedown) -> None:
    case_id = make_case(system, "pic", category=Category.CHILD_SEXUAL_ABUSE,
                        relation=Relation.DEPICTED_PERSON,
                        media=generated_photo(7, (1024, 768)))
    client, url = signed_in_client(open_console), media_url(system, case_id)
    blurred = client.get(url)
    assert blurred.headers["content-type"] == "image/jpeg" and is_grey(blurred.content)
    assert max(Image.open(io.BytesIO(blurred.content)).size) == 320
    assert system.media_views_today(ANA) == 0  # no view counted
    clear = client.get(f"{url}/clear")
    assert clear.status_code == 200 and not is_grey(clear.content)
    assert blurred.content != clear.content
    assert sharpness(blurred.content) < sharpness(clear.content) / 20
    assert system.media_views_today(ANA) == 1
    assert [a for a, _ in audited(system, "media_previewed")] == ["ana"]
    assert [a for a, _ in audited(system, "media_viewed")] == ["ana"]
    page = client.get(f"/console/cases/{case_id}").text
    assert f'<img src="{url}"' in page and f'data-clear="{url}/clear"' in page


def test_a_video_is_a_blurred_still_until_the_reviewer_asks_for_it(
        open_console: OpenConsole, system: Takedown) -> None:
    video = generated_video(3, seconds=2)
    case_id = make_case(system, "clip", category=Category.TERMS_VIOLATION, media=video)
    client, url = signed_in_client(open_console), media_url(system, case_id)
    page = client.get(f"/console/cases/{case_id}").text
    assert "<video" not in page and f'<img src="{url}"' in page
    still = client.get(url)
    assert still.headers["content-type"] == "image/jpeg" and is_grey(still.content)
    assert sharpness(still.content) < 5
    assert audited(system, "media_viewed") == []
    clear = client.get(f"{url}/clear")
    assert clear.headers["content-type"] == "video/mp4" and clear.content == video
    assert len(audited(system, "media_viewed")) == 1


def test_media_need_a_session(open_console: OpenConsole, system: Takedown) -> None:
    case_id = make_case(system, "pic", category=Category.TERMS_VIOLATION)
    url = media_url(system, case_id)
    client = open_console()
    assert client.get(url).status_code == 401
    assert client.get(f"{url}/clear").status_code == 401


# --- ids the database cannot hold ------------------------------------------------------


def test_case_numbers_beyond_the_database_give_pages_not_errors(
        open_console: OpenConsole) -> None:
    client = signed_in_client(open_console)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/").text)
    assert csrf
    for number in (*BEYOND, "abc"):
        page = client.get(f"/console/cases/{number}")
        assert page.status_code == 404 and "There is no such page." in page.text, number
        assert page.headers["content-type"].startswith("text/html")
        assert client.get(f"/console/cases/{number}/media/{'0' * 64}").status_code == 404
        claim = client.post(f"/console/cases/{number}/claim", data={"csrf": csrf[1]})
        assert claim.status_code == 404
        decide = client.post(f"/console/cases/{number}/decide",
                             data={"csrf": csrf[1], "outcome": "violation"})
        assert decide.status_code == 404
        many = client.post("/console/decide-many", follow_redirects=False,
                           data={"csrf": csrf[1], "outcome": "violation", "case": number})
        assert many.status_code == 303 and "choose+cases" in many.headers["location"]
        mark = client.post("/console/reporters/k/abusive",
                           data={"csrf": csrf[1], "back": number, "reason": "flood"})
        assert mark.status_code == 422 and "not understood" in mark.text


def test_the_largest_case_number_is_simply_not_found(open_console: OpenConsole) -> None:
    client = signed_in_client(open_console)
    assert client.get(f"/console/cases/{2**31 - 1}").status_code == 404  # the largest id


# --- in a real browser ----------------------------------------------------------------


@pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
def test_the_console_works_under_its_content_security_policy(console: Console) -> None:
    photo = make_case(console.system, "pic", category=Category.TERMS_VIOLATION)
    clip = make_case(console.system, "clip", category=Category.TERMS_VIOLATION,
                     media=generated_video(5, seconds=2))
    page = console.page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    sign_in(page, console.url, "max")
    assert page.locator("header").evaluate(
        "h => getComputedStyle(h).backgroundColor") == "rgb(35, 42, 59)"  # the stylesheet
    page.goto(f"{console.url}/console/cases/{photo}")
    page.click("button[data-toggle=blurred]")  # the script swaps in the clear preview
    page.wait_for_function(CLEAR_LOADED)
    page.goto(f"{console.url}/console/cases/{clip}")
    page.click("button[data-toggle=grey]")
    page.wait_for_selector(".media-item video")
    assert page.locator("#views-today").inner_text() == "2"
    assert not [m for m in messages if "Content Security Policy" in m], messages
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.injected = 1'; document.body.append(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.injected") is None  # inline script: refused
    assert [m for m in messages if "Content Security Policy" in m]  # and reported
