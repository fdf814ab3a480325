"""Bank matches on registered content: `MatchDesk` opens or joins the case about the
content, records the match, and acts as the bank says."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.banks.matching import BankMatch
from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import Enforcement
from takedown.cases.graph import ContentGraph
from takedown.cases.sweeps import Sweeper
from takedown.domain.case import EventType, NewEvent
from takedown.store.tables import BankEntryRow, BankRow


class MatchDesk:
    def __init__(self, session: Session, book: CaseBook, enforcement: Enforcement) -> None:
        self.session = session
        self.book = book
        self.enforcement = enforcement
        self.graph = ContentGraph(session)

    def record(self, items: set[int], match: BankMatch) -> int:
        """Open or join the case about these items, record the match, act on it."""
        case_id = match.case_id or self.book.case_about(self.graph, items) or self.book.open().id
        self.book.link(self.graph, case_id, items)
        state, seq = self.book.append(case_id, [NewEvent(EventType.HASH_MATCHED, {
            "bank": match.bank, "entry_id": match.entry_id, "signal_type": match.signal_type,
            "distance": match.distance, "category": match.category})])
        step = f"case:{case_id}:event:{seq}"
        reason = f"matches the {match.bank!r} hash bank"
        if match.action == "block":
            self.enforcement.remove(case_id, state, step, reason, items)
        elif match.action == "restrict":
            self.enforcement.restrict(case_id, state, step, reason)
        return case_id

    def sweep(self, sweeper: Sweeper, entries: list[BankEntryRow]) -> int:
        """Act on every registered item that newly banked entries match; returns how
        many items were matched."""
        banks = {b.name: b for b in self.session.scalars(select(BankRow))}
        matched = 0
        for entry in entries:
            bank = banks[entry.bank]
            media = sweeper.media_for_entry(entry, bank.pdq_distance)
            items = self.graph.carriers(media)
            if not items:
                continue
            matched += len(items)
            category = sweeper.matcher.category_of(entry, bank)
            self.record(items, BankMatch(entry.id, bank.name, bank.action, category,
                                         entry.case_id, entry.signal_type, 0))
        return matched
