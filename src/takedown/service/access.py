"""Who may call: platforms by API key, reviewers by token or console session;
users and roles; the audit log."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from takedown import access, audit
from takedown.audit import Verdict
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Role
from takedown.errors import (
    NotFound,
    Unauthorized,
)
from takedown.service.core import Core, PlatformIdentity
from takedown.store.tables import (
    PlatformRow,
)


class AccessDesk(Core):

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

    def add_platform(self, name: str, webhook_url: str, *, by: str = "cli",
                     source: str = "cli", **secrets: str) -> tuple[str, str]:
        with self.db.transaction() as s:
            created = access.add_platform(s, name, webhook_url, **secrets)
            # The host only: a webhook URL's path or query may hold a token.
            audit.record(s, by, "platform_added", f"platform:{name}", source,
                         {"webhook_host": urlsplit(webhook_url).hostname})
            return created

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
            clipped = name[:200]  # whatever was typed, within the audit log's columns
            self.audit(clipped, "sign_in_failed", f"user:{clipped}", source)
            raise

    def session_reviewer(self, token: str | None) -> tuple[Reviewer, str]:
        with self.db.transaction() as s:
            return access.session_reviewer(s, token)

    def sign_out(self, token: str | None, reviewer: Reviewer, source: str) -> None:
        with self.db.transaction() as s:
            access.close_session(s, token)
            audit.record(s, reviewer.id, "signed_out", f"user:{reviewer.id}", source)

    def verify_audit(self) -> Verdict:
        with self.db.transaction() as s:
            return audit.verify(s)
