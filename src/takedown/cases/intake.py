"""Report intake: a report is stored, joins the case about the same content (or a
repost or copy of it), raises that case's priority, and may restrict at once."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.access import digest, report_for_token
from takedown.banks.matching import stored_hits
from takedown.banks.service import CONFIRMED, SELF_REPORTED, UNDER_REVIEW, BankBook
from takedown.cases.casebook import CaseBook, MediaLink
from takedown.cases.enforcement import Enforcement
from takedown.cases.graph import ContentGraph
from takedown.cases.matches import MatchDesk
from takedown.cases.reporters import ReporterBook
from takedown.cases.sweeps import Sweeper
from takedown.clock import utcnow
from takedown.domain.case import CaseState, EventType, NewEvent, reach_tier
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import (
    CaseStatus,
    Category,
    MediaVia,
    ModerationState,
    Relation,
)
from takedown.errors import Conflict, Invalid, NotFound
from takedown.media.signals import signal_type
from takedown.platform.actions import ActionLedger
from takedown.store.tables import (
    BankEntryRow,
    ContentRow,
    PlatformRow,
    ReportContentRow,
    ReporterMarkRow,
    ReportInboxRow,
    ReportRow,
    SignalRow,
)

ADULT_AGE = 18


@dataclass(frozen=True)
class ReportSubmission:
    category: Category
    relation: Relation
    content_ids: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    platform: str | None = None
    depicted_minor: bool | None = None
    age_at_time: int | None = None
    age_now: int | None = None
    case_numbers: list[str] = field(default_factory=list)
    text: str = ""
    contact_email: str | None = None
    language: str = "en"
    # Set by the API from the platform's key, never from the body alone (who says
    # which account they are must be the platform).
    reporter_platform: int | None = None
    reporter_account: str | None = None
    signature: str | None = None  # TAKE IT DOWN Act (domain.takeitdown)
    good_faith_statement: bool | None = None
    # Hashes the reporter's own device computed of their own images or videos (the
    # page /report/hash): [{"signal_type": "pdq" | "md5", "value": hex}]. The files never
    # reach takedown; the hashes go into the `self_reported` bank for the report's case.
    hashes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def about_a_minor(self) -> bool:
        ages = [a for a in (self.age_at_time, self.age_now) if a is not None]
        return bool(self.depicted_minor) or any(a < ADULT_AGE for a in ages)


@dataclass(frozen=True)
class Reference:
    kind: str  # 'content_id' or 'url'
    value: str
    resolved: bool
    problem: str | None = None


@dataclass(frozen=True)
class ReportReceipt:
    report_id: str
    status_token: str
    received_at: datetime
    references: list[Reference]


def submission_json(sub: ReportSubmission) -> dict[str, Any]:
    return {**asdict(sub), "category": sub.category.value, "relation": sub.relation.value}


def submission_from_json(data: dict[str, Any]) -> ReportSubmission:
    return ReportSubmission(**{**data, "category": Category(data["category"]),
                               "relation": Relation(data["relation"])})


class ReportIntake:
    def __init__(self, session: Session, policy: Policy, sweeper: Sweeper | None = None) -> None:
        self.session = session
        self.policy = policy
        self.graph = ContentGraph(session)
        self.book = CaseBook(session, policy)
        self.ledger = ActionLedger(session, policy)
        self.enforcement = Enforcement(session, policy, self.book, self.ledger, sweeper)
        self.sweeper = sweeper

    def receive(self, sub: ReportSubmission) -> ReportReceipt:
        """Store the report as received (see ReportInboxRow): the answer the reporter
        gets waits for nothing else. Content that takedown does not know at all is
        refused now, so that the reporter can correct it."""
        check_own_hashes(sub.hashes)
        items, references = self.resolve(sub)
        if not items and not sub.urls and not sub.hashes:
            raise NotFound("none of the reported content is known to takedown",
                           code="unknown_content",
                           fields=[{"field": f"content_ids[{i}]", "message": "unknown content id"}
                                   for i, _ in enumerate(sub.content_ids)])
        report_id = str(uuid.uuid4())
        token = secrets.token_urlsafe(24)
        now = utcnow()
        self.session.add(ReportInboxRow(
            id=report_id, submission=submission_json(sub), status_token_hash=digest(token),
            references=[r.__dict__ for r in references], priority=self._urgency(sub),
            created_at=now, status="pending", attempts=0,
            next_attempt_at=now - timedelta(seconds=1)))
        return ReportReceipt(report_id, token, now, references)

    def _urgency(self, sub: ReportSubmission) -> float:
        """Inbox order: the one credible report in a flood is worked in first."""
        relation = self.policy.credibility.relation_weight.get(sub.relation, 1.0)
        return self.policy.for_category(sub.category).severity * relation

    def work_in(self, rows: list[ReportInboxRow]) -> int:
        """Work received reports about the same content into their case: they join the
        case about that content (or a repost or copy of it), raise its priority, and
        may restrict at once. A flood about one viral item is worked in together:
        the case is found, locked, linked and appended to once for all of them.
        Returns the case."""
        subs = [submission_from_json(row.submission) for row in rows]
        items, _ = self.resolve(subs[0])
        files = self.reported_files(items)
        copies = self._copies(files)
        case_id = self._case_for(items, set(files) | set(copies))
        self.book.lock(case_id)  # reports on one case link and append one at a time
        keys = [_reporter_key(sub, row.id) for row, sub in zip(rows, subs, strict=True)]
        self.session.add_all(self._report_row(row, sub, case_id, key)
                             for row, sub, key in zip(rows, subs, keys, strict=True))
        self.session.flush()  # rows below refer to them; no relationship() orders them
        self.session.add_all(ReportContentRow(report_id=row.id, content_id=i)
                             for row in rows for i in items)
        self.book.link(self.graph, case_id, items)
        new_files = self.book.link_media(case_id, {**copies, **files})
        marks = {m.reporter_key: m for m in self.session.scalars(
            select(ReporterMarkRow).where(ReporterMarkRow.reporter_key.in_(set(keys))))}
        reports = [(row.id, sub, key) for row, sub, key in zip(rows, subs, keys, strict=True)]
        state, seq = self._record(case_id, reports, items, marks)
        self._bank_own_hashes(case_id, subs, [row.id for row in rows])
        for report_id, _, key in reports:
            if key in marks:
                state = ReporterBook(self.session, self.policy, self.sweeper).invalidate_new(
                    case_id, report_id, marks[key])
        trusted = [sub for _, sub, key in reports if key not in marks]
        if trusted:
            rules = self.policy.for_category(trusted[0].category)
            sub = next((s for s in trusted if s.relation in rules.restrict_first_relations),
                       trusted[0])
            self._restrict_first(case_id, state, seq, sub, hold=bool(new_files))
        return case_id

    def _bank_own_hashes(self, case_id: int, subs: list[ReportSubmission],
                         report_ids: list[str]) -> int:
        """Hashes a reporter computed of their own images: into `self_reported`, for this
        case, and matched against what is registered already (future uploads match as
        they come). A match is hidden pending review, never removed on the hash alone."""
        book = BankBook(self.session)
        entries = [book.add(SELF_REPORTED, h["signal_type"], h["value"],
                            source=f"report {report_id}", added_by="reporter",
                            case_id=case_id)[0]
                   for sub, report_id in zip(subs, report_ids, strict=True)
                   for h in sub.hashes]
        if not entries or self.sweeper is None:
            return 0
        return MatchDesk(self.session, self.book, self.enforcement).sweep(self.sweeper, entries)

    @staticmethod
    def _report_row(row: ReportInboxRow, sub: ReportSubmission, case_id: int,
                    reporter_key: str) -> ReportRow:
        return ReportRow(
            id=row.id, created_at=row.created_at, case_id=case_id,
            category=sub.category.value, relation=sub.relation.value,
            depicted_minor=sub.depicted_minor, age_at_time=sub.age_at_time,
            age_now=sub.age_now, case_numbers=sub.case_numbers, text=sub.text,
            contact_email=sub.contact_email, reporter_key=reporter_key,
            language=sub.language, status_token_hash=row.status_token_hash,
            references=row.references, signature=sub.signature,
            good_faith_statement=sub.good_faith_statement)

    def files_to_hash(self, report_id: str) -> tuple[int, set[int]]:
        """(case, files whose references the report's second step needs): those of a
        report the policy trusts to restrict first, still valid, on an open case.
        Nothing for other reports: their files wait for a reviewer (and cost nothing
        to whoever sends them)."""
        report = self.session.get(ReportRow, report_id)
        if report is None:
            return 0, set()
        state = self.book.state(report.case_id)
        rules = self.policy.for_category(Category(report.category))
        if state.status.is_closed or report_id in state.invalid_reports or \
                not rules.restrict_first or \
                Relation(report.relation) not in rules.restrict_first_relations:
            return report.case_id, set()
        items = set(self.session.scalars(select(ReportContentRow.content_id).where(
            ReportContentRow.report_id == report_id)))
        return report.case_id, set(self.reported_files(items))

    def hide_copies(self, case_id: int) -> None:
        """Once the references of the case's files are known: hold them, and if the
        case is hidden, hide the copies they find too."""
        self.book.lock(case_id)
        state = self.book.state(case_id)
        if state.status.is_closed:
            return
        self.enforcement.hold(case_id)
        if state.restricted:
            self.enforcement.restrict(case_id, state, step=f"case:{case_id}:copies:{state.events}",
                                      reason="restricted pending review: a copy of content "
                                             "under review")

    def reported_files(self, items: set[int]) -> dict[int, MediaLink]:
        """The files a report is about: the only file of each post it shows (a repost
        shows its origin, a quote with no file what it quotes), and of a post with
        several files those that match a bank. Which of an album's other files are
        abusive is for a reviewer to say."""
        only, several = self.graph.shown_files(items)
        found = {m: MediaLink(MediaVia.REPORTED) for m in only}
        for hit in stored_hits(self.session, several, exclude=UNDER_REVIEW):
            for media_id in self._holding(hit, several):
                found.setdefault(media_id, MediaLink(MediaVia.BANK, bank=hit.bank))
        return found

    def _holding(self, entry: BankEntryRow, media_ids: set[int]) -> set[int]:
        return set(self.session.scalars(select(SignalRow.media_id).where(
            SignalRow.media_id.in_(media_ids), SignalRow.signal_type == entry.signal_type,
            SignalRow.lookup == entry.lookup)))

    def _copies(self, files: dict[int, MediaLink]) -> dict[int, MediaLink]:
        """Registered copies of the reported files (they may belong to a case already)."""
        if self.sweeper is None or not files:
            return {}
        distance = BankBook(self.session).bank(CONFIRMED).pdq_distance
        return {c.media_id: MediaLink(MediaVia.COPY, copy_of=c.copy_of, distance=c.distance)
                for c in self.sweeper.copies_of(files, distance).values()}

    def add_information(self, report_id: str, token: str, text: str,
                        case_numbers: list[str]) -> CaseState:
        """The reporter answers a reviewer's question (or adds to their report). Case
        numbers given here count towards priority like those in the report."""
        report = report_for_token(self.session, report_id, token)
        self.book.lock(report.case_id)
        if self.book.state(report.case_id).status.is_closed:
            raise Conflict("this report's case is closed; a new report about the content "
                           "reopens it", code="case_closed")
        state, _ = self.book.append(report.case_id, [NewEvent(
            EventType.INFORMATION_PROVIDED,
            {"report_id": report_id, "text": text, "case_numbers": sorted(set(case_numbers))})])
        return state

    def resolve(self, sub: ReportSubmission) -> tuple[set[int], list[Reference]]:
        query = select(ContentRow.id)
        if sub.platform:
            query = query.join(PlatformRow).where(PlatformRow.name == sub.platform)
        items: set[int] = set()
        references: list[Reference] = []
        for kind, values, column in (("content_id", sub.content_ids, ContentRow.external_id),
                                     ("url", sub.urls, ContentRow.url)):
            for value in values:
                found = set(self.session.scalars(query.where(column == value)))
                items |= found
                references.append(Reference(kind, value, bool(found),
                                            None if found else f"unknown {kind.replace('_', ' ')}"))
        return items, references

    def _case_for(self, items: set[int], media: set[int]) -> int:
        """The newest case about any copy of this content, or a new one."""
        self.book.serialise(self.graph, items, media)
        existing = self.book.case_about(self.graph, items, media) if items else None
        return existing if existing is not None else self.book.open().id

    def _record(self, case_id: int, reports: list[tuple[str, ReportSubmission, str]],
                items: set[int], marks: dict[str, ReporterMarkRow]) -> tuple[CaseState, int]:
        """Append a REPORTED event per report (after REOPENED, if a report from a reporter
        not marked abusive reopens the case), then what the case newly shows."""
        state = self.book.state(case_id)
        events: list[NewEvent] = []
        reopener = next((r for r, _, key in reports if key not in marks), None)
        if reopener and state.status.is_closed and self._reopens(state, items):
            events.append(NewEvent(EventType.REOPENED, {"report_id": reopener}))
        events.extend(NewEvent(EventType.REPORTED, {
            "report_id": report_id, "category": sub.category.value,
            "relation": sub.relation.value, "minor": sub.about_a_minor,
            "case_numbers": sorted(set(sub.case_numbers)), "reporter_key": key})
            for report_id, sub, key in reports)
        events.extend(self._hash_match(state, case_id))
        events.extend(reach_event(state, self.graph.reach(self.graph.case_items(case_id))))
        return self.book.append(case_id, events)

    def _reopens(self, state: CaseState, items: set[int]) -> bool:
        """A closed case reopens unless it was a violation and this content is gone."""
        if state.status is CaseStatus.CLOSED_NO_VIOLATION:
            return True
        return any(r.moderation_state != ModerationState.REMOVED.value
                   for r in self.graph.rows(items))

    def _hash_match(self, state: CaseState, case_id: int) -> list[NewEvent]:
        if state.hash_match:
            return []
        hits = stored_hits(self.session, self.graph.case_media(case_id), exclude=UNDER_REVIEW)
        if not hits:
            return []
        hit = hits[0]
        return [NewEvent(EventType.HASH_MATCHED, {"bank": hit.bank, "signal_type":
                                                  hit.signal_type, "entry_id": hit.id})]

    def _restrict_first(self, case_id: int, state: CaseState, seq: int,
                        sub: ReportSubmission, hold: bool) -> None:
        """Hold the case's files when the report brought new ones (copies uploaded
        during review then join it; the flood of reports on a viral item brings none),
        and, when the reporter is one the policy trusts, hide what the case may hide
        before a human has looked (`Enforcement.credible`)."""
        rules = self.policy.for_category(sub.category)
        if state.status.is_closed or not rules.restrict_first:
            return
        if hold or not self.enforcement.holds(case_id):
            self.enforcement.hold(case_id)
        if sub.relation not in rules.restrict_first_relations:
            return
        self.enforcement.restrict(
            case_id, state, step=f"case:{case_id}:event:{seq}",
            # Nothing about who reported: the platform, or someone reading its logs,
            # may be the one reported.
            reason="restricted pending review")


def reach_event(state: CaseState, reach: tuple[int, int, float]) -> list[NewEvent]:
    """A REACH_OBSERVED event when the content's reach moved to another tier."""
    views, shares, rate = reach
    if reach_tier(views, shares, rate) == reach_tier(state.views, state.shares,
                                                       state.views_per_hour):
        return []
    return [NewEvent(EventType.REACH_OBSERVED,
                     {"views": views, "shares": shares, "views_per_hour": round(rate, 3)})]


