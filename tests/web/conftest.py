"""The console in a real browser: Playwright driving Debian's chromium, headless, on a
real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from takedown.system import Takedown
from tests.web.browser import Console, add_reviewers, running_console


@pytest.fixture
def console(system: Takedown) -> Iterator[Console]:
    add_reviewers(system)
    with running_console(system) as console:
        yield console
