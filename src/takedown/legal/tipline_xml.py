"""CyberTipline XML: the `<report>` and `<fileDetails>` documents NCMEC's reporting API
takes, built from plain facts, and checked against NCMEC's XSD before they go.

NCMEC validates every document against its XSD, whose elements are sequences: an
element out of order is a 4100 answer, so each builder below writes its children in
the XSD's order. Nothing is invented: a fact that is None or empty is left out.
Documents are built with ElementTree, which escapes text; characters XML 1.0 cannot
carry at all (most C0 controls) are dropped, since a reporter's text may hold them.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.parsers import expat

import xmlschema

VENDORED_XSD = Path(__file__).with_name("cyber_tipline.xsd")

INCIDENT_TYPES: tuple[str, ...] = (
    "Child Pornography (possession, manufacture, and distribution)",
    "Child Sex Trafficking",
    "Child Sex Tourism",
    "Child Sexual Molestation",
    "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child",
)
CHILD_PORNOGRAPHY = INCIDENT_TYPES[0]  # the XSD's wording, which NCMEC requires verbatim

# Element names of <reportAnnotations> and <fileAnnotations>, in the XSD's order.
REPORT_ANNOTATIONS: tuple[str, ...] = (
    "sextortion", "csamSolicitation", "minorToMinorInteraction", "spam",
    "sadisticOnlineExploitation",
)
FILE_ANNOTATIONS: tuple[str, ...] = (
    "animeDrawingVirtualHentai", "potentialMeme", "viral", "possibleSelfProduction",
    "physicalHarm", "violenceGore", "bestiality", "liveStreaming", "infant", "generativeAi",
)
IP_EVENTS: tuple[str, ...] = ("Login", "Registration", "Purchase", "Upload", "Other", "Unknown")

_MD5 = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# What XML 1.0 cannot carry, even escaped: C0 controls but tab, LF and CR; lone
# surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Contact:
    """A person: the reporting person or the contact person."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Sighting:
    """One copy (URL) of the content on the platform."""

    url: str
    posted_at: datetime | None = None
    removed_at: datetime | None = None


@dataclass(frozen=True)
class IpEvent:
    ip: str
    at: datetime | None = None
    event: str | None = None  # one of IP_EVENTS, else left out


@dataclass(frozen=True)
class ReportedAccount:
    esp_identifier: str  # the platform's account id
    esp_service: str | None = None  # the platform's name
    screen_name: str | None = None
    display_names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    profile_urls: tuple[str, ...] = ()
    ip_events: tuple[IpEvent, ...] = ()
    additional_info: str | None = None


@dataclass(frozen=True)
class Victim:
    age: int | None = None  # age at the time, as a reporter said
    additional_info: str | None = None


@dataclass(frozen=True)
class LawEnforcementContact:
    agency: str
    case_number: str | None = None


@dataclass(frozen=True)
class TiplineFacts:
    incident_type: str  # one of INCIDENT_TYPES
    incident_at: datetime
    reporter: Contact  # the ESP's reporting person (the XSD requires one)
    platform: str | None = None
    escalate_reason: str | None = None  # only when escalating: NCMEC reads any text as "escalate"
    annotations: tuple[str, ...] = ()  # from REPORT_ANNOTATIONS
    incident_at_description: str | None = None
    sightings: tuple[Sighting, ...] = ()
    law_enforcement: LawEnforcementContact | None = None
    contact_person: Contact | None = None
    company_template: str | None = None
    terms_of_service: str | None = None
    legal_url: str | None = None
    accounts: tuple[ReportedAccount, ...] = ()
    victims: tuple[Victim, ...] = ()
    additional_info: str | None = None


@dataclass(frozen=True)
class FileFacts:
    file_name: str
    md5: str
    sha256: str
    original_file_name: str | None = None
    uploaded_at: datetime | None = None
    location: str | None = None  # URL where the file was first posted
    viewed_by_esp: bool | None = None
    publicly_available: bool | None = None
    annotations: tuple[str, ...] = ()  # from FILE_ANNOTATIONS
    additional_info: tuple[str, ...] = ()


# --- building ---------------------------------------------------------------------


def render_report(facts: TiplineFacts) -> bytes:
    """The `<report>` document for POST /submit (UTF-8, with an XML declaration)."""
    _check_report(facts)
    root = ET.Element("report")
    root.append(_incident_summary(facts))
    if any(_clean(sighting.url) for sighting in facts.sightings):
        root.append(_internet_details(facts.sightings))
    if facts.law_enforcement is not None and _clean(facts.law_enforcement.agency):
        root.append(_law_enforcement(facts.law_enforcement))
    root.append(_reporter(facts))
    root.extend(_reported_account(account) for account in facts.accounts)
    root.extend(_victim(victim) for victim in facts.victims)
    _text(root, "additionalInfo", facts.additional_info)
    return _serialize(root)


