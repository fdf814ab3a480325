"""The platform API: registration, hashes, limits, reach."""

import base64
import hashlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takedown.demo.media import generated_photo
from takedown.system import Takedown
from tests.conftest import Keys
from tests.helpers import WHEN, register, report


def test_registration_needs_a_known_api_key(client: TestClient) -> None:
    body = {"content_id": "p", "author_id": "a", "created_at": WHEN}
    assert client.post("/v1/content", json=body).status_code == 401
    response = client.post("/v1/content", json=body, headers={"X-Api-Key": "tdp_wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_media_gets_exact_hashes(client: TestClient, keys: Keys) -> None:
    answer = register(client, keys.api, "p1", seed=3)
    data = generated_photo(3, (320, 240))
    assert answer["verdict"] == "allow"
    assert answer["media"] == [{"sha256": hashlib.sha256(data).hexdigest(),
                                "md5": hashlib.md5(data).hexdigest(),
                                "size": len(data), "mime": "image/jpeg"}]


def test_registration_is_idempotent(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "p1", seed=3)
    again = register(client, keys.api, "p1", seed=3, expect=200)
    assert again["created"] is False and again["verdict"] == "allow"


def test_a_repost_of_unknown_content_is_refused_clearly(client: TestClient,
                                                        keys: Keys) -> None:
    answer = register(client, keys.api, "rp", repost_of="missing", expect=422)
    assert answer["error"]["code"] == "unknown_parent"
    assert answer["error"]["fields"][0]["field"] == "repost_of"


@pytest.mark.parametrize(("media", "field"), [
    ([{"data_base64": "%%%not base64"}], "media[0].data_base64"),
    ([{"url": "ftp://example.org/x"}], "media[0].url"),
    ([{}], "media[0]"),
    ([{"data_base64": "", "url": "http://x.example/a"}], "media[0]"),
])
def test_bad_media_is_a_422_naming_it(client: TestClient, keys: Keys, media: list[object],
                                      field: str) -> None:
    body = {"content_id": "p", "author_id": "a", "created_at": WHEN, "media": media}
    response = client.post("/v1/content", json=body, headers=keys.api)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field


def test_naive_timestamps_are_refused(client: TestClient, keys: Keys) -> None:
    body = {"content_id": "p", "author_id": "a", "created_at": "2020-01-20T10:00:00"}
    response = client.post("/v1/content", json=body, headers=keys.api)
    assert response.status_code == 422
    assert "timezone" in response.text


def test_oversized_media_is_413(client: TestClient, keys: Keys, system: Takedown) -> None:
    big = base64.b64encode(b"\0" * (system.settings.max_media_bytes + 1)).decode()
    body = {"content_id": "p", "author_id": "a", "created_at": WHEN,
            "media": [{"data_base64": big}]}
    response = client.post("/v1/content", json=body, headers=keys.api)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "media_too_large"


def test_oversized_request_body_is_413_before_it_is_read(client: TestClient,
                                                         system: Takedown) -> None:
    response = client.post("/v1/reports", content=b"x" * (system.settings.max_request_bytes + 1),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/image.png":
            data = generated_photo(11, (320, 240))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/huge":
            self.send_response(200)
            self.end_headers()  # no length: streamed until the cap trips
            chunk = b"\0" * 65536
            try:
                for _ in range(1000):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/slow":
            import time

            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def files() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _register_url(client: TestClient, keys: Keys, url: str) -> tuple[int, dict[str, Any]]:
    body = {"content_id": "p", "author_id": "a", "created_at": WHEN, "media": [{"url": url}]}
    response = client.post("/v1/content", json=body, headers=keys.api)
    return response.status_code, response.json()


def test_media_is_fetched_by_url(client: TestClient, keys: Keys, files: str) -> None:
    status, answer = _register_url(client, keys, f"{files}/image.png")
    assert status == 201
    expected = hashlib.sha256(generated_photo(11, (320, 240))).hexdigest()
    assert answer["media"][0]["sha256"] == expected


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/huge", 413, "media_too_large"),
    ("/slow", 422, "media_fetch_failed"),
    ("/missing", 422, "media_fetch_failed"),
])
def test_media_fetch_is_capped_and_timed(client: TestClient, keys: Keys, files: str,
                                         path: str, status: int, code: str) -> None:
    got, answer = _register_url(client, keys, f"{files}{path}")
    assert got == status, answer
    assert answer["error"]["code"] == code


def test_unknown_content_state_is_404(client: TestClient, keys: Keys) -> None:
    response = client.get("/v1/content/nope", headers=keys.api)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_content"


def test_reach_counters_are_stored_and_growth_is_measured(client: TestClient,
                                                          keys: Keys) -> None:
    register(client, keys.api, "orig", seed=1)
    register(client, keys.api, "rp", repost_of="orig")
    report(client, content_ids=["orig"], category="non_consensual_intimate_imagery")
    bearer = keys.bearer("moderator")
    before = client.get("/v1/cases", headers=bearer).json()[0]["priority"]
    updates = [{"content_id": "orig", "views": 100, "observed_at": "2020-01-20T10:00:00Z"},
               {"content_id": "rp", "views": 50, "observed_at": "2020-01-20T10:00:00Z"},
               {"content_id": "ghost", "views": 5}]
    answer = client.post("/v1/content/reach", json={"updates": updates}, headers=keys.api)
    assert answer.json() == {"updated": 2, "unknown": ["ghost"]}
    grown = [{"content_id": "orig", "views": 50_100, "shares": 900,
              "observed_at": "2020-01-20T11:00:00Z"}]
    client.post("/v1/content/reach", json={"updates": grown}, headers=keys.api)
    stale = [{"content_id": "orig", "views": 1, "observed_at": "2020-01-20T09:00:00Z"}]
    assert client.post("/v1/content/reach", json={"updates": stale},
                       headers=keys.api).json()["updated"] == 0
    case = client.get("/v1/cases", headers=bearer).json()[0]
    assert case["priority"] > before
    detail = client.get(f"/v1/cases/{case['id']}", headers=bearer).json()
    reach = [e["data"] for e in detail["events"] if e["type"] == "reach_observed"][-1]
    assert reach == {"views": 50_150, "shares": 900, "views_per_hour": 50_000.0}


def test_reach_needs_at_least_one_update(client: TestClient, keys: Keys) -> None:
    response = client.post("/v1/content/reach", json={"updates": []}, headers=keys.api)
    assert response.status_code == 422
