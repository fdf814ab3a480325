"""Errors the services raise; the API turns each into a 4xx with its code and message."""

from __future__ import annotations


class TakedownError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None,
                 fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []
        if code:
            self.code = code


class NotFound(TakedownError):
    status = 404
    code = "not_found"


class Forbidden(TakedownError):
    status = 403
    code = "forbidden"


class Unauthorized(TakedownError):
    status = 401
    code = "unauthorized"


class Conflict(TakedownError):
    status = 409
    code = "conflict"


class Invalid(TakedownError):
    status = 422
    code = "invalid"


class TooLarge(TakedownError):
    status = 413
    code = "too_large"


class TooManyRequests(TakedownError):
    """A rate limit was reached; `retry_after` seconds until one more is allowed."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
