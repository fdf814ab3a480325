"""The FastAPI application: routers, error handlers, limits, workers' lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from takedown import __version__
from takedown.api import appeals, errors, legal, moderation, platform, reporters, reports
from takedown.api.limits import BodySizeLimit
from takedown.api.metrics import operations_router
from takedown.api.proxies import trust_proxies
from takedown.api.requests import RequestContext
from takedown.api.security import SecurityHeaders
from takedown.demo.app import DemoPlatform
from takedown.demo.ncmec import DEMO_NCMEC_PATH, StandInNcmec
from takedown.system import Takedown
from takedown.web import console

DESCRIPTION = """\
takedown turns a report of child sexual abuse material or non-consensual intimate
imagery into the removal of every copy.

* **platform** (API key in `X-Api-Key`): register content and reach counters; read
  the delivery state of the actions takedown sends as signed webhooks.
* **reports** (public, no account): report content; read a report's status.
* **moderation** (reviewer token, `Authorization: Bearer`): the queue, cases, decisions.

Every error is `{"error": {"code", "message", "fields"}}` with a 4xx status.
"""


def create_app(system: Takedown, *, demo: DemoPlatform | None = None,
               ncmec: StandInNcmec | None = None, run_workers: bool = True) -> FastAPI:
    """`demo`, `ncmec`: the demo platform and a stand-in NCMEC, mounted beside the API
    (`serve --demo`, `takedown demo`)."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            system.start_workers()
        try:
            yield
        finally:
            system.workers.stop()

    # /docs and /redoc with their assets served from takedown (a CDN may be unreachable).
    app = FastAPIOffline(title="takedown", version=__version__, description=DESCRIPTION,
                         lifespan=lifespan, static_url="/docs/assets")
    app.state.takedown = system
    errors.install(app)
    errors.use_error_shape_in_openapi(app)
    app.include_router(platform.router)
    app.include_router(reports.router)
    app.include_router(moderation.router)
    app.include_router(reporters.router)
    app.include_router(legal.router)
    app.include_router(appeals.router)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """`ok` when the process is up."""
        return {"status": "ok"}

    app.include_router(operations_router(system))  # /metrics, /readyz
    console.install(app)

    if demo is not None:
        app.mount("/demo", demo.app())
    if ncmec is not None:
        app.mount(DEMO_NCMEC_PATH, ncmec.app())
    app.add_middleware(BodySizeLimit, max_bytes=system.settings.max_request_bytes,
                       max_json_bytes=system.settings.max_json_bytes)
    app.add_middleware(SecurityHeaders)  # on every answer, the 413 above included
    app.add_middleware(RequestContext)  # request ids, access log, durations: of all answers
    trust_proxies(app, system.settings.trusted_proxy_list)  # outermost: the real client
    return app
