"""The console in a real browser: Playwright driving Debian's chromium, headless, on a
real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from takedown.api.app import create_app
from takedown.server import BackgroundServer, free_port
from takedown.system import Takedown
from tests.web.browser import CHROMIUM, Console, add_reviewers


@pytest.fixture
def console(system: Takedown) -> Iterator[Console]:
    from playwright.sync_api import sync_playwright

    add_reviewers(system)
    port = free_port()
    with BackgroundServer(create_app(system, run_workers=False), port) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield Console(server.url, system, browser)
        browser.close()
