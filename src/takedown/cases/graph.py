"""The content graph: original -> reposts -> reposts of reposts, and quotes; and
which items carry which media files.

What a case reaches is decided by media, never by posts alone: the items a case is
about (reported, and their reposts and quotes) and every item that carries one of
the case's media files (see `CaseMediaRow`) with its reposts and quotes. An album
that carries a confirmed file is reached; the other posts of its other files are
not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.store.batches import chunks
from takedown.store.tables import CaseContentRow, CaseMediaRow, ContentMediaRow, ContentRow


class ContentGraph:
    def __init__(self, session: Session) -> None:
        self.session = session

    def origin(self, content_id: int) -> int:
        """The item whose content this one shows: walk up through pure reposts.
        A quote adds content of its own, so it is its own origin."""
        current = content_id
        for _ in range(10_000):  # a bound, in case a platform sent a cycle
            row = self.session.execute(
                select(ContentRow.parent_id, ContentRow.parent_kind).where(
                    ContentRow.id == current)
            ).one()
            if row.parent_id is None or row.parent_kind != "repost":
                return current
            current = row.parent_id
        return current

    def ancestors_or_self(self, content_ids: Iterable[int]) -> set[int]:
        seen: set[int] = set()
        frontier = set(content_ids)
        while frontier:
            seen |= frontier
            parents: set[int] = set()
            for batch in chunks(frontier):
                parents.update(
                    p for p in self.session.scalars(
                        select(ContentRow.parent_id).where(ContentRow.id.in_(batch)))
                    if p is not None
                )
            frontier = parents - seen
        return seen

    def subtree(self, roots: Iterable[int]) -> set[int]:
        """The roots and every repost and quote of them, transitively."""
        found: set[int] = set()
        for batch in chunks(roots):
            tree = select(ContentRow.id).where(ContentRow.id.in_(batch)).cte(
                "tree", recursive=True)
            tree = tree.union(
                select(ContentRow.id).join(tree, ContentRow.parent_id == tree.c.id))
            found.update(self.session.scalars(select(tree.c.id)))
        return found

    def _linked(self, wanted: Any, by: Any, ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for batch in chunks(ids):
            found.update(self.session.scalars(select(wanted).where(by.in_(batch))))
        return found

    def media_of(self, content_ids: Iterable[int]) -> set[int]:
        return self._linked(ContentMediaRow.media_id, ContentMediaRow.content_id, content_ids)

    def files(self, content_ids: Iterable[int]) -> dict[int, set[int]]:
        """Each item's own media files (an album has several; a repost none)."""
        found: dict[int, set[int]] = {i: set() for i in content_ids}
        for batch in chunks(found):
            for item, media in self.session.execute(
                    select(ContentMediaRow.content_id, ContentMediaRow.media_id)
                    .where(ContentMediaRow.content_id.in_(batch))):
                found[item].add(media)
        return found

    def shown_files(self, items: Iterable[int]) -> tuple[set[int], set[int]]:
        """What reported items show: (files that are the only file of the item shown,
        files of items showing several). An item shows its origin's files; a quote with
        no file of its own shows what it quotes. Which of an album's files is the one
        meant is for a bank match or a reviewer to say."""
        shown: set[int] = set()
        for item in items:
            origin = self.origin(item)
            for _ in range(100):  # a bound, in case a platform sent a cycle of quotes
                row = self.session.get(ContentRow, origin)
                if row is None or row.parent_id is None or self.files([origin])[origin]:
                    break
                origin = self.origin(row.parent_id)
            shown.add(origin)
        only: set[int] = set()
        several: set[int] = set()
        for files in self.files(shown).values():
            (only if len(files) == 1 else several).update(files)
        return only, several

    def carriers(self, media_ids: Iterable[int]) -> set[int]:
        """The items that carry any of these media files themselves (uploads, not reposts)."""
        return self._linked(ContentMediaRow.content_id, ContentMediaRow.media_id, media_ids)

    def case_subjects(self, case_id: int) -> set[int]:
        """The items a case is about: the origins of what was reported or matched."""
        return set(self.session.scalars(
            select(CaseContentRow.content_id).where(CaseContentRow.case_id == case_id)))

    def case_media(self, case_id: int) -> dict[int, CaseMediaRow]:
        return {row.media_id: row for row in self.session.scalars(
            select(CaseMediaRow).where(CaseMediaRow.case_id == case_id))}

    def reach_of(self, subjects: Iterable[int], media: Iterable[int]) -> set[int]:
        """Every item showing these subjects or carrying these media, with all the
        reposts and quotes of each."""
        return self.subtree(set(subjects) | self.carriers(media))

    def case_items(self, case_id: int) -> set[int]:
        return self.reach_of(self.case_subjects(case_id), self.case_media(case_id))

    def rows(self, content_ids: Iterable[int]) -> list[ContentRow]:
        result: list[ContentRow] = []
        for batch in chunks(content_ids):
            result.extend(self.session.scalars(
                select(ContentRow).where(ContentRow.id.in_(batch))))
        return result

    def reach(self, content_ids: Iterable[int]) -> tuple[int, int, float]:
        views, shares, rate = 0, 0, 0.0
        for batch in chunks(content_ids):
            row: Any = self.session.execute(
                select(func.coalesce(func.sum(ContentRow.views), 0),
                       func.coalesce(func.sum(ContentRow.shares), 0),
                       func.coalesce(func.sum(ContentRow.views_per_hour), 0.0))
                .where(ContentRow.id.in_(batch))).one()
            views, shares, rate = views + int(row[0]), shares + int(row[1]), rate + float(row[2])
        return views, shares, rate
