"""A client for NCMEC's CyberTipline reporting API (the ESP API, HTTP Basic auth).

A report goes in four kinds of call: /submit the `<report>` (NCMEC answers a report
id), /upload each file, /fileinfo each file's `<fileDetails>`, then /finish; /retract
withdraws a report not yet finished. NCMEC answers HTTP 200 with a response code
whatever happened; `disposition` says what the caller does about each code.

Anything that is not an answer (no connection, a timeout, HTTP 5xx, a body that is
not NCMEC's XML) raises `NcmecUnavailable`: the call may be tried again later. The
password is never logged nor put in an exception's text.
"""

from __future__ import annotations

import hashlib
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import httpx

from takedown.legal.tipline_xml import parse_xml

# NCMEC's response codes, as its API documentation names them.
RESPONSE_CODES: dict[int, str] = {
    0: "Success",
    1000: "Server error",
    1010: "Save failed",
    1011: "Upload failed",
    1012: "File upload failed",
    1013: "Resource not found",
    1020: "Update failed",
    2000: "Authentication required",
    3000: "Not authorised for this action",
    3100: "Not authorised for submissions",
    3200: "Not authorised for updates",
    4000: "Invalid request",
    4100: "Validation failed",
    4110: "Malformed XML",
    4120: "Malformed file",
    5000: "Report does not exist",
    5100: "File does not exist",
    5101: "Report already retracted",
    5102: "Report already finished",
}

_MAX_ANSWER_BYTES = 1024 * 1024  # NCMEC's answers are a few hundred bytes
_FIRST_DELAY_S = 5.0
_MAX_DELAY_S = 300.0


class NcmecUnavailable(Exception):
    """NCMEC gave no answer (network, timeout, HTTP 5xx, garbage): try again later.
    `maybe_received`: the request went out and the answer was lost (a read timeout, a
    dropped connection), so NCMEC may have acted on it; False when it never left (the
    connection was refused) or NCMEC answered with an error."""

    def __init__(self, message: str, *, maybe_received: bool = False) -> None:
        super().__init__(message)
        self.maybe_received = maybe_received


@dataclass(frozen=True)
class NcmecAnswer:
    code: int
    description: str = ""
    report_id: int | None = None
    file_id: str | None = None
    md5: str | None = None  # NCMEC's MD5 of an uploaded file (its `hash`)
    file_ids: tuple[str, ...] = ()  # the files of a finished report

    @property
    def ok(self) -> bool:
        return self.code == 0


class Disposition(StrEnum):
    DONE = "done"  # the call achieved what it was for
    RETRY = "retry"  # NCMEC failed on its side: the same call again, later
    STOP = "stop"  # the request itself is wrong: show the message, a person fixes it
    ALERT = "alert"  # our credentials or rights are wrong: stop everything, tell on-call


def disposition(code: int, call: str) -> Disposition:
    """What to do about NCMEC's answer `code` to `call` ("submit", "upload",
    "fileinfo", "finish", "retract", "status")."""
    if code == 0:
        return Disposition.DONE
    if 1000 <= code <= 1999:
        return Disposition.RETRY
    if code == 2000 or 3000 <= code <= 3999:
        return Disposition.ALERT
    # Already in the wanted state: a retried /retract or /finish whose first try
    # got through without its answer reaching us.
    if (code, call) in ((5101, "retract"), (5102, "finish")):
        return Disposition.DONE
    return Disposition.STOP  # 4xxx, 5xxx, and codes NCMEC may add later


def retry_delay(attempt: int) -> timedelta:
    """How long to wait before try number `attempt` + 1: 5 s after the first failure,
    doubling, at most 5 minutes, with ±10 % jitter so that retries do not march in step."""
    base = _FIRST_DELAY_S * 2 ** min(max(attempt, 1) - 1, 16)
    jittered = base * random.uniform(0.9, 1.1)
    return timedelta(seconds=min(jittered, _MAX_DELAY_S))


def parse_answer(body: bytes) -> NcmecAnswer:
    """NCMEC's answer (a reportResponse, a reportDoneResponse: any root) read
    defensively; NcmecUnavailable when it is not one."""
    try:
        root = parse_xml(body)
    except ValueError as error:
        raise NcmecUnavailable(f"NCMEC's answer is not readable: {error}") from error
    code = _integer(_child_text(root, "responseCode"), "responseCode")
    if code is None:
        raise NcmecUnavailable("NCMEC's answer has no responseCode")
    files = _child(root, "files")
    return NcmecAnswer(
        code=code,
        description=_child_text(root, "responseDescription") or RESPONSE_CODES.get(code, ""),
        report_id=_integer(_child_text(root, "reportId"), "reportId"),
        file_id=_child_text(root, "fileId"),
        md5=_child_text(root, "hash"),
        file_ids=tuple(text for child in (files if files is not None else ())
                       if _local(child.tag) == "fileId" and (text := (child.text or "").strip())),
    )


