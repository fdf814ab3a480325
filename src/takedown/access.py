"""Who may call takedown: platforms by API key, reviewers by bearer token.

Keys and tokens are 32 random bytes; only their SHA-256 is stored, which is enough
for secrets of that entropy (a slow password hash buys nothing here).
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Role
from takedown.errors import Conflict, Unauthorized
from takedown.store.tables import PlatformRow, UserRow


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_platform(session: Session, name: str, webhook_url: str,
                 api_key: str | None = None, webhook_secret: str | None = None) -> tuple[str, str]:
    """Register a platform; returns (api key, webhook secret), shown once."""
    if session.scalar(select(PlatformRow).where(PlatformRow.name == name)):
        raise Conflict(f"a platform named {name!r} exists already")
    key = api_key or "tdp_" + secrets.token_urlsafe(32)
    secret = webhook_secret or "whsec_" + secrets.token_urlsafe(32)
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


def add_user(session: Session, name: str, role: Role, token: str | None = None) -> str:
    """Create a reviewer; returns their API token, shown once."""
    if session.scalar(select(UserRow).where(UserRow.name == name)):
        raise Conflict(f"a user named {name!r} exists already")
    token = token or "tdu_" + secrets.token_urlsafe(32)
    session.add(UserRow(name=name, role=role.value, token_hash=digest(token), created_at=utcnow()))
    return token


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


def platform_exists(session: Session, name: str) -> bool:
    return session.scalar(select(PlatformRow.id).where(PlatformRow.name == name)) is not None
