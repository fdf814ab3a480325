"""Who may call takedown: platforms by API key, reviewers by bearer token or by
password in the console.

Keys and tokens are 32 random bytes; only their SHA-256 is stored, which is enough
for secrets of that entropy. Passwords are people's, so they get argon2id
(argon2-cffi, the reference implementation's binding).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Role
from takedown.errors import Conflict, NotFound, Unauthorized
from takedown.platform.webhooks import new_secret, still_live
from takedown.store.tables import PlatformRow, ReportRow, UserRow, WebSessionRow


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_platform(session: Session, name: str, webhook_url: str,
                 api_key: str | None = None, webhook_secret: str | None = None) -> tuple[str, str]:
    """Register a platform; returns (api key, webhook secret), shown once."""
    if session.scalar(select(PlatformRow).where(PlatformRow.name == name)):
        raise Conflict(f"a platform named {name!r} exists already")
    key = api_key or "tdp_" + secrets.token_urlsafe(32)
    secret = webhook_secret or new_secret()
    session.add(PlatformRow(name=name, api_key_hash=digest(key), webhook_url=webhook_url,
                            webhook_secret=secret, created_at=utcnow()))
    return key, secret


def platform_for_key(session: Session, api_key: str | None) -> PlatformRow:
    if not api_key:
        raise Unauthorized("send the platform's API key in the X-Api-Key header")
    row = session.scalar(select(PlatformRow).where(PlatformRow.api_key_hash == digest(api_key)))
    if row is None:
        raise Unauthorized("unknown API key")
    return row


_hasher = PasswordHasher()
# Verified against when the user does not exist, so that timing does not tell.
_DUMMY = _hasher.hash("not a password anyone has")
SESSION_LIFETIME = timedelta(hours=12)


def add_user(session: Session, name: str, role: Role, token: str | None = None,
             password: str | None = None) -> str:
    """Create a reviewer; returns their API token, shown once."""
    if session.scalar(select(UserRow).where(UserRow.name == name)):
        raise Conflict(f"a user named {name!r} exists already")
    token = token or "tdu_" + secrets.token_urlsafe(32)
    session.add(UserRow(name=name, role=role.value, token_hash=digest(token),
                        password_hash=_hasher.hash(password) if password else None,
                        created_at=utcnow()))
    return token


def set_role(session: Session, name: str, role: Role) -> str:
    """Change a user's role; returns the old one."""
    row = session.scalar(select(UserRow).where(UserRow.name == name))
    if row is None:
        raise Conflict(f"no user named {name!r}")
    old, row.role = row.role, role.value
    return old


def check_password(session: Session, name: str, password: str) -> Reviewer:
    row = session.scalar(select(UserRow).where(UserRow.name == name))
    try:
        _hasher.verify(row.password_hash if row and row.password_hash else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong name or password", code="bad_credentials") from None
    if row is None or row.password_hash is None:
        raise Unauthorized("wrong name or password", code="bad_credentials")
    return Reviewer(id=row.name, role=Role(row.role))


def open_session(session: Session, reviewer: Reviewer) -> tuple[str, str]:
    """(cookie token, CSRF token) for a new console session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSessionRow(token_hash=digest(token), user_name=reviewer.id, csrf_token=csrf,
                              created_at=now, expires_at=now + SESSION_LIFETIME))
    return token, csrf


def session_reviewer(session: Session, token: str | None) -> tuple[Reviewer, str]:
    """(reviewer, CSRF token) of a live console session."""
    row = session.get(WebSessionRow, digest(token)) if token else None
    if row is None or row.expires_at < utcnow():
        raise Unauthorized("sign in first", code="no_session")
    user = session.scalar(select(UserRow).where(UserRow.name == row.user_name))
    assert user is not None  # sessions reference users by foreign key
    return Reviewer(id=user.name, role=Role(user.role)), row.csrf_token


def close_session(session: Session, token: str | None) -> None:
    row = session.get(WebSessionRow, digest(token)) if token else None
    if row is not None:
        session.delete(row)


def reviewer_for_token(session: Session, token: str | None) -> Reviewer:
    if not token:
        raise Unauthorized("send a reviewer token as 'Authorization: Bearer <token>'")
    row = session.scalar(select(UserRow).where(UserRow.token_hash == digest(token)))
    if row is None:
        raise Unauthorized("unknown token")
    return Reviewer(id=row.name, role=Role(row.role))


def set_webhook_url(session: Session, name: str, webhook_url: str) -> None:
    row = session.scalar(select(PlatformRow).where(PlatformRow.name == name))
    if row is None:
        raise Conflict(f"no platform named {name!r}")
    row.webhook_url = webhook_url


def set_tipline_contact(session: Session, name: str,
                        contact: dict[str, str | None]) -> dict[str, str]:
    """Who NCMEC should contact about a platform's CyberTipline reports; the fields
    given replace those kept, an empty one is dropped."""
    row = session.scalar(select(PlatformRow).where(PlatformRow.name == name))
    if row is None:
        raise NotFound(f"no platform named {name!r}", code="unknown_platform")
    kept = {k: v for k, v in {**(row.tipline_contact or {}), **contact}.items() if v}
    row.tipline_contact = kept
    return kept


def rotate_webhook_secret(session: Session, name: str, overlap: timedelta) -> str:
    """Give a platform a new webhook secret, returned to be shown once. The old one is
    still signed with (a second signature) for `overlap`, or until retired, so that the
    platform can switch without a gap."""
    row = _platform(session, name)
    now = utcnow()
    row.previous_webhook_secrets = [
        {"secret": row.webhook_secret, "until": (now + overlap).isoformat()},
        *still_live(row.previous_webhook_secrets, now)]
    row.webhook_secret = new_secret()
    return row.webhook_secret


def retire_webhook_secrets(session: Session, name: str) -> int:
    """Stop signing with a platform's old secrets; returns how many were still live."""
    row = _platform(session, name)
    live = len(still_live(row.previous_webhook_secrets))
    row.previous_webhook_secrets = None
    return live


def _platform(session: Session, name: str) -> PlatformRow:
    row = session.scalar(select(PlatformRow).where(PlatformRow.name == name))
    if row is None:
        raise Conflict(f"no platform named {name!r}")
    return row


def platform_exists(session: Session, name: str) -> bool:
    return session.scalar(select(PlatformRow.id).where(PlatformRow.name == name)) is not None


def report_for_token(session: Session, report_id: str, token: str) -> ReportRow:
    """The report its reporter holds the status token of."""
    report = session.get(ReportRow, report_id)
    # The same answer for an unknown id and a wrong token: ids are not confirmed to guessers.
    if report is None or not secrets.compare_digest(report.status_token_hash, digest(token)):
        raise NotFound("no report with that id and status token", code="unknown_report")
    return report
