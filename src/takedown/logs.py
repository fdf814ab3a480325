"""Logging: one JSON object per line (`TAKEDOWN_LOG_FORMAT=json`, the default, for log
shippers) or plain text (`text`, for people), on standard error. Every line written
while a request is handled carries its request id (api.requests sets it), so that the
lines of one request can be found together, and matched to the X-Request-Id a client
or proxy saw.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

# Set for the duration of one request; context variables follow it into the threads
# and tasks it starts (Starlette copies the context into its thread pool).
REQUEST_ID: ContextVar[str | None] = ContextVar("takedown_request_id", default=None)

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
# A LogRecord's own attributes; any other attribute came from `extra=` and is a field.
_STANDARD = {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime",
             "request_id", "color_message"}  # color_message: uvicorn's ANSI copy


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or "-") on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            entry["request_id"] = request_id
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(log_format: str = "json", *, level: int = logging.INFO,
                      stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's records (uvicorn's included) to one handler on the root
    logger, replacing the one an earlier call installed; returns it."""
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r}: use one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name("takedown")
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "takedown"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx tells of every request at INFO: webhook and fetch outcomes are stored already.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)  # should uvicorn have set up its own handlers
        logger.handlers.clear()
        logger.propagate = True
    return handler