def _child(parent: ET.Element, name: str) -> ET.Element | None:
    """The first child named `name`, whatever its namespace."""
    return next((child for child in parent if _local(child.tag) == name), None)


def _child_text(parent: ET.Element, name: str) -> str | None:
    child = _child(parent, name)
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _integer(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise NcmecUnavailable(f"NCMEC's {name} is not a number: {text[:40]!r}") from None


class NcmecClient:
    def __init__(self, base_url: str, username: str, password: str, *,
                 timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/", auth=httpx.BasicAuth(username, password),
            timeout=timeout_s, transport=transport, follow_redirects=False,
            headers={"Accept": "text/xml"})

    def __repr__(self) -> str:
        return f"NcmecClient({self.base_url!r})"  # never the credentials

    def status(self) -> NcmecAnswer:
        return self._call("status", "GET")

    def submit(self, report_xml: bytes) -> NcmecAnswer:
        answer = self._call("submit", "POST", content=report_xml)
        if answer.ok and answer.report_id is None:
            raise NcmecUnavailable("NCMEC answered /submit with success but no reportId")
        return answer

    def upload(self, report_id: int, file_name: str, data: bytes) -> NcmecAnswer:
        """Upload one file; the answer's md5 is NCMEC's, checked against ours. A
        mismatch (the bytes changed in transit) is answered as 1012, to upload again."""
        answer = self._call("upload", "POST", data={"id": str(report_id)},
                            files={"file": (file_name, data, "application/octet-stream")})
        if not answer.ok:
            return answer
        if not answer.file_id:
            raise NcmecUnavailable("NCMEC answered /upload with success but no fileId")
        ours = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if (answer.md5 or "").lower() != ours:
            return NcmecAnswer(
                1012, f"NCMEC's MD5 of the upload ({answer.md5}) is not ours ({ours}): "
                      f"the file was damaged in transit; upload it again",
                report_id=answer.report_id, file_id=answer.file_id, md5=answer.md5)
        return answer

    def file_info(self, details_xml: bytes) -> NcmecAnswer:
        return self._call("fileinfo", "POST", content=details_xml)

    def finish(self, report_id: int) -> NcmecAnswer:
        return self._call("finish", "POST", data={"id": str(report_id)})

    def retract(self, report_id: int) -> NcmecAnswer:
        return self._call("retract", "POST", data={"id": str(report_id)})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NcmecClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, name: str, method: str, *, content: bytes | None = None,
              data: dict[str, str] | None = None,
              files: dict[str, tuple[str, bytes, str]] | None = None) -> NcmecAnswer:
        headers = {"Content-Type": "text/xml; charset=utf-8"} if content is not None else None
        try:
            with self._http.stream(method, name, content=content, data=data, files=files,
                                   headers=headers) as response:
                status, body = response.status_code, _read_capped(response)
        except httpx.HTTPError as error:  # carries the URL, never the Authorization header
            unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout
                                | httpx.PoolTimeout)
            raise NcmecUnavailable(f"/{name}: {type(error).__name__}: {error}",
                                   maybe_received=not unsent) from error
        return _answer(name, status, body)


def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > _MAX_ANSWER_BYTES:
            raise NcmecUnavailable(f"NCMEC's answer is over {_MAX_ANSWER_BYTES} bytes")
    return bytes(body)


def _answer(name: str, status: int, body: bytes) -> NcmecAnswer:
    """An HTTP response as NCMEC's answer. 401 and 403 are the HTTP forms of 2000 and
    3100; a 404 means a wrong base URL or an endpoint down, 408, 429 and 5xx a busy
    server: those are tried again. Another 4xx without an answer in its body means
    the request itself was refused (too large, say): retrying the same one is no use."""
    if status == 401:
        return NcmecAnswer(2000, f"HTTP 401 on /{name}: authentication required")
    if status == 403:
        return NcmecAnswer(3100, f"HTTP 403 on /{name}: not authorised")
    if status in (404, 408, 429) or status >= 500 or status < 200 or 300 <= status < 400:
        raise NcmecUnavailable(f"/{name}: HTTP {status}")
    if status >= 400:
        try:
            return parse_answer(body)
        except NcmecUnavailable:
            return NcmecAnswer(4000, f"HTTP {status} on /{name}: the request was refused")
    return parse_answer(body)
