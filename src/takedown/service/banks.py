"""Hash banks: create, add, import, export, enable; and hashing or matching a
file from the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from takedown import audit
from takedown.banks.formats import FORMATS, READERS, WRITERS, FormatError
from takedown.banks.matching import BankMatch, Matcher
from takedown.banks.service import BankBook, ImportResult, as_record
from takedown.cases.casebook import CaseBook
from takedown.cases.enforcement import Enforcement
from takedown.cases.matches import MatchDesk
from takedown.domain.vocabulary import Category
from takedown.errors import (
    Invalid,
    NotFound,
)
from takedown.media.signals import Signal, compute_signals, signal_type
from takedown.media.storage import sniff_mime
from takedown.platform.actions import ActionLedger
from takedown.service.core import Core
from takedown.store.tables import (
    BankEntryRow,
)


class BankDesk(Core):

    def banks(self) -> list[dict[str, Any]]:
        with self.db.transaction() as s:
            return [{"name": b.name, "action": b.action, "pdq_distance": b.pdq_distance,
                     "category": b.category, "enabled": on, "disabled": off,
                     "description": b.description} for b, on, off in BankBook(s).banks()]

    def create_bank(self, name: str, action: str, pdq_distance: int,
                    category: Category, description: str = "", *, by: str = "cli",
                    source: str = "cli") -> None:
        with self.db.transaction() as s:
            BankBook(s).create(name, action, pdq_distance, category, description)
            audit.record(s, by, "bank_created", f"bank:{name}", source,
                         {"action": action, "pdq_distance": pdq_distance,
                          "category": category.value})

    def add_to_bank(self, bank: str, kind: str, value: str, added_by: str, *,
                    source: str = "cli") -> tuple[bool, int]:
        """(whether the hash is new, items on the platform it matched and acted on)."""
        with self.db.transaction() as s:
            row, new = BankBook(s).add(bank, kind, value, source="manual", added_by=added_by)
            matched = self._sweep(s, [row]) if new else 0
            audit.record(s, added_by, "bank_entry_added", f"bank:{bank}", source,
                         {"signal_type": kind, "lookup": row.lookup, "entry": row.id,
                          "new": new, "matched": matched})
        self.workers.wake()
        return new, matched

    def import_bank(self, bank: str, fmt: str, text: str, added_by: str, *,
                    source: str = "cli") -> tuple[ImportResult, int]:
        """Import a file in one of banks.formats.FORMATS; then sweep registered media."""
        try:
            parsed = READERS[fmt](text)
        except KeyError:
            raise Invalid(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None
        except FormatError as exc:
            raise Invalid(f"{fmt}: {exc}", code="bad_import") from None
        with self.db.transaction() as s:
            result, new_rows = BankBook(s).import_records(
                bank, parsed.records, source=f"import:{fmt}", added_by=added_by,
                skipped=parsed.skipped)
            matched = self._sweep(s, new_rows)
            audit.record(s, added_by, "bank_imported", f"bank:{bank}", source,
                         {"format": fmt, "added": result.added,
                          "already_present": result.already_present,
                          "removed": result.removed, "skipped": len(result.skipped),
                          "matched": matched})
        self.workers.wake()
        return result, matched

    def export_bank(self, bank: str, fmt: str) -> str:
        if fmt not in WRITERS:
            raise Invalid(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        with self.db.transaction() as s:
            book = BankBook(s)
            book.bank(bank)
            return "".join(WRITERS[fmt](as_record(r) for r in book.entries(bank)))

    def set_bank_entry(self, bank: str, kind: str, value: str, *, enabled: bool | None = None,
                       delete: bool = False, by: str = "cli", source: str = "cli") -> None:
        with self.db.transaction() as s:
            book = BankBook(s)
            try:
                normal = signal_type(kind).normalise(value)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
            row = book.find(bank, kind, normal)
            if row is None:
                raise NotFound(f"no {kind} entry {value[:16]}… in bank {bank!r}",
                               code="unknown_entry")
            details = {"signal_type": kind, "lookup": row.lookup, "entry": row.id}
            if delete:
                book.delete(row)
                audit.record(s, by, "bank_entry_deleted", f"bank:{bank}", source, details)
            elif enabled is not None:
                changed = row.enabled != enabled
                book.set_enabled(row, enabled)
                audit.record(s, by, f"bank_entry_{'enabled' if enabled else 'disabled'}",
                             f"bank:{bank}", source, {**details, "changed": changed})

    def _sweep(self, s: Session, rows: list[BankEntryRow]) -> int:
        book = CaseBook(s, self.policy)
        sweeper = self.sweeper(s)
        enforcement = Enforcement(s, self.policy, book, ActionLedger(s, self.policy), sweeper)
        return MatchDesk(s, book, enforcement).sweep(sweeper, rows)


    def hash_file(self, data: bytes) -> list[Signal]:
        return compute_signals(data, sniff_mime(data))

    def match_file(self, data: bytes) -> list[BankMatch]:
        signals = self.hash_file(data)
        with self.db.transaction() as s:
            return Matcher(s, self.indexes).against_banks(signals)