OWN_HASH_TYPES = ("pdq", "md5")
MAX_OWN_HASHES = 20
MIN_PDQ_QUALITY = 50  # below it a PDQ hash matches flat, unrelated images (upstream's rule)


def check_own_hashes(hashes: list[dict[str, Any]]) -> None:
    """A reporter's own hashes: PDQ of images (with its quality) or MD5 of videos."""
    if len(hashes) > MAX_OWN_HASHES:
        raise Invalid(f"at most {MAX_OWN_HASHES} hashes in one report", code="too_many_hashes")
    for n, entry in enumerate(hashes):
        where = f"hashes[{n}]"
        kind = entry.get("signal_type")
        if kind not in OWN_HASH_TYPES:
            raise Invalid("a hash is a PDQ hash of an image or an MD5 of a video",
                          code="invalid_hash", fields=[{"field": where, "message": "pdq or md5"}])
        try:
            entry["value"] = signal_type(kind).normalise(str(entry.get("value", "")))
        except ValueError as exc:
            raise Invalid(str(exc), code="invalid_hash",
                          fields=[{"field": where, "message": str(exc)}]) from None
        quality = entry.get("quality")
        if kind == "pdq" and (not isinstance(quality, int) or quality < MIN_PDQ_QUALITY):
            raise Invalid("this picture is too plain to be recognised by its hash (PDQ quality "
                          f"under {MIN_PDQ_QUALITY}): please report the posts themselves",
                          code="hash_quality_too_low",
                          fields=[{"field": where, "message": "quality too low"}])


def _reporter_key(sub: ReportSubmission, report_id: str) -> str:
    """Reports from one platform account come from one reporter (the platform vouches
    for the account); else reports with the same contact email do; anonymous reports
    each count as their own. Stored as a hash so it reveals no account or address."""
    if sub.reporter_account and sub.reporter_platform is not None:
        return hashlib.sha256(
            f"account:{sub.reporter_platform}:{sub.reporter_account}".encode()).hexdigest()
    if sub.contact_email:
        return hashlib.sha256(sub.contact_email.strip().lower().encode()).hexdigest()
    return hashlib.sha256(f"anonymous:{report_id}".encode()).hexdigest()

