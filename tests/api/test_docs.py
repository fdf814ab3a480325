"""/docs works offline: Swagger UI's files come from takedown, not from a CDN."""

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from takedown.api.app import create_app
from takedown.config import Settings
from takedown.server import BackgroundServer, free_port
from takedown.system import Takedown

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_everything_from_takedown(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html.text)
    assert len(urls) >= 3, urls  # the script, the icon, the OpenAPI (and Swagger's style)
    assert not re.search(r"https?://|//cdn|cdn\.|googleapis", html.text)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"] and len(script.content) > 100_000


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: `make test` "
                                                        "installs it")
def test_docs_render_in_a_browser_without_leaving_takedown(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    system = Takedown(Settings(data_dir=tmp_path, inprocess_workers=0))  # the page needs no data
    with BackgroundServer(create_app(system, run_workers=False), free_port()) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page()
        elsewhere: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(server.url)
                or r.url.startswith("data:") else elsewhere.append(r.url))
        page.goto(f"{server.url}/docs")
        # Rendered: Swagger UI 5 reads FastAPI's OpenAPI 3.1 (4 could not).
        page.wait_for_selector('[data-path="/v1/reports"]', timeout=20_000)
        browser.close()
    system.close()
    assert elsewhere == []
