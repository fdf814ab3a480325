"""The takedown service, wired: one object that the API, the CLI and the demo call.

Each method is one unit of work: it opens a transaction, calls the services,
commits, and only then returns, so that nothing is acknowledged before it is stored.
The methods live by area in `takedown.service` (access, content, reports, moderation,
banks, legal), on top of `Core` (settings, database, workers, idempotency).
"""

from __future__ import annotations

from takedown.service.access import AccessDesk
from takedown.service.appeals import AppealDesk
from takedown.service.banks import BankDesk
from takedown.service.content import ContentDesk
from takedown.service.core import PlatformIdentity, request_hash
from takedown.service.legal import LegalDesk
from takedown.service.moderation import ModerationDesk
from takedown.service.reports import ReportDesk
from takedown.service.statements import StatementDesk
from takedown.service.transparency import TransparencyDesk

__all__ = ["PlatformIdentity", "Takedown", "request_hash"]


class Takedown(AccessDesk, ContentDesk, ReportDesk, ModerationDesk, BankDesk, LegalDesk,
               AppealDesk, StatementDesk, TransparencyDesk):
    """Every area of the service, on one object."""
