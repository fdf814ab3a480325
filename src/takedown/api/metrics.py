"""Operations endpoints: /metrics (Prometheus) and /readyz (the database answers).

/metrics needs no reviewer token: it is for the monitoring system, which should reach
it over an internal network only (bind or proxy accordingly, docs/operations.md); with
TAKEDOWN_METRICS_TOKEN set it also wants `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine

from takedown.api.errors import ErrorResponse, error_response
from takedown.metrics import registry_for
from takedown.system import Takedown

READY_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)
# The readiness pings' own threads: a database that hangs holds these two, never the
# server's thread pool, and /readyz keeps answering (503) meanwhile.
_pings = ThreadPoolExecutor(max_workers=2, thread_name_prefix="takedown-readyz")


def _ping(engine: Engine) -> None:
    # A bare DBAPI SELECT 1: SQLAlchemy's BEGIN (BEGIN IMMEDIATE on SQLite, see
    # store.db) would queue behind writers and report a busy database as down.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        cursor.close()
    finally:
        connection.close()


async def database_problem(engine: Engine, timeout_s: float = READY_TIMEOUT_S) -> str | None:
    """Why the database is not usable now, or None when it answered a SELECT 1 in time.
    The reason names no host or error text: /readyz may be reachable from outside."""
    try:
        await asyncio.wait_for(
            asyncio.wrap_future(_pings.submit(_ping, engine)), timeout_s)
    except TimeoutError:
        log.warning("readiness: the database did not answer within %ss", timeout_s)
        return f"the database did not answer within {timeout_s:g}s"
    except Exception as exc:
        log.warning("readiness: the database is unreachable", exc_info=True)
        return f"the database is unreachable ({type(exc).__name__})"
    return None


def operations_router(system: Takedown) -> APIRouter:
    router = APIRouter()
    registry = registry_for(system)
    token = system.settings.metrics_token

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token and not secrets.compare_digest(
                request.headers.get("authorization", "").encode(),
                f"Bearer {token}".encode()):
            return error_response(401, "unauthorized", "send the metrics token as "
                                  "'Authorization: Bearer <token>'",
                                  headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/readyz", tags=["health"], summary="Readiness",
                responses={503: {"model": ErrorResponse,
                                 "description": "Not ready (`not_ready`): the database does "
                                                "not answer; `message` says how."}})
    async def readyz() -> JSONResponse:
        """`ok` when the database answers a `SELECT 1` within 2 seconds; else 503 with
        the reason, so that a load balancer sends requests elsewhere meanwhile."""
        problem = await database_problem(system.db.engine)
        if problem:
            return error_response(503, "not_ready", problem)
        return JSONResponse({"status": "ok"})

    return router
