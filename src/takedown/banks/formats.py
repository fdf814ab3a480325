"""The field's exchange formats, read and written.

* HMA / python-threatexchange CSV: rows of (signal type, hash); header
  `signal_type,signal`. Type names accepted: ours (`pdq`, `vpdq`, `md5`, `sha256`) and
  ThreatExchange's (`video_md5`, `photo_md5`).
* StopNCII FetchHashes: JSON, either `{"hashRecords": [...]}` or a list of records
  with `signalType` (`ImagePDQ`, `VideoMD5`), `hashValue`, `hashStatus`
  (`Active`, `Withdrawn`, `Deleted`) and `caseNumbers`. Withdrawn and deleted hashes
  must be deleted from the bank.
* NCMEC hash sharing: the XML of `GET /v2/entries`: `image` and `video` elements with
  an `id`, a `deleted` flag and `fingerprints` (`md5`, `pdq`, `sha1` …).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from takedown.media.signals import SIGNAL_TYPES, signal_type

FORMATS = ("csv", "stopncii", "ncmec")
_ALIASES = {**{name: name for name in SIGNAL_TYPES},
            "video_md5": "md5", "photo_md5": "md5"}  # ThreatExchange's names
_STOPNCII_TYPES = {"imagepdq": "pdq", "videomd5": "md5"}
_STOPNCII_NAMES = {"imagepdq": "ImagePDQ", "videomd5": "VideoMD5"}
_NCMEC_FINGERPRINTS = ("md5", "pdq")  # the fingerprint elements NCMEC's XML has for ours


class FormatError(ValueError):
    """The file is not in the format named; the message says where."""


@dataclass(frozen=True)
class Record:
    signal_type: str
    value: str
    active: bool = True  # False: withdrawn or deleted at the source
    external_ids: list[str] = field(default_factory=list)


@dataclass
class Parsed:
    records: list[Record] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why each unusable row was skipped


def _record(parsed: Parsed, where: str, kind: str, value: str, active: bool = True,
            ids: list[str] | None = None) -> None:
    name = _ALIASES.get(kind.strip().lower())
    if name is None:
        parsed.skipped.append(f"{where}: signal type {kind!r} is not one takedown matches on")
        return
    try:
        normal = signal_type(name).normalise(value)
    except ValueError as exc:
        parsed.skipped.append(f"{where}: {exc}")
        return
    parsed.records.append(Record(name, normal, active, ids or []))


def read_csv(text: str) -> Parsed:
    parsed = Parsed()
    rows = csv.reader(io.StringIO(text))
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and row[0].strip().lower() in ("signal_type", "type")):
            continue
        if len(row) < 2:
            parsed.skipped.append(f"line {number}: expected signal_type,signal")
            continue
        _record(parsed, f"line {number}", row[0], row[1])
    return parsed


def read_stopncii(text: str) -> Parsed:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc}") from None
    records = data.get("hashRecords") if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise FormatError("expected a list of hash records or {\"hashRecords\": [...]}")
    parsed = Parsed()
    for index, item in enumerate(records):
        where = f"record {index}"
        if not isinstance(item, dict) or "hashValue" not in item or "signalType" not in item:
            parsed.skipped.append(f"{where}: needs signalType and hashValue")
            continue
        kind = _STOPNCII_TYPES.get(str(item["signalType"]).lower(), str(item["signalType"]))
        status = str(item.get("hashStatus", "Active")).lower()
        ids = [str(c) for c in item.get("caseNumbers") or []]
        _record(parsed, where, kind, str(item["hashValue"]), status == "active", ids)
    return parsed


def read_ncmec(text: str) -> Parsed:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FormatError(f"not XML: {exc}") from None
    parsed = Parsed()
    for element in root.iter():
        tag = element.tag.rpartition("}")[2]
        if tag not in ("image", "video"):
            continue
        entry_id = _child_text(element, "id") or "?"
        deleted = (element.get("deleted") or _child_text(element, "deleted") or "").lower()
        fingerprints = next((c for c in element if c.tag.rpartition("}")[2] == "fingerprints"),
                            None)
        if fingerprints is None:
            parsed.skipped.append(f"entry {entry_id}: no fingerprints")
            continue
        for fingerprint in fingerprints:
            kind = fingerprint.tag.rpartition("}")[2]
            _record(parsed, f"entry {entry_id}", kind, fingerprint.text or "",
                    deleted != "true", [f"ncmec:{entry_id}"])
    return parsed


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if child.tag.rpartition("}")[2] == name:
            return (child.text or "").strip()
    return None


READERS = {"csv": read_csv, "stopncii": read_stopncii, "ncmec": read_ncmec}


def write_csv(records: Iterable[Record]) -> Iterator[str]:
    yield "signal_type,signal\n"
    for record in records:
        yield f"{record.signal_type},{signal_type(record.signal_type).one_line(record.value)}\n"


def write_stopncii(records: Iterable[Record]) -> Iterator[str]:
    kinds = {ours: theirs for theirs, ours in _STOPNCII_TYPES.items()}
    rows = [{"signalType": _STOPNCII_NAMES[kinds[r.signal_type]], "hashValue": r.value,
             "hashStatus": "Active" if r.active else "Withdrawn",
             "caseNumbers": r.external_ids}
            for r in records if r.signal_type in kinds]
    yield json.dumps({"hashRecords": rows}, indent=1)


def write_ncmec(records: Iterable[Record]) -> Iterator[str]:
    yield "<queryResult><images>"
    for n, record in enumerate(records, start=1):
        if record.signal_type in _NCMEC_FINGERPRINTS:
            yield (f"<image><id>{n}</id><fingerprints><{record.signal_type}>{record.value}"
                   f"</{record.signal_type}></fingerprints></image>")
    yield "</images></queryResult>"


WRITERS = {"csv": write_csv, "stopncii": write_stopncii, "ncmec": write_ncmec}