def render_file_details(report_id: int, file_id: str, f: FileFacts) -> bytes:
    """The `<fileDetails>` document for POST /fileinfo, about a file already uploaded."""
    unknown = sorted(set(f.annotations) - set(FILE_ANNOTATIONS))
    if unknown:
        raise ValueError(f"unknown file annotations {unknown}; known: {FILE_ANNOTATIONS}")
    md5, sha256 = f.md5.strip().lower(), f.sha256.strip().lower()
    if md5 and not _MD5.fullmatch(md5):
        raise ValueError("md5 must be 32 hexadecimal digits")
    if sha256 and not _SHA256.fullmatch(sha256):
        raise ValueError("sha256 must be 64 hexadecimal digits")
    if not _clean(file_id):
        raise ValueError("file_id is required")
    root = ET.Element("fileDetails")
    _text(root, "reportId", str(report_id))
    _text(root, "fileId", file_id)
    _text(root, "fileName", f.file_name)
    _text(root, "originalFileName", f.original_file_name)
    _text(root, "uploadedToEspTimestamp", _when(f.uploaded_at))
    _text(root, "locationOfFile", f.location)
    _text(root, "fileViewedByEsp", _boolean(f.viewed_by_esp))
    _text(root, "publiclyAvailable", _boolean(f.publicly_available))
    _flags(root, "fileAnnotations", FILE_ANNOTATIONS, f.annotations)
    for hash_type, value in (("MD5", md5), ("SHA256", sha256)):
        if value:
            ET.SubElement(root, "originalFileHash", hashType=hash_type).text = value
    for info in f.additional_info:
        _text(root, "additionalInfo", info)
    return _serialize(root)


def _check_report(facts: TiplineFacts) -> None:
    if facts.incident_type not in INCIDENT_TYPES:
        raise ValueError(f"unknown incident type {facts.incident_type!r}; "
                         f"known: {INCIDENT_TYPES}")
    unknown = sorted(set(facts.annotations) - set(REPORT_ANNOTATIONS))
    if unknown:
        raise ValueError(f"unknown report annotations {unknown}; known: {REPORT_ANNOTATIONS}")
    for victim in facts.victims:
        if victim.age is not None and not 0 <= victim.age <= 2**31 - 1:
            raise ValueError(f"a victim's age must be a whole number of years, not {victim.age}")


def _incident_summary(facts: TiplineFacts) -> ET.Element:
    summary = ET.Element("incidentSummary")
    _text(summary, "incidentType", facts.incident_type)
    _text(summary, "platform", facts.platform)
    _text(summary, "escalateToHighPriority", facts.escalate_reason)
    _flags(summary, "reportAnnotations", REPORT_ANNOTATIONS, facts.annotations)
    _text(summary, "incidentDateTime", _when(facts.incident_at))
    _text(summary, "incidentDateTimeDescription", facts.incident_at_description)
    return summary


def _internet_details(sightings: Iterable[Sighting]) -> ET.Element:
    """One web-page incident naming every URL; the XSD has no per-URL times, so they
    go, one line per URL, in the incident's additionalInfo."""
    details = ET.Element("internetDetails")
    page = ET.SubElement(details, "webPageIncident")
    lines = []
    for sighting in sightings:
        url = _clean(sighting.url)
        _text(page, "url", url)
        times = [f"{label} {_when(at)}" for label, at in
                 (("posted", sighting.posted_at), ("removed", sighting.removed_at))
                 if at is not None]
        if times and url:
            lines.append(f"{url}: {', '.join(times)}")
    _text(page, "additionalInfo", "\n".join(lines))
    return details


def _law_enforcement(contact: LawEnforcementContact) -> ET.Element:
    element = ET.Element("lawEnforcement")
    _text(element, "agencyName", contact.agency)
    _text(element, "caseNumber", contact.case_number)
    return element


def _reporter(facts: TiplineFacts) -> ET.Element:
    reporter = ET.Element("reporter")
    reporter.append(_person("reportingPerson", facts.reporter))
    if facts.contact_person is not None:
        contact = _person("contactPerson", facts.contact_person)
        if len(contact):  # unlike reportingPerson, optional: an empty one says nothing
            reporter.append(contact)
    _text(reporter, "companyTemplate", facts.company_template)
    _text(reporter, "termsOfService", facts.terms_of_service)
    _text(reporter, "legalURL", facts.legal_url)
    return reporter


