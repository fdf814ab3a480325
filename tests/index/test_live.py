"""The live index follows the change feed, including rows committed out of id order."""

from sqlalchemy import func, select

from takedown.clock import utcnow
from takedown.store.tables import BankEntryRow, SignalChangeRow
from takedown.system import Takedown

A, B = "a" * 64, "b" * 64


def entry(system: Takedown, value: str) -> int:
    with system.db.transaction() as s:
        row = BankEntryRow(bank="ncmec", signal_type="pdq", value=value, lookup=value,
                           source="test", external_ids=[], added_by="test",
                           added_at=utcnow(), enabled=True)
        s.add(row)
        s.flush()
        return row.id


def change(system: Takedown, change_id: int, ref_id: int) -> None:
    with system.db.transaction() as s:
        s.add(SignalChangeRow(id=change_id, kind="bank", op="add", ref_id=ref_id,
                              at=utcnow()))


def found(system: Takedown, value: str) -> bool:
    with system.db.transaction() as s:
        return bool(system.indexes.bank.search(s, [value], 0))


def test_a_change_that_commits_late_with_a_lower_id_is_still_applied(
        system: Takedown) -> None:
    with system.db.transaction() as s:
        base = int(s.scalar(select(func.coalesce(func.max(SignalChangeRow.id), 0))) or 0)
    first, second = entry(system, A), entry(system, B)
    change(system, base + 20, second)  # a short transaction commits first...
    assert found(system, B) and not found(system, A)
    change(system, base + 10, first)  # ...and a long one, holding a lower id, later
    assert found(system, A)
    assert not system.indexes.bank.gaps.keys() & {base + 10}
