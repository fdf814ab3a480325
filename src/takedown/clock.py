"""One place for 'now', so tests and the demo read the same clock."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
