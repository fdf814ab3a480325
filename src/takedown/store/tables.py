"""Every table takedown keeps. Migrations in `migrations/` must match these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, synonym
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use takedown.clock.utcnow()")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class PlatformRow(Base):
    """A host platform: sends content, receives action webhooks."""

    __tablename__ = "platforms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_url: Mapped[str] = mapped_column(String(2000))
    webhook_secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # Secrets rotated out but still signed with until their overlap ends, as
    # [{"secret", "until"}] (see access.rotate_webhook_secret); NULL when none.
    previous_webhook_secrets: Mapped[list[Any] | None]
    # Who NCMEC should contact about this platform's CyberTipline reports:
    # {first_name, last_name, email, phone, company_template, terms_of_service, legal_url}.
    tipline_contact: Mapped[dict[str, Any] | None]


class MediaRow(Base):
    """One distinct media file, stored once by SHA-256."""

    __tablename__ = "media"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # identity: same bytes, same row
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    # When this file's references (see media.signals.SignalType.references) were stored.
    references_at: Mapped[datetime | None]


class SignalRow(Base):
    """A hash of a media file under one registered signal type (see media.signals)."""

    __tablename__ = "media_signals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    lookup: Mapped[str] = mapped_column(String(64))  # see media.signals.Signal.lookup
    quality: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        UniqueConstraint("media_id", "signal_type", "lookup"),
        Index("ix_media_signals_lookup", "signal_type", "lookup"),
    )


class ContentRow(Base):
    """One item on a platform: a post, repost, quote or upload."""

    __tablename__ = "content"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str | None] = mapped_column(String(2000), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    registered_at: Mapped[datetime]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("content.id"), index=True)
    parent_kind: Mapped[str | None] = mapped_column(String(10))  # 'repost' or 'quote'
    views: Mapped[int] = mapped_column(BigInteger, default=0)
    shares: Mapped[int] = mapped_column(BigInteger, default=0)
    views_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    reach_observed_at: Mapped[datetime | None]
    moderation_state: Mapped[str] = mapped_column(String(20), default="visible")
    # The case whose action last set moderation_state: the reference a blocked
    # re-upload or repost is answered with.
    moderation_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # The uploader's language as the platform knows it (BCP 47): what the statement of
    # reasons' short text for them is written in.
    author_language: Mapped[str | None] = mapped_column(String(35))
    __table_args__ = (UniqueConstraint("platform_id", "external_id"),)


class ContentMediaRow(Base):
    __tablename__ = "content_media"
    content_id: Mapped[int] = mapped_column(
        ForeignKey("content.id", ondelete="CASCADE"), primary_key=True
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True, index=True)


class CaseRow(Base):
    """Projection of a case's event log, kept for queue queries. Never edited except
    by appending an event and re-deriving it (see cases.casebook)."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(30), index=True)
    category: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    deadline: Mapped[datetime | None]
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]
    __table_args__ = (Index("ix_cases_queue", "status", "priority", "deadline"),)


class CaseEventRow(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    __table_args__ = (UniqueConstraint("case_id", "seq"),)


class CaseContentRow(Base):
    """The items a case is about (reported items, and copies that joined it)."""

    __tablename__ = "case_content"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("content.id"), primary_key=True, index=True)


class CaseMediaRow(Base):
    """The media files a case is about: a reported post's only file, a file that
    matched a bank, copies (exact or perceptual) of those, and files a reviewer
    confirmed. A post's other files never join: an album's harmless picture stays out,
    and so do the other posts that carry it."""

    __tablename__ = "case_media"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True, index=True)
    # reported (a reported post's only file), bank (matched a bank), reviewer (named by
    # a reviewer), copy (an exact or perceptual copy of one of those). All but copies
    # are matched with their references; copies as they are, so matches never chain.
    via: Mapped[str] = mapped_column(String(20))
    copy_of: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    distance: Mapped[int | None]  # for a copy: PDQ bits from the file it copies
    bank: Mapped[str | None] = mapped_column(String(100))  # for via=bank
    added_at: Mapped[datetime]


class MediaReferenceRow(Base):
    """A file's reference signals, computed once from its bytes: for an image its hash
    after each edit re-uploaders make, for a video every frame."""

    __tablename__ = "media_references"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"),
                                          index=True)
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(String(200))


class ReportRow(Base):
    __tablename__ = "reports"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    relation: Mapped[str] = mapped_column(String(30))
    depicted_minor: Mapped[bool | None]
    age_at_time: Mapped[int | None]
    age_now: Mapped[int | None]
    case_numbers: Mapped[list[Any]]
    text: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str | None] = mapped_column(String(320))
    reporter_key: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(35))
    status_token_hash: Mapped[str] = mapped_column(String(64))
    references: Mapped[list[Any]]  # every content id / URL named, resolved or not
    # TAKE IT DOWN Act (domain.takeitdown): the typed signature and the good-faith
    # statement; whether the request is valid is derived from them and the above.
    signature: Mapped[str | None] = mapped_column(String(200))
    good_faith_statement: Mapped[bool | None]


