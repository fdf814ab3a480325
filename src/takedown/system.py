"""The takedown service, wired: one object that the API, the CLI and the demo call.

Each method is one unit of work: it opens a transaction, calls the services,
commits, and only then returns, so that nothing is acknowledged before it is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takedown import access, audit
from takedown.audit import Verdict
from takedown.banks.formats import FORMATS, READERS, WRITERS, FormatError
from takedown.banks.matching import BankMatch, Matcher
from takedown.banks.service import BankBook, ImportResult, as_record
from takedown.cases import views
from takedown.cases.casebook import CaseBook
from takedown.cases.decisions import DecisionDesk
from takedown.cases.enforcement import Enforcement
from takedown.cases.graph import ContentGraph
from takedown.cases.intake import ReportIntake, ReportReceipt, ReportSubmission
from takedown.cases.matches import MatchDesk
from takedown.cases.reporters import ReporterBook
from takedown.cases.sweeps import References, Sweeper
from takedown.clock import utcnow
from takedown.config import Settings, load_policy
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import CaseStatus, Category, Outcome, Role
from takedown.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TakedownError,
    Unauthorized,
)
from takedown.index import hamming
from takedown.index.live import Indexes
from takedown.media.intake import MediaInput, prepare_media
from takedown.media.signals import Signal, compute_signals, signal_type
from takedown.media.storage import MediaStore, sniff_mime
from takedown.notify.reporter import ask_reporters
from takedown.pipeline.delivery import ActionDeliverer
from takedown.pipeline.escalation import EscalationScheduler, NotificationSender
from takedown.pipeline.worker import WorkerPool
from takedown.platform.actions import ActionLedger
from takedown.platform.content import (
    ContentRegistry,
    ContentSubmission,
    ReachUpdate,
    Registration,
)
from takedown.store.db import Database
from takedown.store.tables import (
    AuditEntryRow,
    BankEntryRow,
    ContentRow,
    IdempotencyRow,
    MediaRow,
    PlatformRow,
)

Handler = Callable[[Session], tuple[int, dict[str, Any]]]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlatformIdentity:
    id: int
    name: str


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class Takedown:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policy = load_policy(settings.policy_path)
        self.db = Database(settings.effective_database_url)
        self.media_store = MediaStore(settings.media_dir)
        self.indexes = Indexes()
        self.deliverer = ActionDeliverer(
            self.db, batch=settings.webhook_batch, lease_s=settings.lease_s,
            timeout_s=settings.webhook_timeout_s)
        self.scheduler = EscalationScheduler(self.db, self.policy, settings)
        self.sender = NotificationSender(self.db, settings)
        self.workers = WorkerPool(self.deliverer, settings.inprocess_workers,
                                  settings.poll_interval_s, self.sender, self.scheduler,
                                  settings.escalation_check_s)

    # --- lifecycle -------------------------------------------------------------

    def migrate(self) -> None:
        self.db.migrate()
        with self.db.transaction() as s:
            BankBook(s).ensure_defaults()
            audit.ensure_head(s)

    def warm_up(self) -> None:
        """Before serving: load the index's compiled loops and build the in-memory
        indexes from the stored hashes, so that the first request does not pay for it."""
        hamming.warm_up()
        with self.db.transaction() as s:
            self.indexes.bank.sync(s)
            self.indexes.media.sync(s)

    def sweeper(self, session: Session, *, compute: bool = True) -> Sweeper:
        """`compute`: whether references not yet stored are computed on the spot (in
        the caller's transaction) or left out."""
        return Sweeper(session, self.indexes, self.media_store, compute=compute)

    def registry(self, session: Session) -> ContentRegistry:
        return ContentRegistry(session, self.policy, self.indexes, self.media_store)

    def start_workers(self) -> None:
        if self.workers.threads > 0:
            self.workers.start()

    def close(self) -> None:
        self.workers.stop()
        self.deliverer.close()
        self.db.dispose()

    # --- access ----------------------------------------------------------------

    def platform_for_key(self, api_key: str | None) -> PlatformIdentity:
        with self.db.transaction() as s:
            row = access.platform_for_key(s, api_key)
            return PlatformIdentity(row.id, row.name)

    def platform_named(self, name: str) -> PlatformIdentity:
        with self.db.transaction() as s:
            row = s.scalar(select(PlatformRow).where(PlatformRow.name == name))
            if row is None:
                raise NotFound(f"no platform named {name!r}", code="unknown_platform")
            return PlatformIdentity(row.id, row.name)

    def reviewer_for_token(self, token: str | None) -> Reviewer:
        with self.db.transaction() as s:
            return access.reviewer_for_token(s, token)

    def add_platform(self, name: str, webhook_url: str, **secrets: str) -> tuple[str, str]:
        with self.db.transaction() as s:
            return access.add_platform(s, name, webhook_url, **secrets)

    def add_user(self, name: str, role: Role, token: str | None = None,
                 password: str | None = None, *, by: str = "cli", source: str = "cli") -> str:
        with self.db.transaction() as s:
            created = access.add_user(s, name, role, token, password)
            audit.record(s, by, "user_added", f"user:{name}", source, {"role": role.value})
            return created

    def set_role(self, name: str, role: Role, *, by: str = "cli", source: str = "cli") -> None:
        with self.db.transaction() as s:
            old = access.set_role(s, name, role)
            audit.record(s, by, "role_changed", f"user:{name}", source,
                         {"from": old, "to": role.value})

    # --- console sign-in -------------------------------------------------------

    def sign_in(self, name: str, password: str, source: str) -> tuple[Reviewer, str, str]:
        """(reviewer, session token, CSRF token); every attempt is audited (a failure in
        a transaction of its own, since the failed one is rolled back)."""
        try:
            with self.db.transaction() as s:
                reviewer = access.check_password(s, name, password)
                token, csrf = access.open_session(s, reviewer)
                audit.record(s, reviewer.id, "signed_in", f"user:{name}", source)
                return reviewer, token, csrf
        except Unauthorized:
            self.audit(name, "sign_in_failed", f"user:{name}", source)
            raise

    def session_reviewer(self, token: str | None) -> tuple[Reviewer, str]:
        with self.db.transaction() as s:
            return access.session_reviewer(s, token)

    def sign_out(self, token: str | None, reviewer: Reviewer, source: str) -> None:
        with self.db.transaction() as s:
            access.close_session(s, token)
            audit.record(s, reviewer.id, "signed_out", f"user:{reviewer.id}", source)

    def audit(self, actor: str, action: str, target: str, source: str,
              details: dict[str, Any] | None = None) -> None:
        with self.db.transaction() as s:
            audit.record(s, actor, action, target, source, details)

    def verify_audit(self) -> Verdict:
        with self.db.transaction() as s:
            return audit.verify(s)

    # --- content ---------------------------------------------------------------

    def register_content(self, platform: PlatformIdentity, sub: ContentSubmission,
                         media: list[MediaInput]) -> Registration:
        with self.db.transaction() as s:  # a retry of a known item needs no media work
            row = s.get(PlatformRow, platform.id)
            assert row is not None
            registry = self.registry(s)
            if registry.find(row, sub.content_id) is not None:
                return registry.register(row, sub, [])
        prepared = prepare_media(media, self.media_store,
                                 max_bytes=self.settings.max_media_bytes,
                                 timeout_s=self.settings.fetch_timeout_s)
        with self.db.transaction() as s:
            row = s.get(PlatformRow, platform.id)
            assert row is not None
            result = self.registry(s).register(row, sub, prepared)
        self.workers.wake()
        return result

    def content_state(self, platform: PlatformIdentity, content_id: str) -> dict[str, Any]:
        with self.db.transaction() as s:
            row = s.scalar(select(ContentRow).where(ContentRow.platform_id == platform.id,
                                                    ContentRow.external_id == content_id))
            if row is None:
                raise NotFound(f"no content {content_id!r} on this platform",
                               code="unknown_content")
            graph = ContentGraph(s)
            case_id = row.moderation_case_id or max(
                CaseBook(s, self.policy).cases_reaching(graph, {row.id}), default=None)
            return {"content_id": row.external_id, "moderation_state": row.moderation_state,
                    "case_id": case_id, "views": row.views, "shares": row.shares}

    def update_reach(self, platform: PlatformIdentity,
                     updates: list[ReachUpdate]) -> tuple[int, list[str]]:
        with self.db.transaction() as s:
            row = s.get(PlatformRow, platform.id)
            assert row is not None
            return self.registry(s).update_reach(row, updates)

    # --- reports ---------------------------------------------------------------

    def submit_report(self, sub: ReportSubmission, idempotency_key: str | None,
                      payload: Any) -> tuple[int, dict[str, Any]]:
        """Two steps, so that nothing waits for hashing: the report is stored, and what it
        reaches hidden, with the references of its files as far as they are known (else
        their signals as uploaded); then, for a report the policy trusts to restrict
        first, the references still missing are computed (outside any transaction:
        seconds for a long video) and the copies they find are hidden and join the
        case. The second step is best effort: if it fails, the decision's sweep finds
        the copies."""
        status, body = self._idempotent("report", idempotency_key, payload, lambda s: (
            202, self._receipt(ReportIntake(s, self.policy, self.sweeper(s, compute=False))
                               .submit(sub))))
        try:
            self._hide_copies(str(body["report_id"]))
        except Exception:  # the report is stored and acknowledged; see the docstring
            log.exception("hiding the copies of report %s's files failed", body["report_id"])
        return status, body

    @staticmethod
    def _receipt(receipt: ReportReceipt) -> dict[str, Any]:
        return {"report_id": receipt.report_id, "status_token": receipt.status_token,
                "received_at": receipt.received_at.isoformat(),
                "references": [r.__dict__ for r in receipt.references]}

    def _hide_copies(self, report_id: str) -> None:
        with self.db.transaction() as s:
            intake = ReportIntake(s, self.policy)
            case_id, files = intake.files_to_hash(report_id)
            missing = References(s, self.media_store).missing(files)
        if not missing:
            return
        self._prepare_references(missing)
        with self.db.transaction() as s:
            ReportIntake(s, self.policy, self.sweeper(s)).hide_copies(case_id)
        self.workers.wake()

    def report_status(self, report_id: str, token: str) -> dict[str, Any]:
        with self.db.transaction() as s:
            return views.report_status(s, self.policy, report_id, token)

    def provide_information(self, report_id: str, token: str, text: str,
                            case_numbers: list[str], idempotency_key: str | None,
                            payload: Any) -> tuple[int, dict[str, Any]]:
        """A reporter's answer (or any addition) to their report, while its case is open."""
        def handle(s: Session) -> tuple[int, dict[str, Any]]:
            ReportIntake(s, self.policy).add_information(report_id, token, text, case_numbers)
            return 202, json.loads(json.dumps(
                views.report_status(s, self.policy, report_id, token), default=str))

        return self._idempotent(f"information:{report_id}", idempotency_key, payload, handle)

    # --- reporters -------------------------------------------------------------

    def reporter(self, reporter_key: str) -> dict[str, Any]:
        with self.db.transaction() as s:
            return ReporterBook(s, self.policy).record(reporter_key)

    def mark_reporter(self, reporter_key: str, reviewer: Reviewer, reason: str,
                      source: str) -> dict[str, Any]:
        """Mark a reporter abusive: their reports on open cases are invalidated. A refusal
        is audited too."""
        try:
            with self.db.transaction() as s:
                book = ReporterBook(s, self.policy, self.sweeper(s))
                result = book.mark(reporter_key, reviewer, reason)
                audit.record(s, reviewer.id, "reporter_marked_abusive",
                             f"reporter:{reporter_key}", source,
                             {"reason": reason, **result.__dict__})
                answer = {**book.record(reporter_key), **result.__dict__}
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"reporter:{reporter_key}", source)
            raise
        self.workers.wake()
        return answer

    def unmark_reporter(self, reporter_key: str, reviewer: Reviewer,
                        source: str) -> dict[str, Any]:
        try:
            with self.db.transaction() as s:
                book = ReporterBook(s, self.policy)
                result = book.unmark(reporter_key, reviewer)
                audit.record(s, reviewer.id, "reporter_unmarked", f"reporter:{reporter_key}",
                             source, result.__dict__)
                return {**book.record(reporter_key), **result.__dict__}
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"reporter:{reporter_key}", source)
            raise

    # --- moderation ------------------------------------------------------------

    def queue(self, reviewer: Reviewer, *, statuses: list[CaseStatus] | None,
              category: Category | None, limit: int, mine: bool = False,
              language: str | None = None, specialists: bool | None = None,
              ) -> list[dict[str, Any]]:
        """Open cases, most urgent first. `specialists`: True for the specialists' queue
        (child-safety and escalated cases), False for the general one, None for both.
        Moderators have the general queue only."""
        if reviewer.role is Role.MODERATOR:
            if specialists:
                raise Forbidden("the specialists' queue is for child-safety specialists, "
                                "liaisons and admins", code="specialists_only")
            specialists = False
        wanted = [s.value for s in (statuses or [s for s in CaseStatus if not s.is_closed])]
        special = frozenset(c.value for c, p in self.policy.categories.items()
                            if p.specialist_only)
        with self.db.transaction() as s:
            return views.queue(s, statuses=wanted, category=category.value if category else None,
                               limit=limit, claimed_by=reviewer.id if mine else None,
                               language=language, specialists=specialists,
                               specialist_categories=special)

    def case_detail(self, case_id: int, reviewer: Reviewer,
                    source: str = "api") -> dict[str, Any]:
        """The case, for a reviewer allowed to see it; a refusal is audited too."""
        try:
            with self.db.transaction() as s:
                state = DecisionDesk(s, self.policy).visible_state(case_id, reviewer)
                audit.record(s, reviewer.id, "case_viewed", f"case:{case_id}", source)
                return views.case_detail(s, self.policy, case_id, state)
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"case:{case_id}", source)
            raise

    def case_media(self, case_id: int, sha256: str, reviewer: Reviewer,
                   source: str) -> tuple[bytes, str | None]:
        """One media file of a case, for a reviewer allowed to see the case. Every view
        is audited; it also counts towards the reviewer's views today."""
        try:
            with self.db.transaction() as s:
                DecisionDesk(s, self.policy).visible_state(case_id, reviewer)
                graph = ContentGraph(s)
                media = s.scalar(select(MediaRow).where(MediaRow.sha256 == sha256))
                if media is None or media.id not in graph.media_of(graph.case_items(case_id)):
                    raise NotFound("no such media in this case", code="unknown_media")
                audit.record(s, reviewer.id, "media_viewed", f"case:{case_id}", source,
                             {"sha256": sha256})
                mime = media.mime
        except Forbidden:
            self.audit(reviewer.id, "access_denied", f"case:{case_id}/media", source)
            raise
        return self.media_store.get(sha256), mime

    def media_views_by_reviewer(self) -> dict[str, int]:
        """Media opened today, per reviewer: for admins watching exposure."""
        start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.transaction() as s:
            return {actor: int(n) for actor, n in s.execute(
                select(AuditEntryRow.actor, func.count()).where(
                    AuditEntryRow.action == "media_viewed", AuditEntryRow.at >= start)
                .group_by(AuditEntryRow.actor))}

    def media_views_today(self, reviewer: Reviewer) -> int:
        start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.transaction() as s:
            return int(s.scalar(select(func.count()).select_from(AuditEntryRow).where(
                AuditEntryRow.actor == reviewer.id, AuditEntryRow.action == "media_viewed",
                AuditEntryRow.at >= start)) or 0)

    def decide(self, case_id: int, reviewer: Reviewer, outcome: Outcome, notes: str,
               category: Category | None, idempotency_key: str | None,
               payload: Any, source: str = "api", reason: str | None = None,
               question: str | None = None,
               media: list[str] | None = None) -> tuple[int, dict[str, Any]]:
        """`media`: with a violation, the files the reviewer confirms (SHA-256); by
        default the case's own files and their copies."""
        if outcome is Outcome.VIOLATION:
            with self.db.transaction() as s:  # hash what will be banked beforehand
                files = DecisionDesk(s, self.policy).files_to_bank(case_id, reviewer, media)
            self._prepare_references(files)

        def handle(s: Session) -> tuple[int, dict[str, Any]]:
            result = DecisionDesk(s, self.policy, self.sweeper(s)).decide(
                case_id, reviewer, outcome, notes, category, reason, question, media)
            if "information_requested" in result.appended:
                ask_reporters(s, case_id, result.state, result.seq, self.settings.public_url)
            audit.record(s, reviewer.id, "decided", f"case:{case_id}", source,
                         {"outcome": outcome.value, "appended": result.appended,
                          "status": result.state.status.value})
            return 200, {"case_id": case_id, "status": result.state.status.value,
                         "appended": result.appended,
                         "actions_requested": result.actions_requested}

        return self._idempotent(f"decision:{case_id}:{reviewer.id}", idempotency_key,
                                payload, handle)

    def decide_many(self, case_ids: list[int], reviewer: Reviewer, outcome: Outcome,
                    notes: str, reason: str | None, source: str,
                    question: str | None = None) -> list[dict[str, Any]]:
        """One decision for many cases (floods), each in its own transaction and under
        the same rules: a child-safety dismissal is still only a proposal."""
        results = []
        for case_id in dict.fromkeys(case_ids):
            try:
                _, body = self.decide(case_id, reviewer, outcome, notes, None, None, {},
                                      source, reason, question)
                results.append({"case_id": case_id, "status": body["status"], "error": None})
            except TakedownError as exc:
                results.append({"case_id": case_id, "status": None, "error": exc.message})
        return results

    def claim(self, case_id: int, reviewer: Reviewer, source: str) -> dict[str, Any]:
        """Take the case for the policy's claim time; 409 if someone else holds it."""
        with self.db.transaction() as s:
            state = DecisionDesk(s, self.policy).claim(case_id, reviewer)
            audit.record(s, reviewer.id, "claimed", f"case:{case_id}", source)
            return {"case_id": case_id, "claimed_by": state.claimed_by,
                    "claimed_until": state.claimed_until}

    def actions(self, *, case_id: int | None = None, platform_id: int | None = None,
                status: str | None = None, limit: int = 100,
                offset: int = 0) -> list[dict[str, Any]]:
        with self.db.transaction() as s:
            return views.actions(s, case_id=case_id, platform_id=platform_id, status=status,
                                 limit=limit, offset=offset)

    # --- idempotency -----------------------------------------------------------

    def _idempotent(self, scope: str, key: str | None, payload: Any,
                    handle: Handler) -> tuple[int, dict[str, Any]]:
        """Run `handle` once per (scope, key): a retry gets the stored answer.
        The answer is stored in the same transaction as the work it describes."""
        fingerprint = request_hash(payload)
        for _attempt in range(2):
            try:
                with self.db.transaction() as s:
                    if key is not None:
                        stored = s.get(IdempotencyRow, (scope, key))
                        if stored is not None:
                            if stored.request_hash != fingerprint:
                                raise Conflict("this Idempotency-Key was used for a different "
                                               "request", code="idempotency_key_reused")
                            return stored.status_code, stored.response
                    status, body = handle(s)
                    if key is not None:
                        s.add(IdempotencyRow(scope=scope, key=key, request_hash=fingerprint,
                                             status_code=status, response=body,
                                             created_at=utcnow()))
                self.workers.wake()
                return status, body
            except IntegrityError:
                if key is None:
                    raise
                # A concurrent request with the same key won; the loop replays its answer.
        raise Conflict("a request with this Idempotency-Key is in progress",
                       code="idempotency_in_progress")

    # --- banks -----------------------------------------------------------------

    def banks(self) -> list[dict[str, Any]]:
        with self.db.transaction() as s:
            return [{"name": b.name, "action": b.action, "pdq_distance": b.pdq_distance,
                     "category": b.category, "enabled": on, "disabled": off,
                     "description": b.description} for b, on, off in BankBook(s).banks()]

    def create_bank(self, name: str, action: str, pdq_distance: int,
                    category: Category, description: str = "") -> None:
        with self.db.transaction() as s:
            BankBook(s).create(name, action, pdq_distance, category, description)

    def add_to_bank(self, bank: str, kind: str, value: str, added_by: str) -> tuple[bool, int]:
        """(whether the hash is new, items on the platform it matched and acted on)."""
        with self.db.transaction() as s:
            row, new = BankBook(s).add(bank, kind, value, source="manual", added_by=added_by)
            matched = self._sweep(s, [row]) if new else 0
        self.workers.wake()
        return new, matched

    def import_bank(self, bank: str, fmt: str, text: str,
                    added_by: str) -> tuple[ImportResult, int]:
        """Import a file in one of banks.formats.FORMATS; then sweep registered media."""
        try:
            parsed = READERS[fmt](text)
        except KeyError:
            raise Invalid(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None
        except FormatError as exc:
            raise Invalid(f"{fmt}: {exc}", code="bad_import") from None
        with self.db.transaction() as s:
            result, new_rows = BankBook(s).import_records(
                bank, parsed.records, source=f"import:{fmt}", added_by=added_by,
                skipped=parsed.skipped)
            matched = self._sweep(s, new_rows)
        self.workers.wake()
        return result, matched

    def export_bank(self, bank: str, fmt: str) -> str:
        if fmt not in WRITERS:
            raise Invalid(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        with self.db.transaction() as s:
            book = BankBook(s)
            book.bank(bank)
            return "".join(WRITERS[fmt](as_record(r) for r in book.entries(bank)))

    def set_bank_entry(self, bank: str, kind: str, value: str, *, enabled: bool | None = None,
                       delete: bool = False) -> None:
        with self.db.transaction() as s:
            book = BankBook(s)
            try:
                normal = signal_type(kind).normalise(value)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
            row = book.find(bank, kind, normal)
            if row is None:
                raise NotFound(f"no {kind} entry {value[:16]}… in bank {bank!r}",
                               code="unknown_entry")
            if delete:
                book.delete(row)
            elif enabled is not None:
                book.set_enabled(row, enabled)

    def _prepare_references(self, media_ids: Iterable[int]) -> None:
        References.compute_missing(self.db, self.media_store, media_ids)

    def _sweep(self, s: Session, rows: list[BankEntryRow]) -> int:
        book = CaseBook(s, self.policy)
        sweeper = self.sweeper(s)
        enforcement = Enforcement(s, self.policy, book, ActionLedger(s), sweeper)
        return MatchDesk(s, book, enforcement).sweep(sweeper, rows)

    # --- hashing and matching files (CLI) ------------------------------------------

    def hash_file(self, data: bytes) -> list[Signal]:
        return compute_signals(data, sniff_mime(data))

    def match_file(self, data: bytes) -> list[BankMatch]:
        signals = self.hash_file(data)
        with self.db.transaction() as s:
            return Matcher(s, self.indexes).against_banks(signals)

