"""The audit log: who did what, when, from where; tamper-evident.

Each entry's hash is an HMAC-SHA256, under the audit key, of its content and the
previous entry's hash, so changing, deleting or inserting any entry breaks every hash
after it, and nobody without the key (kept outside the database) can re-chain the rest.
Appends lock the single `audit_head` row, so concurrent appends queue up and the chain
never forks.

What the database alone cannot show (its newest entries deleted and `audit_head` moved
back, or everything wiped) the anchors show: signed heads appended outside the database,
to a file and the on-call webhook. `verify` checks that every anchored head is still in
the chain.

Keys: `TAKEDOWN_AUDIT_KEY` is `id:secret[,id:secret…]`; the first signs, all verify, and
each entry stores the id of the key that signed it. Without it, a key is made once in
`data_dir/audit.key`. Entries from before keys (plain SHA-256, `key_id` NULL) verify only
as a prefix of the chain, and the chain must end with a keyed entry: otherwise an
attacker could re-chain with plain SHA-256. See docs/operations.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.config import Settings
from takedown.platform.webhooks import message_id, signed_headers
from takedown.store.tables import AuditEntryRow, AuditHeadRow

if TYPE_CHECKING:
    from takedown.store.db import Database

GENESIS = "0" * 64
KEY_FILE = "audit.key"
ANCHOR_FILE = "audit-anchor.jsonl"
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MIN_SECRET_CHARS = 16
log = logging.getLogger(__name__)


# --- keys ----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRing:
    """Audit keys by id, in the configured order: the first signs, all verify."""

    keys: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def signing(self) -> tuple[str, bytes]:
        if not self.keys:
            raise RuntimeError("no audit key: set TAKEDOWN_AUDIT_KEY")
        key_id = next(iter(self.keys))
        return key_id, self.keys[key_id]

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """`id:secret[,id:secret…]`; a lone secret without an id is key `k1`."""
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key_id, colon, secret = part.partition(":")
            if not colon:
                key_id, secret = "k1", part
            if not KEY_ID.fullmatch(key_id) or key_id in keys:
                raise ValueError(f"audit key id {key_id!r} is malformed or repeated")
            if len(secret) < MIN_SECRET_CHARS:
                raise ValueError(f"audit key {key_id!r} is shorter than {MIN_SECRET_CHARS} "
                                 "characters")
            keys[key_id] = secret.encode()
        return cls(keys)


def new_key(key_id: str) -> str:
    """A fresh `id:secret` for TAKEDOWN_AUDIT_KEY."""
    if not KEY_ID.fullmatch(key_id):
        raise ValueError(f"audit key id {key_id!r} must match {KEY_ID.pattern}")
    return f"{key_id}:{secrets.token_urlsafe(32)}"


def load_keys(settings: Settings, *, create: bool) -> KeyRing:
    """TAKEDOWN_AUDIT_KEY, else data_dir/audit.key (made first if `create`)."""
    if settings.audit_key:
        return KeyRing.parse(settings.audit_key)
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        if not create:
            return KeyRing()
        _generate_key_file(path)
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by others than its owner: chmod 600 it", path)
    return KeyRing.parse(path.read_text("utf-8"))


def _generate_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random id, so that hosts that each made their own key are told apart by verify.
    line = new_key(f"local-{secrets.token_hex(3)}") + "\n"
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(scratch, path)  # atomic: if another process made one meanwhile, theirs wins
        log.warning("made an audit key in %s; production should set TAKEDOWN_AUDIT_KEY "
                    "(kept away from the database and its backups)", path)
    except FileExistsError:
        pass
    finally:
        scratch.unlink(missing_ok=True)


class _Keys:
    """One configuration's key ring, loaded on first use (and made, for signing)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ring: KeyRing | None = None
        self._lock = threading.Lock()

    def ring(self, *, create: bool) -> KeyRing:
        with self._lock:
            if self._ring is None:
                ring = load_keys(self.settings, create=create)
                if not ring.keys:
                    return ring  # not kept: a later signer makes the key file
                self._ring = ring
            return self._ring


# Callers pass only a session (`record(s, …)` is called all over), so the settings are
# found through the session's engine; Takedown binds its engine when it is built.
_bound: weakref.WeakKeyDictionary[Engine, _Keys] = weakref.WeakKeyDictionary()


