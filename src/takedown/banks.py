"""Hash banks: named lists of signals that content is screened against.

Today every bank blocks exact matches; per-bank distances and actions, perceptual
signals and the exchange formats come with perceptual matching.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from takedown.cases.graph import chunks
from takedown.store.tables import BankEntryRow, SignalRow


def bank_hits(session: Session, media_ids: Iterable[int]) -> list[BankEntryRow]:
    """Enabled bank entries whose signal equals a signal of one of these media."""
    hits: list[BankEntryRow] = []
    for batch in chunks(media_ids):
        signals = select(SignalRow.signal_type, SignalRow.value).where(
            SignalRow.media_id.in_(batch))
        hits.extend(session.scalars(
            select(BankEntryRow)
            .where(BankEntryRow.enabled.is_(True))
            .where(tuple_(BankEntryRow.signal_type, BankEntryRow.value).in_(signals))
            .order_by(BankEntryRow.id)))
    return hits
