"""Platform API: content in, reach counters in, action delivery state out."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from takedown.api.deps import Platform, System
from takedown.api.errors import documented
from takedown.api.schemas import (
    MAX_OFFSET,
    ActionOut,
    ContentIn,
    ContentOut,
    ContentStateOut,
    Id,
    MediaOut,
    ReachIn,
    ReachOut,
)
from takedown.clock import utcnow
from takedown.errors import Invalid
from takedown.media.intake import MediaInput
from takedown.platform.content import ContentSubmission, ReachUpdate, Registration

router = APIRouter(prefix="/v1", tags=["platform"])


def _media_inputs(body: ContentIn) -> list[MediaInput]:
    inputs = []
    for index, media in enumerate(body.media):
        if media.url is not None:
            inputs.append(MediaInput(url=media.url))
            continue
        try:
            data = base64.b64decode(media.data_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(f"media[{index}].data_base64 is not valid base64",
                          code="invalid", fields=[{"field": f"media[{index}].data_base64",
                                                   "message": "not valid base64"}]) from None
        inputs.append(MediaInput(data=data))
    return inputs


def _content_out(result: Registration) -> ContentOut:
    return ContentOut(
        content_id=result.content_id, verdict=result.verdict, case_id=result.case_id,
        reason=result.reason, created=result.created,
        media=[MediaOut(sha256=m.sha256, size=m.size, mime=m.mime,
                        md5=next(s.value for s in m.signals if s.signal_type == "md5"))
               for m in result.media])


@router.post("/content", response_model=ContentOut, status_code=201,
             summary="Register content and screen it",
             responses={200: {"model": ContentOut, "description": "Registered before; the "
                              "first registration's verdict."},
                        **documented(400, 401, 413, 422)})
def register_content(body: ContentIn, system: System, platform: Platform,
                     response: Response) -> ContentOut:
    """Register an item (post, repost, quote, upload) with its media. Media is hashed
    (SHA-256, MD5) and screened: the answer says whether the platform may publish it.
    Register an original before its reposts; a retry with the same content_id is safe."""
    sub = ContentSubmission(
        content_id=body.content_id, author_id=body.author_id, created_at=body.created_at,
        text=body.text, url=body.url, repost_of=body.repost_of, quote_of=body.quote_of,
        author_language=body.author_language)
    result = system.register_content(platform, sub, _media_inputs(body))
    if not result.created:
        response.status_code = 200
    return _content_out(result)


@router.get("/content/{content_id}", response_model=ContentStateOut,
            summary="An item's moderation state", responses=documented(401, 404, 422))
def content_state(system: System, platform: Platform,
                  content_id: Annotated[Id, Path(description="The platform's id for the item.")],
                  ) -> ContentStateOut:
    """What takedown has asked the platform to do with this item."""
    return ContentStateOut(**system.content_state(platform, content_id))


@router.post("/content/reach", response_model=ReachOut, summary="Report reach counters",
             responses=documented(400, 401, 413, 422))
def update_reach(body: ReachIn, system: System, platform: Platform) -> ReachOut:
    """Views and shares, as running totals. Fast-growing reach raises a case's priority."""
    now = utcnow()
    updates = [ReachUpdate(u.content_id, u.views, u.shares, u.observed_at or now)
               for u in body.updates]
    updated, unknown = system.update_reach(platform, updates)
    return ReachOut(updated=updated, unknown=unknown)


@router.get("/platform/actions", response_model=list[ActionOut],
            summary="This platform's actions and their delivery state",
            responses=documented(401, 422))
def platform_actions(
    system: System, platform: Platform,
    status: Literal["pending", "delivered", "failing"] | None = Query(
        None, description="Only actions in this delivery state."),
    limit: int = Query(100, ge=1, le=1000, description="Page size."),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Rows to skip."),
) -> list[ActionOut]:
    """Every action sent (or being sent) to this platform, oldest first."""
    rows = system.actions(platform_id=platform.id, status=status, limit=limit, offset=offset)
    return [ActionOut(**r) for r in rows]
