"""Console sign-in limits: failed attempts per account name and per client address.

Only failures count (a moving window, the `limits` package): an office behind one
address where many reviewers sign in at shift start is never throttled by its own
successes, while guessing passwords is. Once a limit is reached every attempt is
refused before the password is checked, a right one included, so the answer cannot
tell a guesser whether their guess was right.

Attempts in flight count too, within one process: a burst of parallel guesses cannot
all pass the check before the first failure is recorded. Between processes sharing a
storage (redis://) only the recorded failures are shared.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from takedown.config import Settings
from takedown.errors import Unauthorized

T = TypeVar("T")
# One limit applied to one identity: (limit, "account" or "address", identity).
Key = tuple[RateLimitItem, str, str]


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


def account_id(name: str) -> str:
    """The name as the limit sees it: case and spaces do not make a new account, and a
    hash keeps a megabyte-long name from becoming a megabyte-long key."""
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]


class SignInLimiter:
    def __init__(self, account: str, address: str, storage: str = "memory://") -> None:
        self.account = parse_many(account)
        self.address = parse_many(address)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))
        self.lock = threading.Lock()
        self.in_flight: Counter[Key] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInLimiter:
        return cls(settings.signin_limit_account, settings.signin_limit_address,
                   settings.rate_limit_storage)

    def keys(self, name: str, address: str) -> list[Key]:
        return [(item, "account", account_id(name)) for item in self.account] + \
               [(item, "address", address) for item in self.address]

    def guard(self, name: str, address: str, check: Callable[[], T]) -> T:
        """`check()` (the password check), unless a limit is reached: then `Throttled`
        without calling it. An `Unauthorized` from it counts against every limit."""
        keys = self.keys(name, address)
        with self.attempt(keys):
            try:
                return check()
            except Unauthorized:
                for item, *identity in keys:
                    self.limiter.hit(item, *identity)
                raise

    @contextmanager
    def attempt(self, keys: list[Key]) -> Iterator[None]:
        with self.lock:
            wait = self.wait(keys)
            if wait:
                raise Throttled(wait)
            self.in_flight.update(keys)
        try:
            yield
        finally:
            with self.lock:
                self.in_flight.subtract(keys)
                for key in keys:  # no entry left behind per name tried
                    if self.in_flight[key] <= 0:
                        del self.in_flight[key]

    def wait(self, keys: list[Key]) -> int:
        """Seconds until every limit allows one more attempt; 0: allowed now."""
        now, wait = time.time(), 0
        for key in keys:
            item, *identity = key
            if not self.limiter.test(item, *identity, cost=1 + self.in_flight[key]):
                reset = self.limiter.get_window_stats(item, *identity).reset_time
                wait = max(wait, math.ceil(reset - now), 1)
        return wait