class ReportContentRow(Base):
    __tablename__ = "report_content"
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("content.id"), primary_key=True)


class OutboxColumns:
    """Delivery state of an outbox row: workers claim due rows with a lease and record
    each attempt (see pipeline.outbox)."""

    priority: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class ReportInboxRow(OutboxColumns, Base):
    """A report as received: stored (and so acknowledged) before it is worked into its
    case by the intake workers (see pipeline.intake); `delivered` once it has been."""

    __tablename__ = "report_inbox"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the report id
    submission: Mapped[dict[str, Any]]
    status_token_hash: Mapped[str] = mapped_column(String(64))
    references: Mapped[list[Any]]
    __table_args__ = (Index("ix_report_inbox_due", "status", "next_attempt_at"),)


class ActionRow(OutboxColumns, Base):
    """One action for the platform, and the delivery state of its webhook."""

    __tablename__ = "actions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the action id sent out
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(20))  # 'content' or 'account'
    target_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    __table_args__ = (Index("ix_actions_due", "status", "next_attempt_at"),
                      Index("ix_actions_target", "platform_id", "target_type", "target_id",
                            "created_at"))


class BankRow(Base):
    """A named hash bank and what a match in it does."""

    __tablename__ = "banks"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # 'block' (refuse uploads, remove copies), 'restrict' (hide and queue for review),
    # 'review' (queue only)
    action: Mapped[str] = mapped_column(String(20))
    pdq_distance: Mapped[int] = mapped_column(Integer, default=31)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class BankEntryRow(Base):
    """A hash in a named bank. A confirmed violation adds its media here."""

    __tablename__ = "bank_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank: Mapped[str] = mapped_column(ForeignKey("banks.name"))
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    # Short, indexable form: the value itself for digests and PDQ, a SHA-256 of the
    # frame list for vPDQ (whose value is long).
    lookup: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    source: Mapped[str] = mapped_column(String(200))
    external_ids: Mapped[list[Any]]  # e.g. StopNCII case numbers, NCMEC ids
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (
        UniqueConstraint("bank", "signal_type", "lookup"),
        Index("ix_bank_entries_lookup", "signal_type", "lookup"),
        Index("ix_bank_entries_case", "case_id"),
    )


class SignalChangeRow(Base):
    """Append-only feed of changes the in-memory indexes must apply: every process
    reads it to stay current (adds, disables, deletes of bank entries; new media)."""

    __tablename__ = "signal_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # 'bank' or 'media'
    op: Mapped[str] = mapped_column(String(10))  # 'add' or 'remove'
    ref_id: Mapped[int] = mapped_column(Integer)  # bank_entries.id or media_signals.id
    at: Mapped[datetime]


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id
    created_at: Mapped[datetime]


class WebSessionRow(Base):
    """A console sign-in. The cookie holds a random token; only its SHA-256 is kept."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuditEntryRow(Base):
    """Append-only and hash-chained: each entry stores the hash of the one before, so an
    edit or deletion anywhere breaks the chain (`takedown audit verify`). `key_id` names
    the audit key whose HMAC `hash` is; NULL for plain SHA-256 entries from before keys."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(100))  # where from: an IP address, "cli"
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(32))


class AuditHeadRow(Base):
    """One row: the chain's last hash, locked by each append so appends queue up."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))


class IdempotencyRow(Base):
    """The stored answer to a request sent with an Idempotency-Key."""

    __tablename__ = "idempotency_keys"
    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class NotificationRow(OutboxColumns, Base):
    """An outgoing message to people (on-call e-mail, an on-call webhook): an outbox
    row, delivered and retried by the workers like actions, once per dedupe key."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    channel: Mapped[str] = mapped_column(String(20))  # 'email' or 'webhook'
    target: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[dict[str, Any]]
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)


class ReporterMarkRow(Base):
    """A reporter marked abusive (a flood of false reports, harassment by reporting).
    Their open reports are invalidated and their new reports count for nothing;
    unmarking deletes the row (the audit log keeps both acts)."""

    __tablename__ = "reporter_marks"
    reporter_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    marked_by: Mapped[str] = mapped_column(String(100))
    marked_at: Mapped[datetime]