def bind(engine: Engine, settings: Settings) -> None:
    """Sign and verify the audit log of this engine's database with `settings`' keys."""
    if settings.audit_key:
        KeyRing.parse(settings.audit_key)  # a malformed key fails at start, not mid-request
    _bound[engine] = _Keys(settings)


def _keys_of(session: Session) -> _Keys:
    connectable = session.get_bind()
    engine = connectable.engine if isinstance(connectable, Connection) else connectable
    try:
        return _bound[engine]
    except KeyError:
        raise RuntimeError("no audit keys bound to this database: call "
                           "takedown.audit.bind(engine, settings)") from None


# --- entries ---------------------------------------------------------------------


def _canonical(row: AuditEntryRow) -> bytes:
    fields = {"prev": row.prev_hash, "at": row.at.astimezone(UTC).isoformat(),
              "actor": row.actor, "action": row.action, "target": row.target,
              "source": row.source, "details": row.details}
    if row.key_id is not None:  # legacy entries hashed exactly these fields, no key id
        fields["key_id"] = row.key_id
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def _mac(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def record(session: Session, actor: str, action: str, target: str, source: str,
           details: dict[str, Any] | None = None) -> AuditEntryRow:
    """Append one entry in the caller's transaction."""
    head = session.scalar(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update())
    if head is None:
        raise RuntimeError("audit_head is missing: see `takedown audit verify`")
    key_id, secret = _keys_of(session).ring(create=True).signing
    row = AuditEntryRow(at=utcnow(), actor=actor, action=action, target=target,
                        source=source, details=dict(details or {}),
                        prev_hash=head.last_hash, key_id=key_id)
    row.hash = _mac(secret, _canonical(row))
    session.add(row)
    head.last_hash = row.hash
    session.flush()
    return row


def ensure_head(session: Session) -> None:
    """After migrating: the head of an empty log; a keyed entry after legacy ones."""
    head = session.scalar(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update())
    last = session.scalar(select(AuditEntryRow).order_by(AuditEntryRow.id.desc()).limit(1))
    if head is None and last is None:
        session.add(AuditHeadRow(id=1, last_hash=GENESIS))
    elif head is None:
        # Recreating it would hide its deletion (and any truncation with it).
        log.error("audit_head is missing though the audit log has entries: not recreated; "
                  "run `takedown audit verify`")
    elif last is not None and last.key_id is None:
        # Seals the legacy entries under the key: a valid chain now ends keyed.
        record(session, "takedown", "audit_keyed", "audit_log", "migrate",
               {"legacy_entries_up_to": last.id})


# --- anchors -----------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A signed head: the chain had `entries` entries, the last `last_id` / `last_hash`."""

    entries: int
    last_id: int
    last_hash: str
    at: str
    key_id: str
    mac: str = ""
    type: str = "audit_anchor"

    def _signed(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if k != "mac"}
        return b"takedown-audit-anchor\n" + json.dumps(body, sort_keys=True).encode()

    @classmethod
    def sign(cls, ring: KeyRing, entries: int, last_id: int, last_hash: str) -> Anchor:
        key_id, secret = ring.signing
        unsigned = cls(entries, last_id, last_hash, utcnow().isoformat(), key_id)
        return replace(unsigned, mac=_mac(secret, unsigned._signed()))

    def problem(self, ring: KeyRing) -> str | None:
        secret = ring.keys.get(self.key_id)
        if secret is None:
            return f"signed with key {self.key_id!r}, which is not configured"
        if not hmac.compare_digest(_mac(secret, self._signed()), self.mac):
            return "its signature does not match: it was forged or edited"
        return None

    def json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, line: str) -> Anchor:
        """Raises ValueError for anything but an anchor."""
        try:
            d = json.loads(line)
            return cls(int(d["entries"]), int(d["last_id"]), str(d["last_hash"]),
                       str(d["at"]), str(d["key_id"]), str(d["mac"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an anchor: {exc}") from None


class AnchorFileError(ValueError):
    pass


def anchor_path(settings: Settings) -> Path:
    return settings.audit_anchor_path or settings.data_dir / ANCHOR_FILE


def read_anchors(path: Path, ring: KeyRing) -> list[Anchor]:
    """Every anchor in the file; AnchorFileError names the first line that is not one."""
    anchors = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                anchor = Anchor.parse(line)
            except ValueError:
                raise AnchorFileError(f"{path} line {number} is not an anchor") from None
            if (problem := anchor.problem(ring)) is not None:
                raise AnchorFileError(f"{path} line {number}: {problem}")
            anchors.append(anchor)
    return anchors


def _last_anchor(path: Path, ring: KeyRing) -> Anchor | None:
    """The newest valid anchor at the end of the file, without reading all of it."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 16384))
            tail = handle.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(tail):
        try:
            anchor = Anchor.parse(line)
        except ValueError:
            continue
        if anchor.problem(ring) is None:
            return anchor
    return None


# --- verifying -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    first_broken: int | None
    problem: str | None
    anchors: int = 0  # anchored heads checked


@dataclass
class _Chain:
    """A walk along the chain: what the next entry must link to, and what was seen."""

    ring: KeyRing
    anchors: Mapping[int, list[Anchor]] = field(default_factory=dict)
    expected: str = GENESIS
    count: int = 0
    keyed: bool = False  # a keyed entry was seen: no legacy entry may follow
    ends_keyed: bool = False
    anchored_seen: set[int] = field(default_factory=set)

    def add(self, row: AuditEntryRow) -> str | None:
        """The problem with the next entry, or None and the walk moves on."""
        self.count += 1
        if row.prev_hash != self.expected:
            return "does not follow the entry before it (an entry was deleted or inserted)"
        problem = self._seal(row) or self._anchored(row)
        if problem is None:
            self.expected = row.hash
            self.ends_keyed = row.key_id is not None
            self.keyed = self.keyed or self.ends_keyed
        return problem

    def _seal(self, row: AuditEntryRow) -> str | None:
        if row.key_id is None:
            if self.keyed:
                return ("is a plain SHA-256 entry after keyed ones: the log was re-chained "
                        "without the audit key")
            valid = hashlib.sha256(_canonical(row)).hexdigest() == row.hash
            return None if valid else "its content was changed after it was written"
        secret = self.ring.keys.get(row.key_id)
        if secret is None:
            return (f"is signed with audit key {row.key_id!r}, which is not configured "
                    "(TAKEDOWN_AUDIT_KEY)")
        if not hmac.compare_digest(_mac(secret, _canonical(row)), row.hash):
            return ("its content was changed after it was written (or it was re-signed "
                    "without the audit key)")
        return None

    def _anchored(self, row: AuditEntryRow) -> str | None:
        if row.id not in self.anchors:
            return None
        for anchor in self.anchors[row.id]:
            if row.hash != anchor.last_hash:
                return f"is not the entry anchored at {anchor.at}: the log was rewritten"
            if self.count != anchor.entries:
                return (f"was entry number {anchor.entries} when anchored at {anchor.at}, "
                        f"is number {self.count} now: entries were deleted or inserted")
        self.anchored_seen.add(row.id)
        return None

    def head_problem(self, head: AuditHeadRow | None) -> str | None:
        if head is None:
            return "the audit_head row is missing: it was deleted"
        if head.last_hash != self.expected:
            return ("audit_head does not point at the last entry: the newest entries were "
                    "deleted")
        if self.count and not self.ends_keyed:
            return ("the chain ends with plain SHA-256 entries: it was re-chained without "
                    "the audit key (or `takedown migrate` has not run since keys came)")
        return None

    def lost_anchor(self) -> str | None:
        lost = [a for found in self.anchors.values() for a in found
                if a.last_id not in self.anchored_seen]
        if not lost:
            return None
        worst = max(lost, key=lambda a: a.entries)
        return (f"{worst.entries} entries (up to entry {worst.last_id}) were anchored at "
                f"{worst.at}, but entry {worst.last_id} is gone and the log has "
                f"{self.count}: its newest entries were deleted, or it was wiped")


def _anchors_by_id(anchors: Iterable[Anchor]) -> dict[int, list[Anchor]]:
    by_id: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        by_id.setdefault(anchor.last_id, []).append(anchor)
    return by_id


def verify(session: Session, anchor_files: Iterable[Path] = ()) -> Verdict:
    """Walk the whole chain; name the first entry that does not fit. Also checks the
    heads anchored in the configured anchor file (if it exists) and in `anchor_files`."""
    keys = _keys_of(session)
    ring = keys.ring(create=False)
    default = anchor_path(keys.settings)
    try:
        anchors = [a for path in ([default] if default.exists() else []) + list(anchor_files)
                   for a in read_anchors(path, ring)]
    except (AnchorFileError, OSError) as exc:
        return Verdict(False, 0, None, str(exc))
    chain = _Chain(ring, _anchors_by_id(anchors))
    for row in session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.id)
                               .execution_options(yield_per=1000)):
        if (problem := chain.add(row)) is not None:
            return Verdict(False, chain.count, row.id, problem, len(anchors))
    problem = chain.head_problem(session.get(AuditHeadRow, 1)) or chain.lost_anchor()
    return Verdict(problem is None, chain.count, None, problem, len(anchors))


# --- anchoring -------------------------------------------------------------------------


class AuditBroken(RuntimeError):
    """The chain does not extend the last anchor: nothing is anchored."""


class AuditAnchor:
    """Writes signed heads outside the database: `run_once` from the workers (only when
    the head moved and the interval passed), `anchor_now` for `takedown audit anchor`.
    Each new head is checked to extend the last anchor before it is signed, so an anchor
    never vouches for a chain that was already cut."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.path = anchor_path(settings)
        self._keys = _Keys(settings)
        self._lock = threading.Lock()
        self._due = 0.0
        self._last: Anchor | None = None
        self._last_read = False

    def run_once(self) -> int:
        """1 if an anchor was written. Cheap when not due: every worker pass calls it."""
        if time.monotonic() < self._due or not self._lock.acquire(blocking=False):
            return 0
        try:
            self._due = time.monotonic() + self.settings.audit_anchor_interval_s
            return 0 if self._anchor(force=False) is None else 1
        except AuditBroken as exc:
            log.error("audit log not anchored: %s; run `takedown audit verify`", exc)
            return 0
        finally:
            self._lock.release()

    def anchor_now(self) -> Anchor | None:
        """Anchor the head now, moved or not; None when the log is empty."""
        with self._lock:
            return self._anchor(force=True)

    def _anchor(self, *, force: bool) -> Anchor | None:
        ring = self._keys.ring(create=True)
        base = self._base(ring)
        with self.db.transaction() as s:
            head = s.get(AuditHeadRow, 1)
            if head is None:
                raise AuditBroken("the audit_head row is missing")
            if head.last_hash == GENESIS or (
                    not force and base is not None and head.last_hash == base.last_hash):
                return None
            anchor = self._extend(s, ring, base, head)
        self._write(anchor)
        self._post(anchor)
        self._last = anchor
        return anchor

    def _base(self, ring: KeyRing) -> Anchor | None:
        if not self._last_read:
            self._last, self._last_read = _last_anchor(self.path, ring), True
        return self._last

    @staticmethod
    def _extend(s: Session, ring: KeyRing, base: Anchor | None,
                head: AuditHeadRow) -> Anchor:
        """Verify the entries after `base` (all of them without one) and sign the head."""
        chain, query = _Chain(ring), select(AuditEntryRow).order_by(AuditEntryRow.id)
        last_id = 0
        if base is not None:
            row = s.get(AuditEntryRow, base.last_id)
            if row is None or row.hash != base.last_hash:
                raise AuditBroken(f"entry {base.last_id}, anchored at {base.at}, was "
                                  "deleted or changed")
            chain.expected, chain.count, last_id = base.last_hash, base.entries, row.id
            chain.keyed = chain.ends_keyed = row.key_id is not None
            query = query.where(AuditEntryRow.id > base.last_id)
        for row in s.scalars(query.execution_options(yield_per=1000)):
            if (problem := chain.add(row)) is not None:
                raise AuditBroken(f"entry {row.id} {problem}")
            last_id = row.id
        if (problem := chain.head_problem(head)) is not None:
            raise AuditBroken(problem)
        return Anchor.sign(ring, chain.count, last_id, chain.expected)

    def _write(self, anchor: Anchor) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one short line to an O_APPEND file: processes sharing it do not
        # interleave their lines.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (anchor.json() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _post(self, anchor: Anchor) -> None:
        """Best effort: the file holds the anchor already; a failed post is logged."""
        url = self.settings.oncall_webhook_url
        if not url:
            return
        payload = json.dumps(asdict(anchor), sort_keys=True).encode()
        # Signed as escalation alerts to on-call are, with the on-call webhook's secret.
        headers = signed_headers(self.settings.oncall_webhook_secret.split(), payload,
                                 message_id([f"audit_anchor:{anchor.mac}"]))
        try:
            response = httpx.post(url, content=payload, headers=headers,
                                  timeout=self.settings.webhook_timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("audit anchor not posted to the on-call webhook: %s", exc)
