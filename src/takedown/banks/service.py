"""Banks and their entries: create, add, disable, delete, import, export.

Every change to a perceptual entry is also appended to `signal_changes`, the feed
that keeps each process's in-memory index current.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takedown.banks.formats import Record
from takedown.clock import utcnow
from takedown.domain.vocabulary import Category
from takedown.errors import Conflict, Invalid, NotFound
from takedown.index.hamming import MAX_RADIUS
from takedown.media.signals import DEFAULT_DISTANCE, SIGNAL_TYPES, Signal, signal_type
from takedown.store.tables import BankEntryRow, BankRow, SignalChangeRow

ACTIONS = ("block", "restrict", "review")
CONFIRMED = "confirmed"
# takedown's own: the references of files in cases restricted pending review, so that a
# copy uploaded meanwhile is restricted and joins the case. Entries leave when the
# case is decided (into `confirmed`, or gone).
UNDER_REVIEW = "under_review"
# Hashes people computed on their own device of their own images (/report/hash): each
# entry carries the reporter's case, so a match joins it and their status page follows.
SELF_REPORTED = "self_reported"
# Banks every installation has. NCMEC's hashes are of verified CSAM: block. StopNCII's
# are submitted by the people depicted, unverified: hide and let a human look.
DEFAULT_BANKS = {
    CONFIRMED: ("block", DEFAULT_DISTANCE, Category.CHILD_SEXUAL_ABUSE,
                "media of cases a reviewer confirmed as violating"),
    "ncmec": ("block", DEFAULT_DISTANCE, Category.CHILD_SEXUAL_ABUSE, "NCMEC hash sharing"),
    "stopncii": ("restrict", DEFAULT_DISTANCE, Category.NON_CONSENSUAL_INTIMATE_IMAGERY,
                 "StopNCII.org hashes submitted by the people depicted"),
    SELF_REPORTED: ("restrict", DEFAULT_DISTANCE, Category.NON_CONSENSUAL_INTIMATE_IMAGERY,
                    "hashes people computed on their own device of their own images "
                    "(the report page; each entry carries the reporter's case)"),
    UNDER_REVIEW: ("restrict", DEFAULT_DISTANCE, Category.CHILD_SEXUAL_ABUSE,
                   "files of cases restricted pending review (takedown's own; each entry "
                   "carries its case and leaves when the case is decided)"),
}


@dataclass(frozen=True)
class ImportResult:
    added: int
    already_present: int
    removed: int
    skipped: list[str]


class BankBook:
    def __init__(self, session: Session) -> None:
        self.session = session

    def ensure_defaults(self) -> None:
        for name, (action, distance, category, description) in DEFAULT_BANKS.items():
            if self.session.get(BankRow, name) is None:
                self.create(name, action, distance, category, description)

    def create(self, name: str, action: str, pdq_distance: int, category: Category,
               description: str = "") -> BankRow:
        if action not in ACTIONS:
            raise Invalid(f"bank action must be one of {', '.join(ACTIONS)}",
                          fields=[{"field": "action", "message": "unknown action"}])
        if not 0 <= pdq_distance <= MAX_RADIUS:
            raise Invalid(f"pdq_distance must be within 0..{MAX_RADIUS}",
                          fields=[{"field": "pdq_distance", "message": "out of range"}])
        if self.session.get(BankRow, name) is not None:
            raise Conflict(f"a bank named {name!r} exists already")
        row = BankRow(name=name, action=action, pdq_distance=pdq_distance,
                      category=category.value, description=description, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return row

    def bank(self, name: str) -> BankRow:
        row = self.session.get(BankRow, name)
        if row is None:
            raise NotFound(f"no bank named {name!r}", code="unknown_bank")
        return row

    def banks(self) -> list[tuple[BankRow, int, int]]:
        """Each bank with its (enabled, disabled) entry counts."""
        counts = {(bank, enabled): n for bank, enabled, n in self.session.execute(
            select(BankEntryRow.bank, BankEntryRow.enabled, func.count())
            .group_by(BankEntryRow.bank, BankEntryRow.enabled))}
        return [(b, counts.get((b.name, True), 0), counts.get((b.name, False), 0))
                for b in self.session.scalars(select(BankRow).order_by(BankRow.name))]

    def find(self, bank: str, kind: str, value: str) -> BankEntryRow | None:
        lookup = Signal(kind, value).lookup
        return self.session.scalar(select(BankEntryRow).where(
            BankEntryRow.bank == bank, BankEntryRow.signal_type == kind,
            BankEntryRow.lookup == lookup))

    def add(self, bank: str, kind: str, value: str, *, source: str, added_by: str,
            case_id: int | None = None,
            external_ids: list[str] | None = None) -> tuple[BankEntryRow, bool]:
        """(entry, whether it is new). Re-adding a disabled entry enables it again."""
        self.bank(bank)
        try:
            value = signal_type(kind).normalise(value)
        except ValueError as exc:
            raise Invalid(str(exc), fields=[{"field": "value", "message": str(exc)}]) from None
        existing = self.find(bank, kind, value)
        if existing is not None:
            if not existing.enabled:
                self.set_enabled(existing, True)
            return existing, False
        row = BankEntryRow(bank=bank, signal_type=kind, value=value,
                           lookup=Signal(kind, value).lookup, case_id=case_id, source=source,
                           external_ids=external_ids or [], added_by=added_by,
                           added_at=utcnow(), enabled=True)
        try:
            with self.session.begin_nested():  # another transaction may add it meanwhile
                self.session.add(row)
        except IntegrityError:
            existing = self.find(bank, kind, value)
            if existing is None:
                raise
            return existing, False
        self._changed(row, "add")
        return row, True

    def set_enabled(self, row: BankEntryRow, enabled: bool) -> None:
        if row.enabled != enabled:
            row.enabled = enabled
            self._changed(row, "add" if enabled else "remove")

    def delete(self, row: BankEntryRow) -> None:
        self._changed(row, "remove")
        self.session.delete(row)

    def entries(self, bank: str, *, enabled_only: bool = False) -> Iterator[BankEntryRow]:
        query = select(BankEntryRow).where(BankEntryRow.bank == bank).order_by(BankEntryRow.id)
        if enabled_only:
            query = query.where(BankEntryRow.enabled.is_(True))
        yield from self.session.scalars(query.execution_options(yield_per=1000))

    def import_records(self, bank: str, records: Iterable[Record], *, source: str,
                       added_by: str, skipped: list[str]) -> tuple[ImportResult,
                                                                   list[BankEntryRow]]:
        """Add active records, delete withdrawn ones (StopNCII requires it)."""
        added, present, removed, new_rows = 0, 0, 0, []
        for record in records:
            if not record.active:
                row = self.find(bank, record.signal_type, record.value)
                if row is not None:
                    self.delete(row)
                    removed += 1
                continue
            row, new = self.add(bank, record.signal_type, record.value, source=source,
                                added_by=added_by, external_ids=record.external_ids)
            if new:
                added += 1
                new_rows.append(row)
            else:
                present += 1
        return ImportResult(added, present, removed, skipped), new_rows

    def add_signals(self, bank: str, signals: Iterable[Signal], *, source: str, added_by: str,
                    case_id: int) -> int:
        """Add a case's signals to a bank (each noting how it was derived); returns how
        many were new."""
        added = 0
        for signal in signals:
            why = f"{source}: {signal.note}" if signal.note else source
            _, new = self.add(bank, signal.signal_type, signal.value, source=why[:200],
                              added_by=added_by, case_id=case_id)
            added += new
        return added

    def release(self, bank: str, case_id: int) -> int:
        """Delete a case's entries from a bank; returns how many."""
        rows = list(self.session.scalars(select(BankEntryRow).where(
            BankEntryRow.bank == bank, BankEntryRow.case_id == case_id)))
        for row in rows:
            self.delete(row)
        return len(rows)

    def _changed(self, row: BankEntryRow, op: str) -> None:
        if not SIGNAL_TYPES[row.signal_type].exact:
            self.session.add(SignalChangeRow(kind="bank", op=op, ref_id=row.id, at=utcnow()))


def as_record(row: BankEntryRow) -> Record:
    return Record(row.signal_type, row.value, row.enabled, list(row.external_ids or []))
