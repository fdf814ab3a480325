"""What takedown knows about a confirmed case, gathered once for the CyberTipline report,
the evidence vault and the law-enforcement bundle: its files, every copy with when it
was posted and removed, the uploaders and what their platform sent about them, the
reports with their reporters' statements, and the event log with who decided what."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import confirmed_removal
from takedown.cases.graph import ContentGraph
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind
from takedown.media.storage import MediaStore
from takedown.store.batches import chunks
from takedown.store.tables import (
    AccountRecordRow,
    ActionRow,
    CaseRow,
    MediaRow,
    PlatformRow,
    ReportRow,
)


@dataclass(frozen=True)
class CaseFile:
    """A confirmed file: what NCMEC receives and the vault keeps."""

    media_id: int
    sha256: str
    mime: str | None
    size: int

    @property
    def file_name(self) -> str:
        """The name it is uploaded and kept under: its digest, never what an uploader
        called it (which can carry a victim's name)."""
        extension = mimetypes.guess_extension(self.mime or "") or ".bin"
        return f"{self.sha256[:16]}{extension}"


@dataclass(frozen=True)
class Copy:
    """One item carrying a confirmed file, or a repost or quote of one."""

    content_id: int
    platform_id: int
    external_id: str
    author_id: str
    url: str | None
    posted_at: datetime
    registered_at: datetime
    removed_at: datetime | None  # when the platform acknowledged the removal
    views: int
    shares: int
    carries: tuple[str, ...]  # the confirmed files it carries (SHA-256)


def confirmed_files(session: Session, case_id: int, policy: Policy) -> list[CaseFile]:
    state = CaseBook(session, policy).state(case_id)
    removal = confirmed_removal(session, case_id, state)
    return [CaseFile(m.id, m.sha256, m.mime, m.size) for batch in chunks(removal.media)
            for m in session.scalars(select(MediaRow).where(MediaRow.id.in_(batch))
                                     .order_by(MediaRow.id))]


def copies(session: Session, case_id: int, policy: Policy) -> list[Copy]:
    """Every item a violation reached, oldest first, with its removal time if known."""
    state = CaseBook(session, policy).state(case_id)
    removal = confirmed_removal(session, case_id, state)
    graph = ContentGraph(session)
    rows = sorted(graph.rows(removal.items), key=lambda r: (r.created_at, r.id))
    files = graph.files(r.id for r in rows)
    sha = _sha256s(session, removal.media)
    removed = _removal_times(session, case_id)
    return [Copy(r.id, r.platform_id, r.external_id, r.author_id, r.url, r.created_at,
                 r.registered_at, removed.get((r.platform_id, r.external_id)),
                 r.views, r.shares,
                 tuple(sorted(sha[m] for m in files.get(r.id, set()) if m in sha)))
            for r in rows]


def uploaders(session: Session, case_id: int, policy: Policy) -> list[tuple[int, str]]:
    """(platform, account) of each account that posted a confirmed file."""
    state = CaseBook(session, policy).state(case_id)
    removal = confirmed_removal(session, case_id, state)
    rows = ContentGraph(session).rows(removal.accountable)
    return sorted({(r.platform_id, r.author_id) for r in rows})


def account_records(session: Session,
                    accounts: Iterable[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for platform_id, author_id in accounts:
        row = session.get(AccountRecordRow, (platform_id, author_id))
        if row is not None:
            found[(platform_id, author_id)] = {**row.data,
                                               "received_at": row.received_at.isoformat()}
    return found


def _sha256s(session: Session, media_ids: Iterable[int]) -> dict[int, str]:
    return {m: sha for batch in chunks(media_ids) for m, sha in session.execute(
        select(MediaRow.id, MediaRow.sha256).where(MediaRow.id.in_(batch)))}


def _removal_times(session: Session, case_id: int) -> dict[tuple[int, str], datetime]:
    """(platform, item) -> when the platform acknowledged this case's `remove`."""
    found: dict[tuple[int, str], datetime] = {}
    for platform_id, target, at in session.execute(
            select(ActionRow.platform_id, ActionRow.target_id, ActionRow.delivered_at)
            .where(ActionRow.case_id == case_id, ActionRow.kind == ActionKind.REMOVE.value,
                   ActionRow.target_type == "content", ActionRow.status == "delivered")):
        if at is not None:
            found[(platform_id, target)] = min(at, found.get((platform_id, target), at))
    return found


def case_record(session: Session, case_id: int, policy: Policy,
                media_store: MediaStore | None = None) -> dict[str, Any]:
    """The whole case as JSON-ready data: sealed in the vault at confirmation, and the
    `case.json` of a law-enforcement bundle."""
    book = CaseBook(session, policy)
    state = book.state(case_id)
    row = session.get(CaseRow, case_id)
    assert row is not None
    platforms = {p.id: p.name for p in session.scalars(select(PlatformRow))}
    files = confirmed_files(session, case_id, policy)
    events = [{"seq": n, "type": e.type.value, "at": e.at.isoformat(), "actor": e.actor,
               "data": dict(e.data)} for n, e in enumerate(book.events(case_id), 1)]
    found = copies(session, case_id, policy)
    accounts = uploaders(session, case_id, policy)
    return {
        "case_id": case_id,
        "category": state.category.value if state.category else None,
        "status": state.status.value,
        "opened_at": row.created_at.isoformat(),
        "decided_at": state.decided_at.isoformat() if state.decided_at else None,
        "decided_by": list(state.decided_by),
        "files": [_file_entry(f, media_store) for f in files],
        "copies": [{"platform": platforms.get(c.platform_id), "item": c.external_id,
                    "account": c.author_id, "url": c.url, "posted_at": c.posted_at.isoformat(),
                    "registered_at": c.registered_at.isoformat(),
                    "removed_at": c.removed_at.isoformat() if c.removed_at else None,
                    "views": c.views, "shares": c.shares, "files": list(c.carries)}
                   for c in found],
        "accounts": [{"platform": platforms.get(p), "account_id": a, **record}
                     for (p, a), record in account_records(session, accounts).items()],
        "uploaders": [{"platform": platforms.get(p), "account_id": a} for p, a in accounts],
        "reports": [_report_entry(r) for r in session.scalars(
            select(ReportRow).where(ReportRow.case_id == case_id)
            .order_by(ReportRow.created_at))],
        "decisions": [e for e in events if e["type"] in ("decided", "dismissal_proposed")],
        "events": events,
    }


def _file_entry(f: CaseFile, media_store: MediaStore | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": f.file_name, "sha256": f.sha256, "mime": f.mime,
                             "size": f.size}
    if media_store is not None:
        entry["md5"] = hashlib.md5(media_store.get(f.sha256)).hexdigest()
    return entry


def _report_entry(r: ReportRow) -> dict[str, Any]:
    return {"id": r.id, "created_at": r.created_at.isoformat(), "category": r.category,
            "relation": r.relation, "depicted_minor": r.depicted_minor,
            "age_at_time": r.age_at_time, "age_now": r.age_now,
            "case_numbers": list(r.case_numbers), "text": r.text,
            "contact_email": r.contact_email, "language": r.language}
