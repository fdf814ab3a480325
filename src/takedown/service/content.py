"""What the platform sends: content (screened as it arrives), its state, reach."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from takedown.cases.casebook import CaseBook
from takedown.cases.graph import ContentGraph
from takedown.errors import (
    NotFound,
)
from takedown.media.intake import MediaInput, prepare_media
from takedown.platform.content import (
    ContentSubmission,
    ReachUpdate,
    Registration,
)
from takedown.service.core import Core, PlatformIdentity
from takedown.store.tables import (
    ContentRow,
    PlatformRow,
)


class ContentDesk(Core):

    def register_content(self, platform: PlatformIdentity, sub: ContentSubmission,
                         media: list[MediaInput]) -> Registration:
        with self.db.transaction() as s:  # a retry of a known item needs no media work
            row = s.get(PlatformRow, platform.id)
            assert row is not None
            registry = self.registry(s)
            if registry.find(row, sub.content_id) is not None:
                return registry.register(row, sub, [])
        prepared = prepare_media(media, self.media_store,
                                 max_bytes=self.settings.max_media_bytes,
                                 timeout_s=self.settings.fetch_timeout_s)
        with self.db.transaction() as s:
            row = s.get(PlatformRow, platform.id)
            assert row is not None
            result = self.registry(s).register(row, sub, prepared)
        self.workers.wake()
        return result

    def content_state(self, platform: PlatformIdentity, content_id: str) -> dict[str, Any]:
        with self.db.transaction() as s:
            row = s.scalar(select(ContentRow).where(ContentRow.platform_id == platform.id,
                                                    ContentRow.external_id == content_id))
            if row is None:
                raise NotFound(f"no content {content_id!r} on this platform",
                               code="unknown_content")
            graph = ContentGraph(s)
            case_id = row.moderation_case_id or max(
                CaseBook(s, self.policy).cases_reaching(graph, {row.id}), default=None)
            return {"content_id": row.external_id, "moderation_state": row.moderation_state,
                    "case_id": case_id, "views": row.views, "shares": row.shares}

    def update_reach(self, platform: PlatformIdentity,
                     updates: list[ReachUpdate]) -> tuple[int, list[str]]:
        with self.db.transaction() as s:
            row = s.get(PlatformRow, platform.id)
            assert row is not None
            return self.registry(s).update_reach(row, updates)