class TiplineReportRow(OutboxColumns, Base):
    """A case's CyberTipline report to NCMEC (takedown.legal): drafted when a child-abuse
    case closes as a violation, checked and submitted by a specialist, then sent step by
    step by the legal worker, which records each step so a crash resumes where it stopped
    (one NCMEC report per case, never two). The outbox columns drive the sending only:
    rows are claimed while `stage` is `sending` or `retracting`."""

    __tablename__ = "tipline_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))  # the reporting ESP
    # draft, sending, stopped, finished, retracting, retracted, withdrawn
    stage: Mapped[str] = mapped_column(String(20))
    # What the specialist chooses (see legal.tipline_xml for the vocabularies).
    incident_type: Mapped[str] = mapped_column(String(100))
    annotations: Mapped[list[Any]]
    summary: Mapped[str] = mapped_column(Text, default="")
    escalate_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime]
    due_at: Mapped[datetime]  # a specialist should have submitted it by then
    accounts_due_at: Mapped[datetime]  # stops waiting for the platform's account details
    auto_submit: Mapped[bool] = mapped_column(Boolean, default=False)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None]
    # NCMEC's side, recorded as each step succeeds.
    ncmec_report_id: Mapped[int | None] = mapped_column(BigInteger)
    files: Mapped[list[Any]]  # [{sha256, md5, name, file_id, info_sent}]
    xml: Mapped[str | None] = mapped_column(Text)  # the report as submitted
    error_code: Mapped[int | None]
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    retract_reason: Mapped[str | None] = mapped_column(Text)
    retracted_by: Mapped[str | None] = mapped_column(String(200))
    retracted_at: Mapped[datetime | None]
    overturned_at: Mapped[datetime | None]  # the decision was reversed after /finish
    __table_args__ = (Index("ix_tipline_reports_due", "stage", "next_attempt_at"),)


class AccountRecordRow(Base):
    """What a platform sent about an account asked to be preserved (PUT /v1/accounts):
    screen name, e-mail addresses, IP addresses with times. Read only into CyberTipline
    reports and the evidence vault; never shown to the platform's other users."""

    __tablename__ = "account_records"
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), primary_key=True)
    author_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class EvidenceSetRow(Base):
    """A confirmed case's preserved evidence: kept until `retain_until` (a year after the
    CyberTipline submission), longer while a legal hold is set; then purged."""

    __tablename__ = "evidence_sets"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    preserved_at: Mapped[datetime]
    retain_until: Mapped[datetime] = mapped_column(index=True)
    # {agency, legal_process, set_by, set_at}; SQL NULL (not JSON null) when none, so
    # that the purge can ask for unheld sets.
    hold: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    purged_at: Mapped[datetime | None]


class EvidenceItemRow(Base):
    """One sealed item in the vault (legal.vault): its name there, and the plaintext's
    digests, so that an opening or an export proves the bytes are those preserved."""

    __tablename__ = "evidence_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("evidence_sets.case_id"), index=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # media, record, accounts, cybertipline
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    purged_at: Mapped[datetime | None]


class StatementRow(OutboxColumns, Base):
    """A DSA statement of reasons (legal.statements), made with the action it explains
    and sent to the platform inside that action. The outbox columns drive the sending
    to the Commission's Transparency Database (pipeline.statements), only where it is
    configured: `delivered` once the database has it (201, or it already had the puid),
    `rejected` when it refused the statement itself (the error is kept for the console).
    `puid` is never reused: it is the action's own id, which is never reused either."""

    __tablename__ = "statements"
    puid: Mapped[str] = mapped_column(String(100), primary_key=True)
    id = synonym("puid")  # the outbox's name for a row's key (pipeline.outbox)
    action_id: Mapped[str] = mapped_column(ForeignKey("actions.id"), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    content_id: Mapped[int | None] = mapped_column(ForeignKey("content.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # the action's kind
    body: Mapped[dict[str, Any]]  # the statement as the database takes it
    replaces: Mapped[str | None] = mapped_column(String(100))  # a reversed statement's puid
    __table_args__ = (Index("ix_statements_due", "status", "next_attempt_at"),)


class AppealRow(Base):
    """A complaint against a decision (DSA Art. 20): the uploader's, through the platform,
    or a reporter's, from the status page. Decided by a person who did not decide the
    case; its steps are also events in the case's log."""

    __tablename__ = "appeals"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    appellant: Mapped[str] = mapped_column(String(20))  # uploader or reporter
    # Who may follow it, and whose appeals count towards Art. 23: a hash of
    # platform + account for an uploader, the reporter's key for a reporter.
    appellant_key: Mapped[str] = mapped_column(String(64), index=True)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id"))
    content_id: Mapped[int | None] = mapped_column(ForeignKey("content.id"))
    report_id: Mapped[str | None] = mapped_column(ForeignKey("reports.id"))
    statement_puid: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(35))
    # open, upheld, reversed, refused (manifestly unfounded, Art. 23)
    status: Mapped[str] = mapped_column(String(20), index=True)
    decision_under_appeal: Mapped[str] = mapped_column(String(30))  # the case's outcome then
    original_deciders: Mapped[list[Any]]
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
