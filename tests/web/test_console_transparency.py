"""The console's transparency report in a real browser (Playwright driving Debian's
chromium): an admin picks a period and sees the figures and three charts, drawn on the
server as SVG and shown, in colour, under the console's Content-Security-Policy; the
downloads are the report itself. A moderator is refused, and the refusal is audited."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
from PIL import Image
from sqlalchemy import select

from takedown.legal.transparency import compute, to_json
from takedown.store.tables import AuditEntryRow
from takedown.system import Takedown
from tests.legal.test_transparency import MARCH, NCII, Clock, Scenario, replay_march
from tests.web.browser import HAVE_CHROMIUM, NO_CHROMIUM, Console

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
# A function, not an expression: the console's policy refuses eval().
CHARTS_LOADED = """() => { const charts = [...document.querySelectorAll('figure img')];
    return charts.length === 3 && charts.every(i => i.complete && i.naturalWidth > 0); }"""
SCREENSHOTS = os.environ.get("TAKEDOWN_SCREENSHOTS")  # a folder: docs/ when refreshing
BAR = (0x1F, 0x5F, 0xA8)  # legal.charts.COLOURS[0]: p50 bars, reports bars


@pytest.fixture
def replayed(console: Console, monkeypatch: pytest.MonkeyPatch) -> Console:
    clock = Clock()
    monkeypatch.setattr("takedown.cases.casebook.utcnow", clock)
    replay_march(Scenario(console.system, clock))
    return console


def audited(system: Takedown, action: str) -> list[str]:
    with system.db.transaction() as s:
        return [e.actor for e in s.scalars(
            select(AuditEntryRow).where(AuditEntryRow.action == action))]


def coloured(png: bytes, colour: tuple[int, int, int]) -> int:
    """How many pixels are (about) this colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    found = 0
    for count, pixel in image.getcolors(maxcolors=1 << 24) or []:
        assert isinstance(pixel, tuple)
        if all(abs(a - b) <= 6 for a, b in zip(pixel, colour, strict=True)):
            found += count
    return found


def test_an_admin_sees_the_report_with_its_charts(replayed: Console) -> None:
    page = replayed.page("ada")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.click("header a:has-text('Transparency')")
    assert page.locator("h1").inner_text() == "Transparency report"
    page.fill("input[name=from]", "2025-03-01")
    page.fill("input[name=to]", "2025-03-31")
    page.click("#show-report")
    assert "2025-03-01" in page.locator("#period").inner_text()
    page.wait_for_function(CHARTS_LOADED)
    assert not errors  # nothing refused by the Content-Security-Policy

    row = page.locator(f"#time_to_hidden_s tr[data-key={NCII}] td")
    assert row.nth(1).inner_text() == "2.0 min"  # p50, 120 s
    assert row.nth(2).inner_text() == "10.0 min"  # p90, 600 s
    assert row.nth(4).inner_text() == "60.0 min"  # max, 3600 s
    assert page.locator(f"#time_to_removal_s tr[data-key={NCII}] td").nth(1).inner_text() \
        == "32.0 min"  # p50, 1920 s
    assert page.locator("#cases-opened").inner_text() == "11"
    assert page.locator("#reuploads-blocked").inner_text() == "2"

    html = page.request.get(page.url).text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html)
    for chart in page.locator("figure img").all():
        source = chart.get_attribute("src") or ""
        assert source.startswith("/console/transparency/charts/") and ".svg?" in source
        assert chart.get_attribute("alt")
        answer = page.request.get(replayed.url + source)
        assert answer.headers["content-type"].startswith("image/svg+xml")
        svg = answer.text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        assert "example.org" not in svg and "Person" not in svg  # nothing personal
        # Drawn in colour: the SVG's own styles apply inside an <img>.
        assert coloured(chart.screenshot(), BAR) > 200, source

    with replayed.system.db.transaction() as s:
        expected = to_json(compute(s, replayed.system.policy, MARCH))
    download = page.request.get(
        f"{replayed.url}/console/transparency/report.json?from=2025-03-01&to=2025-03-31")
    assert download.status == 200 and download.text() == expected
    assert "attachment" in download.headers["content-disposition"]
    csv = page.request.get(
        f"{replayed.url}/console/transparency/report.csv?from=2025-03-01&to=2025-03-31")
    assert csv.text().startswith("section,category,name,value")
    assert "ada" in audited(replayed.system, "transparency_report_viewed")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/console-transparency.png", full_page=True)


def test_a_moderator_is_refused(replayed: Console) -> None:
    page = replayed.page("max")
    assert page.locator("header a:has-text('Transparency')").count() == 0
    answer = page.goto(f"{replayed.url}/console/transparency?from=2025-03-01&to=2025-03-31")
    assert answer is not None and answer.status == 403
    assert "for admins" in page.get_by_role("alert").inner_text()
    chart = page.request.get(f"{replayed.url}/console/transparency/charts/appeals.svg"
                             "?from=2025-03-01&to=2025-03-31")
    assert chart.status == 403 and "<svg" not in chart.text()
    download = page.request.get(f"{replayed.url}/console/transparency/report.json")
    assert download.status == 403
    with pytest.raises(json.JSONDecodeError):
        json.loads(download.text())
    assert audited(replayed.system, "access_denied").count("max") == 3
    assert "max" not in audited(replayed.system, "transparency_report_viewed")


def test_a_period_that_ends_before_it_starts_is_a_page_saying_so(replayed: Console) -> None:
    page = replayed.page("ada")
    answer = page.goto(f"{replayed.url}/console/transparency?from=2025-03-31&to=2025-03-01")
    assert answer is not None and answer.status == 422
    assert "before it starts" in page.get_by_role("alert").inner_text()
    not_a_day = page.goto(f"{replayed.url}/console/transparency?from=March")
    assert not_a_day is not None and not_a_day.status == 422
