"""Request dependencies: the service object and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from takedown.domain.case import Reviewer
from takedown.system import PlatformIdentity, Takedown

_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False,
                        description="The platform's API key (`takedown platform add`).")
platform_key = _api_key  # optional on public routes (e.g. a report with reporter_account)
_bearer = HTTPBearer(auto_error=False, description="A reviewer's token (`takedown user add`).")
bearer = _bearer  # for routes that take either a platform or a reviewer


def client_of(request: Request) -> str:
    """Where a request came from, for the audit log and the console's sign-in limits:
    the TCP peer, or the client a trusted proxy forwarded for (api.proxies rewrites the
    request's client). Clipped to the audit log's column, whatever a proxy forwards."""
    return request.client.host[:100] if request.client else "unknown"


def get_system(request: Request) -> Takedown:
    system: Takedown = request.app.state.takedown
    return system


System = Annotated[Takedown, Depends(get_system)]


def _platform(system: System, key: str | None = Security(_api_key)) -> PlatformIdentity:
    return system.platform_for_key(key)


def _reviewer(system: System,
              credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> Reviewer:
    return system.reviewer_for_token(credentials.credentials if credentials else None)


Platform = Annotated[PlatformIdentity, Depends(_platform)]
CurrentReviewer = Annotated[Reviewer, Depends(_reviewer)]
