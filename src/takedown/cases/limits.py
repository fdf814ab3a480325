"""Limits on anonymous reporting: per client address and per reported item, so that a
flood of reports from one place, or about one item, cannot crowd out the rest.

A moving window (the `limits` package, shared storage via TAKEDOWN_RATE_LIMIT_STORAGE)
that counts every report accepted. Reports a platform sends with its API key are never
limited per address (they all come from its servers); reading one's own status is
never limited at all. A refusal is a 429 with Retry-After, never a silent drop.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from takedown.config import Settings
from takedown.errors import TooManyRequests

OFF = "off"


class ReportLimiter:
    def __init__(self, per_address: str, per_content: str, storage: str = "memory://") -> None:
        self.per_address = [] if per_address == OFF else parse_many(per_address)
        self.per_content = [] if per_content == OFF else parse_many(per_content)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportLimiter:
        return cls(settings.report_rate_limit, settings.report_rate_limit_per_content,
                   settings.rate_limit_storage)

    def admit(self, address: str | None, items: Iterable[str]) -> None:
        """Count one report from `address` (None: a platform's, not limited by address)
        about `items` (content ids and URLs as named), or raise TooManyRequests."""
        keys = [(item, "address", address) for item in self.per_address if address] + \
               [(limit, "content", _short(name)) for name in sorted(set(items))
                for limit in self.per_content]
        wait = self._wait(keys)
        if wait:
            which = "from this address" if self._address_full(keys) else "about this content"
            raise TooManyRequests(f"too many reports {which}; please try again in {wait} s",
                                  retry_after=wait)
        for limit, *identity in keys:
            self.limiter.hit(limit, *identity)

    def _wait(self, keys: list[tuple[RateLimitItem, str, str]]) -> int:
        now, wait = time.time(), 0
        for limit, *identity in keys:
            if not self.limiter.test(limit, *identity):
                reset = self.limiter.get_window_stats(limit, *identity).reset_time
                wait = max(wait, math.ceil(reset - now), 1)
        return wait

    def _address_full(self, keys: list[tuple[RateLimitItem, str, str]]) -> bool:
        return any(kind == "address" and not self.limiter.test(limit, kind, who)
                   for limit, kind, who in keys)


def _short(name: str) -> str:
    """A URL can be 2,000 characters: the limit keys on its hash."""
    return hashlib.sha256(name.encode()).hexdigest()[:32]
