"""A stand-in for NCMEC's reporting API, for tests and the demo.

It behaves as the documented API does where takedown can tell: HTTP Basic auth on
every call, answered HTTP 200 with a response code whatever happened; /submit and
/fileinfo validated against the CyberTipline XSD; the report's state (finished,
retracted) checked on every change. `fail()` makes the next calls to an endpoint
answer a chosen code (or HTTP 503), to rehearse what NCMEC's bad days look like.
It keeps everything in memory, and nothing it is sent goes anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message

from takedown.legal.ncmec import RESPONSE_CODES
from takedown.legal.tipline_xml import VENDORED_XSD, parse_xml, schema_errors
from takedown.server import BackgroundServer, free_port

UNAVAILABLE = -1  # fail() with this code: HTTP 503 with no body
CALLS = ("status", "submit", "upload", "fileinfo", "finish", "retract")
_FIRST_REPORT_ID = 100001


# Where the demo mounts a stand-in beside takedown (`serve --demo`, `takedown demo`).
DEMO_NCMEC_PATH = "/demo-ncmec/ispws"

@dataclass
class StandInReport:
    report_id: int
    xml: bytes
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # id -> name, bytes, md5
    file_info: dict[str, bytes] = field(default_factory=dict)  # file id -> fileDetails xml
    finished: bool = False
    retracted: bool = False


@dataclass(frozen=True)
class _Reply:
    """What an endpoint answers: a response code, or (code -1) an HTTP 503."""

    code: int
    description: str = ""
    report_id: int | None = None
    file_id: str | None = None
    md5: str | None = None
    file_ids: tuple[str, ...] | None = None  # set for /finish's reportDoneResponse


class _Refused(Exception):
    def __init__(self, code: int, description: str = "", report_id: int | None = None) -> None:
        super().__init__(description)
        self.reply = _Reply(code, description or RESPONSE_CODES.get(code, ""), report_id)


class _TooLarge(Exception):
    pass


class StandInNcmec:
    def __init__(self, username: str = "esp", password: str = "secret",
                 xsd: Path | None = None) -> None:
        self.username, self.password = username, password
        self.xsd = xsd or VENDORED_XSD
        self.reports: dict[int, StandInReport] = {}
        self.calls: list[tuple[str, int | None, int]] = []  # (endpoint, report id, code)
        self.wrong_md5 = False  # when True, /upload answers a wrong hash
        self.max_body_bytes = 64 * 1024 * 1024  # larger requests get HTTP 413
        self._failures: dict[str, list[int]] = {}
        self._lost: dict[str, int] = {}  # calls whose answer comes too late (see lose_answer)
        self.late_answer_s = 3.0
        self._next_id = _FIRST_REPORT_ID
        self._lock = threading.Lock()
        schema_errors(b"<report/>", self.xsd)  # compiles the XSD now, not on the first call

    def fail(self, call: str, code: int, times: int = 1) -> None:
        """The next `times` calls to `call` answer `code` (UNAVAILABLE: HTTP 503)."""
        if call not in CALLS:
            raise ValueError(f"unknown call {call!r}; known: {CALLS}")
        with self._lock:
            self._failures.setdefault(call, []).extend([code] * times)

    def lose_answer(self, call: str, times: int = 1) -> None:
        """The next `times` calls to `call` are carried out, but answered only after
        `late_answer_s`: past a client's timeout, the answer is lost on the way."""
        if call not in CALLS:
            raise ValueError(f"unknown call {call!r}; known: {CALLS}")
        with self._lock:
            self._lost[call] = self._lost.get(call, 0) + times

    def app(self) -> FastAPI:
        """The API's routes, relative: mount the app at any prefix (NCMEC's is /ispws)."""
        app = FastAPI(title="NCMEC stand-in", docs_url=None, redoc_url=None, openapi_url=None)
        app.add_api_route("/xsd", self._xsd, methods=["GET"])
        for name, handler in (("status", self._status), ("submit", self._submit),
                              ("upload", self._upload), ("fileinfo", self._fileinfo),
                              ("finish", self._finish), ("retract", self._retract)):
            method = "GET" if name == "status" else "POST"
            app.add_api_route(f"/{name}", self._endpoint(name, handler), methods=[method])
        return app

    # --- the frame every endpoint shares ------------------------------------------

    def _endpoint(self, name: str, handler: Callable[[Request, bytes], Awaitable[_Reply]]
                  ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await _capped_body(request, self.max_body_bytes)
            except _TooLarge:
                return Response(status_code=413)
            injected = self._injected(name)
            if injected is not None:
                reply = _Reply(injected, f"{RESPONSE_CODES.get(injected, '')} (injected)")
            elif not self._authorised(request):
                reply = _Reply(2000, RESPONSE_CODES[2000])
            else:
                try:
                    reply = await handler(request, body)
                except _Refused as refused:
                    reply = refused.reply
            report_id = reply.report_id or await _requested_id(name, request, body)
            with self._lock:
                self.calls.append((name, report_id, reply.code))
                late = self._lost.get(name, 0) > 0
                if late:
                    self._lost[name] -= 1
            if late:
                await asyncio.sleep(self.late_answer_s)
            if reply.code == UNAVAILABLE:
                return Response(status_code=503)
            return Response(_render(reply), media_type="text/xml")
        return endpoint

    def _injected(self, name: str) -> int | None:
        with self._lock:
            queue = self._failures.get(name)
            return queue.pop(0) if queue else None

    def _authorised(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return False
        expected = f"{self.username}:{self.password}".encode()
        return secrets.compare_digest(given, expected)

    # --- the endpoints --------------------------------------------------------------

    async def _xsd(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response(_render(_Reply(2000, RESPONSE_CODES[2000])), media_type="text/xml")
        return Response(self.xsd.read_bytes(), media_type="text/xml")

    async def _status(self, request: Request, _: bytes) -> _Reply:
        client = request.client.host if request.client else "unknown"
        return _Reply(0, f"Remote User : {self.username}, Remote Ip Address : {client}")

    async def _submit(self, _: Request, body: bytes) -> _Reply:
        self._validate(body, "report")
        with self._lock:
            report_id = self._next_id
            self._next_id += 1
            self.reports[report_id] = StandInReport(report_id, body)
        return _Reply(0, "Success", report_id)

    async def _upload(self, request: Request, body: bytes) -> _Reply:
        form = await _form(request, body)
        try:
            report_id = _form_id(form.get("id"))
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _Refused(4000, "the form has no file", report_id)
            name, data = upload.filename or "", await upload.read()
        finally:
            await form.close()  # its spooled temporary files
        if not data:
            raise _Refused(4120, "the file is empty", report_id)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        file_id = uuid.uuid4().hex
        with self._lock:
            report = self._changeable(report_id)
            report.files[file_id] = (name, data, md5)
        answered = "0" * 32 if self.wrong_md5 else md5
        return _Reply(0, "Success", report_id, file_id=file_id, md5=answered)

    async def _fileinfo(self, _: Request, body: bytes) -> _Reply:
        root = self._validate(body, "fileDetails")
        report_id = int((root.findtext("reportId") or "").strip())  # valid: an xs:long
        file_id = (root.findtext("fileId") or "").strip()
        with self._lock:
            report = self._changeable(report_id)
            if file_id not in report.files:
                raise _Refused(5100, f"file {file_id} is not in report {report_id}", report_id)
            report.file_info[file_id] = body
        return _Reply(0, "Success", report_id)

    async def _finish(self, _: Request, body: bytes) -> _Reply:
        report_id = _form_id(_form_value(body))
        with self._lock:
            report = self._changeable(report_id)
            report.finished = True
            files = tuple(report.files)
        return _Reply(0, "Success", report_id, file_ids=files)

    async def _retract(self, _: Request, body: bytes) -> _Reply:
        report_id = _form_id(_form_value(body))
        with self._lock:
            report = self._changeable(report_id)
            report.retracted = True
        return _Reply(0, "Success", report_id)

    # --- checks ---------------------------------------------------------------------

    def _validate(self, body: bytes, root_tag: str) -> ET.Element:
        try:
            root = parse_xml(body)
        except ValueError as error:
            raise _Refused(4110, str(error)) from None
        if root.tag != root_tag:
            raise _Refused(4100, f"expected a <{root_tag}> document, not <{root.tag}>")
        errors = schema_errors(body, self.xsd)
        if errors:
            raise _Refused(4100, "; ".join(errors))
        return root

    def _changeable(self, report_id: int) -> StandInReport:
        """The report, if it may still change; call with the lock held."""
        report = self.reports.get(report_id)
        if report is None:
            raise _Refused(5000, f"report {report_id} does not exist", report_id)
        if report.retracted:
            raise _Refused(5101, report_id=report_id)
        if report.finished:
            raise _Refused(5102, report_id=report_id)
        return report


async def _capped_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


async def _form(request: Request, body: bytes) -> FormData:
    """The multipart form of a body already read (and so no longer in the request)."""

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}
    try:
        return await Request(request.scope, receive).form()
    except Exception as error:  # Starlette's errors for a malformed form vary by version
        raise _Refused(4000, f"malformed form: {error}") from None


def _form_value(body: bytes) -> str | None:
    """The `id` of an url-encoded form (/finish, /retract)."""
    values = parse_qs(body.decode("utf-8", "replace")).get("id")
    return values[0] if values else None


def _form_id(value: object) -> int:
    if not isinstance(value, str) or not value.strip().isdigit():
        raise _Refused(4000, "the form's id must be a report id")
    return int(value)


async def _requested_id(name: str, request: Request, body: bytes) -> int | None:
    """The report id a request names, for `calls`, when the answer carries none."""
    try:
        if name in ("finish", "retract"):
            return _form_id(_form_value(body))
        if name == "upload":
            form = await _form(request, body)
            await form.close()
            return _form_id(form.get("id"))
        if name == "fileinfo":
            return int(parse_xml(body).findtext("reportId") or "")
    except (_Refused, ValueError):
        pass
    return None


def _render(reply: _Reply) -> bytes:
    if reply.file_ids is not None:
        root = ET.Element("reportDoneResponse")
        ET.SubElement(root, "responseCode").text = str(reply.code)
        ET.SubElement(root, "reportId").text = str(reply.report_id)
        files = ET.SubElement(root, "files")
        for file_id in reply.file_ids:
            ET.SubElement(files, "fileId").text = file_id
    else:
        root = ET.Element("reportResponse")
        ET.SubElement(root, "responseCode").text = str(reply.code)
        ET.SubElement(root, "responseDescription").text = reply.description
        for tag, value in (("reportId", reply.report_id), ("fileId", reply.file_id),
                           ("hash", reply.md5)):
            if value is not None:
                ET.SubElement(root, tag).text = str(value)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


@contextmanager
def serve_stand_in(server: StandInNcmec) -> Iterator[str]:
    """Serve the stand-in on 127.0.0.1 in a daemon thread; yields its base URL
    (ending in /ispws, as NCMEC's does) and stops it on exit."""
    outer = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    outer.mount("/ispws", server.app())
    with BackgroundServer(outer, free_port()) as background:
        yield background.url + "/ispws"

