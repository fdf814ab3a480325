"""Bad input gets a clear 4xx naming what is wrong, never a 500: numbers beyond their
columns, text the databases cannot store, oversized or endless bodies, files that
are no picture. Each case here was a 500 (or a wrong answer) found by probing."""

from __future__ import annotations

import base64
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import httpx
import pytest
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from takedown.api import moderation, platform, reporters, reports, schemas
from takedown.api.schemas import MAX_COUNTER, MAX_ID, storable
from takedown.demo.media import generated_photo
from takedown.server import free_port
from takedown.system import Takedown
from tests.conftest import Keys
from tests.helpers import WHEN, image_b64, register, report

HUGE = "99999999999999999999"  # beyond 64 bits
REPORTER = "ab" * 32
MiB = 1024 * 1024


def _invalid(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in [f["field"] for f in error["fields"]], error


# --- integers beyond their columns ----------------------------------------------------


@pytest.mark.parametrize(("method", "url", "body", "field"), [
    ("GET", f"/v1/actions?case_id={HUGE}", None, "case_id"),
    ("GET", f"/v1/actions?case_id={2**31}", None, "case_id"),  # PostgreSQL: INTEGER ids
    ("GET", f"/v1/actions?offset={HUGE}", None, "offset"),
    ("GET", f"/v1/cases/{HUGE}", None, "case_id"),
    ("GET", f"/v1/cases/{2**40}", None, "case_id"),
    ("POST", f"/v1/cases/{2**31}/claim", None, "case_id"),
    ("POST", f"/v1/cases/{2**62}/decisions", {"outcome": "violation"}, "case_id"),
    ("POST", "/v1/cases/decisions", {"outcome": "violation", "case_ids": [1e20]},
     "case_ids[0]"),
    ("POST", "/v1/cases/decisions", {"outcome": "violation", "case_ids": [10**20]},
     "case_ids[0]"),
    ("POST", "/v1/cases/decisions", {"outcome": "violation", "case_ids": [1, 2**40]},
     "case_ids[1]"),
])
def test_ids_and_offsets_beyond_their_columns_are_422(
        client: TestClient, keys: Keys, method: str, url: str, body: Any,
        field: str) -> None:
    response = client.request(method, url, json=body, headers=keys.bearer("specialist"))
    _invalid(response, field)


def test_the_largest_id_is_merely_unknown(client: TestClient, keys: Keys) -> None:
    response = client.get(f"/v1/cases/{MAX_ID}", headers=keys.bearer("specialist"))
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "unknown_case"


def test_platform_paging_beyond_any_table_is_422(client: TestClient, keys: Keys) -> None:
    _invalid(client.get(f"/v1/platform/actions?offset={HUGE}", headers=keys.api), "offset")


@pytest.mark.parametrize(("item", "field"), [
    ({"views": 2**63}, "updates[0].views"),
    ({"views": 1, "shares": int(HUGE)}, "updates[0].shares"),
    ({"views": MAX_COUNTER + 1}, "updates[0].views"),
])
def test_counters_beyond_their_bound_are_422(client: TestClient, keys: Keys,
                                             item: dict[str, int], field: str) -> None:
    register(client, keys.api, "post")
    response = client.post("/v1/content/reach", headers=keys.api,
                           json={"updates": [{"content_id": "post", **item}]})
    _invalid(response, field)


def test_counters_at_their_bound_add_up_in_a_case(client: TestClient, keys: Keys) -> None:
    """A case sums its items' counters: SQLite's SUM fails on 64-bit overflow, which
    two counters near 2**63 reached."""
    register(client, keys.api, "orig", seed=1)
    register(client, keys.api, "repost", repost_of="orig")
    report(client, content_ids=["orig"], relation="law_enforcement")
    updates = [{"content_id": c, "views": MAX_COUNTER, "shares": MAX_COUNTER}
               for c in ("orig", "repost")]
    answer = client.post("/v1/content/reach", json={"updates": updates}, headers=keys.api)
    assert answer.status_code == 200, answer.text
    bearer = keys.bearer("specialist")
    case = client.get("/v1/cases", headers=bearer).json()[0]
    detail = client.get(f"/v1/cases/{case['id']}", headers=bearer)
    assert detail.status_code == 200, detail.text
    assert {c["views"] for c in detail.json()["content"]} == {MAX_COUNTER}


def test_bounds_are_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    def parameter(path: str, method: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(p for p in document["paths"][path][method]["parameters"]
                                     if p["name"] == name)
        return found

    case_id = parameter("/v1/cases/{case_id}", "get", "case_id")["schema"]
    assert (case_id["minimum"], case_id["maximum"]) == (1, MAX_ID)
    offset = parameter("/v1/actions", "get", "offset")["schema"]
    assert offset["maximum"] == MAX_ID
    views = document["components"]["schemas"]["ReachItem"]["properties"]["views"]
    assert views["maximum"] == MAX_COUNTER
    language = document["components"]["schemas"]["ReportIn"]["properties"]["language"]
    assert language["maxLength"] == 35
    assert "422" in document["paths"]["/v1/cases/{case_id}"]["get"]["responses"]


# --- text the databases cannot store --------------------------------------------------


REPORT = {"content_ids": ["post"], "category": "child_sexual_abuse",
          "reporter_relation": "other_user"}
CONTENT = {"content_id": "new", "author_id": "a", "created_at": WHEN}


@pytest.mark.parametrize(("method", "url", "body", "headers", "field"), [
    # the public report form: every string in it
    ("POST", "/v1/reports", {**REPORT, "text": "a\u0000b"}, {}, "text"),
    ("POST", "/v1/reports", {**REPORT, "content_ids": ["post\u0000"]}, {}, "content_ids[0]"),
    ("POST", "/v1/reports", {**REPORT, "urls": ["https://x.example/\u0000"]}, {}, "urls[0]"),
    ("POST", "/v1/reports", {**REPORT, "case_numbers": ["LE\u0007-1"]}, {},
     "case_numbers[0]"),
    ("POST", "/v1/reports", {**REPORT, "platform": "net\u001b"}, {}, "platform"),
    ("POST", "/v1/reports", {**REPORT, "contact_email": "a\u0000@x.example"}, {},
     "contact_email"),
    ("POST", "/v1/reports", REPORT, {"Idempotency-Key": "key\x01"}, "idempotency-key"),
    # the platform API
    ("POST", "/v1/content", {**CONTENT, "content_id": "n\u0000"}, {}, "content_id"),
    ("POST", "/v1/content", {**CONTENT, "author_id": "\u0000"}, {}, "author_id"),
    ("POST", "/v1/content", {**CONTENT, "text": "hi\u0000"}, {}, "text"),
    ("POST", "/v1/content", {**CONTENT, "url": "https://x.example/\u0000"}, {}, "url"),
    ("POST", "/v1/content", {**CONTENT, "repost_of": "p\u0000"}, {}, "repost_of"),
    ("GET", "/v1/content/po%00st", None, {}, "content_id"),
    ("POST", "/v1/content/reach", {"updates": [{"content_id": "p\u0000", "views": 1}]}, {},
     "updates[0].content_id"),
    # reviewers
    ("GET", "/v1/cases?language=e%00n", None, {}, "language"),
    ("POST", "/v1/cases/1/decisions", {"outcome": "no_violation", "notes": "\u0000"}, {},
     "notes"),
    ("POST", "/v1/cases/1/decisions", {"outcome": "request_information",
                                       "question": "why\u0008"}, {}, "question"),
    ("POST", "/v1/cases/1/decisions", {"outcome": "violation", "reason": "\u0000"}, {},
     "reason"),
    ("POST", "/v1/cases/1/decisions", {"outcome": "violation"}, {"Idempotency-Key": "\x01"},
     "idempotency-key"),
    ("POST", "/v1/cases/decisions", {"outcome": "no_violation", "case_ids": [1],
                                     "notes": "\u0000"}, {}, "notes"),
    ("PUT", f"/v1/reporters/{REPORTER}/abusive", {"reason": "spam\u0000"}, {}, "reason"),
])
def test_control_characters_are_refused_naming_the_field(
        client: TestClient, keys: Keys, method: str, url: str, body: Any,
        headers: dict[str, str], field: str) -> None:
    """PostgreSQL cannot store NUL: each of these was a 500 there."""
    auth = {**keys.api, **keys.bearer("specialist"), **headers}
    response = client.request(method, url, json=body, headers=auth)
    _invalid(response, field)
    if field not in ("contact_email", "language", "urls[0]", "url"):  # their own formats
        assert "U+00" in response.text  # refuse these first


def test_report_status_and_answers_refuse_control_characters(client: TestClient,
                                                             keys: Keys) -> None:
    register(client, keys.api, "post")
    receipt = report(client, content_ids=["post"])
    rid, token = receipt["report_id"], receipt["status_token"]
    _invalid(client.get("/v1/reports/a%00b/status", params={"token": token}), "report_id")
    _invalid(client.get(f"/v1/reports/{rid}/status", params={"token": "t\x00"}), "token")
    _invalid(client.get(f"/v1/reports/{rid}/status", headers={"X-Status-Token": "\x01"}),
             "x-status-token")
    answer = f"/v1/reports/{rid}/information"
    _invalid(client.post(answer, params={"token": token}, json={"text": "a\u0000"}), "text")
    _invalid(client.post(answer, params={"token": token},
                         json={"text": "a", "case_numbers": ["\u0000"]}), "case_numbers[0]")


@pytest.mark.parametrize(("body", "field"), [
    (b'{"content_ids": ["p"], "category": "spam", "reporter_relation": "other_user", '
     b'"text": "a\\ud800b"}', "text"),
    (b'{"\\ud800": 1, "content_ids": ["p"], "category": "spam", '
     b'"reporter_relation": "other_user"}', "body"),
    (b'{"\\u0000": 1, "content_ids": ["p"], "category": "spam", '
     b'"reporter_relation": "other_user"}', "\x00"),
])
def test_unpaired_surrogates_and_nul_in_keys_are_422(client: TestClient, body: bytes,
                                                     field: str) -> None:
    """JSON may spell a lone surrogate ("\\ud800"), which no driver can encode as
    UTF-8, and the answer names the client's own keys."""
    response = client.post("/v1/reports", content=body,
                           headers={"Content-Type": "application/json"})
    _invalid(response, field)


def test_tabs_newlines_and_returns_are_text(client: TestClient, keys: Keys) -> None:
    register(client, keys.api, "post")
    text = "first line\r\n\tindented\nlast"
    report(client, content_ids=["post"], text=text, case_numbers=["A\tB"])
    bearer = keys.bearer("specialist")
    case = client.get("/v1/cases", headers=bearer).json()[0]
    stored = client.get(f"/v1/cases/{case['id']}", headers=bearer).json()["reports"][0]
    assert (stored["text"], stored["case_numbers"]) == (text, ["A\tB"])


def _unchecked_strings(annotation: Any, metadata: Sequence[Any] = ()) -> bool:
    """Whether a str somewhere in the annotation lacks the `storable` check."""
    if annotation is str:
        return not any(getattr(m, "func", None) is storable for m in metadata)
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return _unchecked_strings(base, [*metadata, *extra])
    return any(_unchecked_strings(arg) for arg in get_args(annotation))


def test_every_string_a_request_carries_is_checked() -> None:
    """The one mechanism: request models and parameters type their strings as
    schemas.Text (or a type built on it). A bare str would let NUL through again."""
    exempt = {"MediaIn.data_base64"}  # base64-decoded with validate=True
    bare = [f"{model.__name__}.{name}"
            for model in vars(schemas).values()
            if isinstance(model, type) and issubclass(model, schemas.Strict)
            for name, field in model.model_fields.items()
            if _unchecked_strings(field.annotation, field.metadata)]
    assert sorted(set(bare) - exempt) == []
    params = [(route.path, param)
              for router in (platform.router, reports.router, moderation.router,
                             reporters.router)
              for route in router.routes if isinstance(route, APIRoute)
              for param in get_flat_params(route.dependant)]
    assert len(params) > 20
    assert [f"{path} {p.name}" for path, p in params
            if _unchecked_strings(p.field_info.annotation, p.field_info.metadata)] == []


def test_language_tags_are_bcp47_and_fit_their_column(client: TestClient,
                                                      keys: Keys) -> None:
    register(client, keys.api, "post")
    longest = "en-" + "-".join(["abcdefgh"] * 3) + "-abcde"
    assert len(longest) == 35
    report(client, content_ids=["post"], language=longest)
    for bad in ("en" + "-abcdefgh" * 5, "e", "en_GB", "en-", "en-toolongsubtag"):
        response = client.post("/v1/reports", json={**REPORT, "language": bad})
        _invalid(response, "language")


# --- files that are no picture ----------------------------------------------------------


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" '
       b'height="9"><rect width="9" height="9"/></svg>')
HTML = b"<!DOCTYPE html><html><body><img src='x.jpg'></body></html>"


@pytest.mark.parametrize(("data", "said"), [
    (SVG, b"text"), (HTML, b"text"), (b"an image, honestly", b"text"),
    (bytes(range(256)) * 4, b"no known type"),
])
def test_files_that_are_no_image_or_video_are_unsupported_media(
        client: TestClient, keys: Keys, data: bytes, said: bytes) -> None:
    """They used to be stored with exact hashes only: nothing to match a copy with."""
    media = [{"data_base64": image_b64(1)},
             {"data_base64": base64.b64encode(data).decode()}]
    response = client.post("/v1/content", json={**CONTENT, "media": media}, headers=keys.api)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_media"
    assert [f["field"] for f in error["fields"]] == ["media[1]"]
    assert said in response.content
    assert client.get("/v1/content/new", headers=keys.api).status_code == 404


class _Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://256.1.1.1/photo.jpg")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def redirecting() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/photo.jpg"
    server.shutdown()


@pytest.mark.parametrize(("url", "code"), [
    ("http://\u0080/photo.jpg", "invalid"),  # no host httpx can encode
    ("http://a\u007f.example/photo.jpg", "invalid"),
    ("http://xn--a/photo.jpg", "invalid"),  # IDNA refuses it
    ("http://256.1.1.1/photo.jpg", "invalid"),
    ("redirecting", "media_fetch_failed"),  # to that address: httpx's InvalidURL, no HTTPError
])
def test_media_urls_httpx_cannot_fetch_are_422(client: TestClient, keys: Keys,
                                               redirecting: str, url: str, code: str) -> None:
    media = [{"url": redirecting if url == "redirecting" else url}]
    response = client.post("/v1/content", json={**CONTENT, "media": media}, headers=keys.api)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert [f["field"] for f in error["fields"]] == ["media[0].url"]


# --- bodies ------------------------------------------------------------------------------


def _stream(size: int, chunk: int = MiB) -> Iterator[bytes]:
    for start in range(0, size, chunk):
        yield b"a" * min(chunk, size - start)


def test_a_chunked_body_over_the_limit_is_413_not_400(client: TestClient, keys: Keys,
                                                      system: Takedown) -> None:
    """No Content-Length: the limit trips while the body streams in; FastAPI's body
    parser used to turn that into 400 "error parsing the body"."""
    over = system.settings.max_request_bytes + MiB
    response = client.post("/v1/content", content=_stream(over),
                           headers={**keys.api, "Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize(("path", "kind"), [
    ("/v1/reports", "application/json"), ("/v1/content/reach", "application/json"),
    ("/v1/cases/decisions", "application/json"),
    ("/console/login", "application/x-www-form-urlencoded")])
@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_other_than_uploads_are_limited_to_max_json_bytes(
        client: TestClient, keys: Keys, system: Takedown, path: str, kind: str,
        chunked: bool) -> None:
    size = system.settings.max_json_bytes + 1
    body = _stream(size) if chunked else b"a" * size
    response = client.post(path, content=body, headers={
        **keys.api, **keys.bearer("specialist"), "Content-Type": kind})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"


def test_content_registration_keeps_the_upload_limit(client: TestClient, keys: Keys,
                                                     system: Takedown) -> None:
    # Bytes after a JPEG's end marker are no part of the picture; they make it big.
    padded = generated_photo(3, (320, 240)) + b"\0" * (system.settings.max_json_bytes * 2)
    body = {**CONTENT, "media": [{"data_base64": base64.b64encode(padded).decode()}]}
    response = client.post("/v1/content", json=body, headers=keys.api)
    assert response.status_code == 201, response.text


_SERVER = """
import sys
from pathlib import Path

import uvicorn

from takedown.api.app import create_app
from takedown.config import Settings
from takedown.system import Takedown

data = Path(sys.argv[1])
system = Takedown(Settings(data_dir=data, database_url=f"sqlite:///{data / 't.db'}",
                           inprocess_workers=0))
system.migrate()
uvicorn.run(create_app(system, run_workers=False), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """takedown with its default limits in a process of its own, whose memory the test
    reads: (port, pid)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", _SERVER, str(tmp_path), str(port)],
                               env={**os.environ, "TAKEDOWN_LOG_FORMAT": "text"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _memory(pid: int, field: str) -> int:
    """VmRSS or VmHWM (the peak) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for process {pid}")


def _post_raw(port: int, path: str, size: int, *, chunked: bool) -> bytes:
    """Sends a body of `size` bytes while reading the answer, as a client that does
    not wait would; stops sending once the server has answered and closed."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                 f"{framing}\r\n\r\n".encode())
    answer = bytearray()

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                answer.extend(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    piece, sent = b"a" * 65536, 0
    try:
        while sent < size and reader.is_alive():
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked
                         else piece)
            sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed the connection: it has answered
    reader.join(timeout=60)
    sock.close()
    return bytes(answer)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_20_mib_report_is_refused_without_being_buffered(server: tuple[int, int],
                                                           chunked: bool) -> None:
    """The public report form, unauthenticated: its body used to be read whole (and
    parsed) before its 422, costing the server several times its size."""
    port, pid = server
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    before = _memory(pid, "VmRSS")
    answer = _post_raw(port, "/v1/reports", 20 * MiB, chunked=chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_large"' in answer
    grown = _memory(pid, "VmHWM") - before
    assert grown < 5 * MiB, f"the server's peak memory grew by {grown / MiB:.1f} MiB"
