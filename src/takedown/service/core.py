"""The wiring every area shares: settings, the database, indexes, workers; the
lifecycle; and running a request exactly once (idempotency keys)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from takedown import audit
from takedown.banks.service import BankBook
from takedown.cases.limits import ReportLimiter
from takedown.cases.sweeps import References, Sweeper
from takedown.clock import utcnow
from takedown.config import Settings, load_policy
from takedown.errors import (
    Conflict,
)
from takedown.index import hamming
from takedown.index.live import Indexes
from takedown.legal.vault import FileEvidenceStore, Vault, VaultKeys
from takedown.media import decode
from takedown.media.storage import MediaStore
from takedown.pipeline.copies import CopyHunt
from takedown.pipeline.delivery import ActionDeliverer
from takedown.pipeline.escalation import EscalationScheduler, NotificationSender
from takedown.pipeline.intake import IntakeWorker
from takedown.pipeline.statements import StatementSender
from takedown.pipeline.tipline import TiplineSender
from takedown.pipeline.worker import WorkerPool
from takedown.platform.content import (
    ContentRegistry,
)
from takedown.store.db import Database, is_transient
from takedown.store.tables import (
    IdempotencyRow,
)

Handler = Callable[[Session], tuple[int, dict[str, Any]]]
RETRIES = 4
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlatformIdentity:
    id: int
    name: str


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class Core:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policy = load_policy(settings.policy_path)
        self.db = Database(settings.effective_database_url)
        audit.bind(self.db.engine, settings)  # the audit key, kept outside the database
        self.media_store = MediaStore(settings.media_dir)
        decode.configure(decode.DecodeLimits(max_concurrent_decodes=settings.max_concurrent_decodes))
        self.indexes = Indexes()
        self.deliverer = ActionDeliverer(
            self.db, batch=settings.webhook_batch, lease_s=settings.lease_s,
            timeout_s=settings.webhook_timeout_s)
        self.scheduler = EscalationScheduler(self.db, self.policy, settings)
        self.sender = NotificationSender(self.db, settings)
        self.copies = CopyHunt(self.db, self.policy, self.media_store, self.indexes,
                               wake=lambda: self.workers.wake())
        self.intake = IntakeWorker(self.db, self.policy,
                                   lambda s: self.sweeper(s, compute=False), self.copies,
                                   wake=lambda: self.workers.wake(), lease_s=settings.lease_s,
                                   poll_interval_s=settings.poll_interval_s)
        self.report_limiter = ReportLimiter.from_settings(settings)
        self._vault: Vault | None = None
        self.tipline = TiplineSender(self.db, self.policy, settings, self.media_store,
                                     lambda: self.vault)
        self.statement_sender = StatementSender(self.db, settings)
        self.workers = WorkerPool(self.deliverer, settings.inprocess_workers,
                                  settings.poll_interval_s, self.sender, self.scheduler,
                                  settings.escalation_check_s,
                                  anchor=audit.AuditAnchor(self.db, settings).run_once,
                                  legal=self.tipline.run_once,
                                  statements=self.statement_sender.run_once)

    @property
    def vault(self) -> Vault:
        """The evidence vault, opened on first use (the key file is made then, if the
        embedded default has none)."""
        if self._vault is None:
            keys, notice = VaultKeys.from_settings(self.settings.vault_key,
                                                   self.settings.vault_old_keys,
                                                   self.settings.data_dir)
            if notice:
                log.warning(notice)
            self._vault = Vault(FileEvidenceStore(self.settings.vault_dir), keys)
        return self._vault


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
        self.vault  # noqa: B018  (opened now: a key file made for it is said at start)

    def sweeper(self, session: Session, *, compute: bool = True) -> Sweeper:
        """`compute`: whether references not yet stored are computed on the spot (in
        the caller's transaction) or left out."""
        return Sweeper(session, self.indexes, self.media_store, compute=compute)

    def registry(self, session: Session) -> ContentRegistry:
        return ContentRegistry(session, self.policy, self.indexes, self.media_store)

    def start_workers(self) -> None:
        if self.workers.threads > 0:
            self.copies.start()
            self.intake.start(f"{self.workers.prefix}:intake")
            self.workers.start()

    def settle(self) -> None:
        """Work in every received report and finish finding their copies, here and now
        (tests, and processes run without workers)."""
        self.intake.process_all()
        self.copies.drain()

    def close(self) -> None:
        self.intake.stop()
        self.copies.stop()
        self.workers.stop()
        self.deliverer.close()
        self.db.dispose()


    def _idempotent(self, scope: str, key: str | None, payload: Any, handle: Handler,
                    *, batched: bool = False) -> tuple[int, dict[str, Any]]:
        """Run `handle` once per (scope, key): a retry gets the stored answer.
        The answer is stored in the same transaction as the work it describes. A
        transaction PostgreSQL aborted to break a deadlock (or a serialisation failure)
        is run again: nothing of it was kept, so the caller never sees a 500 for it.
        `batched`: a small write that may share its commit (Database.batched)."""
        fingerprint = request_hash(payload)

        def once(s: Session) -> tuple[int, dict[str, Any]]:
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
                                     status_code=status, response=body, created_at=utcnow()))
            return status, body

        for attempt in range(RETRIES):
            try:
                if batched:  # a report: it makes no action of its own (the intake does)
                    return self.db.batched(once)
                answer = self._in_transaction(once)
                self.workers.wake()
                return answer
            except IntegrityError:
                if key is None:
                    raise
                # A concurrent request with the same key won; the loop replays its answer.
            except OperationalError as exc:
                if not is_transient(exc) or attempt == RETRIES - 1:
                    raise
                log.info("retrying %s after %s", scope, type(exc.orig).__name__)
        raise Conflict("a request with this Idempotency-Key is in progress",
                       code="idempotency_in_progress")

    def _in_transaction(self, work: Handler) -> tuple[int, dict[str, Any]]:
        with self.db.transaction() as s:
            return work(s)

    def _prepare_references(self, media_ids: Iterable[int]) -> None:
        References.compute_missing(self.db, self.media_store, media_ids)

    def audit(self, actor: str, action: str, target: str, source: str,
              details: dict[str, Any] | None = None) -> None:
        with self.db.transaction() as s:
            audit.record(s, actor, action, target, source, details)