def _person(tag: str, contact: Contact) -> ET.Element:
    """A `person` or `contactPerson`: both start firstName, lastName, phone, email."""
    person = ET.Element(tag)
    _text(person, "firstName", contact.first_name)
    _text(person, "lastName", contact.last_name)
    _text(person, "phone", contact.phone)
    _text(person, "email", contact.email)
    return person


def _reported_account(account: ReportedAccount) -> ET.Element:
    reported = ET.Element("personOrUserReported")
    if any(_clean(email) for email in account.emails):
        person = ET.SubElement(reported, "personOrUserReportedPerson")
        for email in account.emails:
            _text(person, "email", email)
    _text(reported, "espIdentifier", account.esp_identifier)
    _text(reported, "espService", account.esp_service)
    _text(reported, "screenName", account.screen_name)
    for name in account.display_names:
        _text(reported, "displayName", name)
    for url in account.profile_urls:
        _text(reported, "profileUrl", url)
    for event in account.ip_events:
        if _clean(event.ip):
            reported.append(_ip_capture(event))
    _text(reported, "additionalInfo", account.additional_info)
    return reported


def _ip_capture(event: IpEvent) -> ET.Element:
    capture = ET.Element("ipCaptureEvent")
    _text(capture, "ipAddress", event.ip)
    _text(capture, "eventName", event.event if event.event in IP_EVENTS else None)
    _text(capture, "dateTime", _when(event.at))
    return capture


def _victim(victim: Victim) -> ET.Element:
    element = ET.Element("victim")
    person = ET.SubElement(element, "victimPerson")  # required, even when empty
    _text(person, "age", None if victim.age is None else str(victim.age))
    _text(element, "additionalInfo", victim.additional_info)
    return element


def _flags(parent: ET.Element, tag: str, known: tuple[str, ...], chosen: Iterable[str]) -> None:
    """An annotations element: one `<name>true</name>` per chosen flag (the XSD fixes
    them to true), written in the XSD's order."""
    wanted = set(chosen)
    if wanted:
        element = ET.SubElement(parent, tag)
        for name in known:
            if name in wanted:
                _text(element, name, "true")


def _text(parent: ET.Element, tag: str, value: str | None) -> None:
    """Append `<tag>value</tag>` unless the value is missing (None, empty, blank)."""
    cleaned = _clean(value)
    if cleaned:
        ET.SubElement(parent, tag).text = cleaned


def _clean(value: str | None) -> str:
    return _NOT_XML.sub("", value).strip() if value else ""


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the CyberTipline report; use "
                         "takedown.clock.utcnow() or a timezone-aware value")
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _boolean(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root)  # for people reading the draft; the XSD ignores the whitespace
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


# --- reading and checking ---------------------------------------------------------


def parse_xml(data: bytes) -> ET.Element:
    """Parse a document that came from outside. A DTD is refused (none of NCMEC's
    documents has one, and a DTD's entities are how XML parsers get exploited).
    Raises ValueError, with a readable reason, when the document is refused or malformed.
    """
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse_dtd(*_: object) -> None:
        raise ValueError("a DTD (<!DOCTYPE>) is not accepted")

    def start(tag: str, attributes: dict[str, str]) -> None:
        builder.start(_clark(tag), {_clark(k): v for k, v in attributes.items()})

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(_clark(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise ValueError(f"malformed XML: {expat.ErrorString(error.code)} "
                         f"at line {error.lineno}, column {error.offset}") from error
    return builder.close()


def _clark(name: str) -> str:
    """expat's 'uri}local' as ElementTree's '{uri}local'."""
    return "{" + name if "}" in name else name


def schema_errors(xml: bytes, xsd: Path | None = None) -> list[str]:
    """Why NCMEC would refuse the document: [] when it is valid against the XSD (the
    vendored copy unless one is named); otherwise one 'path: reason' per problem."""
    try:
        root = parse_xml(xml)
    except ValueError as error:
        return [str(error)]
    schema = _schema((xsd or VENDORED_XSD).resolve())
    return [f"{error.path or '/'}: {error.reason or error.message}"
            for error in schema.iter_errors(root, use_location_hints=False)]


@functools.lru_cache(maxsize=4)
def _schema(xsd: Path) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(xsd))  # compiling the CyberTipline XSD takes ~0.2 s
