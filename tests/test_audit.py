"""The audit log is a hash chain: any edit or deletion is found and named."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from takedown.domain.vocabulary import Role
from takedown.errors import Unauthorized
from takedown.store.tables import AuditEntryRow
from takedown.system import Takedown


def fill(system: Takedown) -> None:
    system.add_user("ana", Role.CHILD_SAFETY_SPECIALIST, password="correct horse battery")
    system.set_role("ana", Role.ADMIN)
    for n in range(5):
        system.audit("ana", "media_viewed", f"case:{n}", "127.0.0.1", {"n": n})


def ids(system: Takedown) -> list[int]:
    with system.db.transaction() as s:
        return list(s.scalars(select(AuditEntryRow.id).order_by(AuditEntryRow.id)))


def test_an_untouched_log_verifies(system: Takedown) -> None:
    fill(system)
    verdict = system.verify_audit()
    assert verdict.ok and verdict.entries == 7


def test_an_edited_entry_is_named(system: Takedown) -> None:
    fill(system)
    target = ids(system)[3]
    with system.db.transaction() as s:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.id == target)
                  .values(details={"n": 99}))
    verdict = system.verify_audit()
    assert not verdict.ok and verdict.first_broken == target
    assert "changed" in (verdict.problem or "")


def test_a_deleted_entry_is_named_by_its_successor(system: Takedown) -> None:
    fill(system)
    entries = ids(system)
    with system.db.transaction() as s:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.id == entries[2]))
    verdict = system.verify_audit()
    assert not verdict.ok and verdict.first_broken == entries[3]


def test_a_truncated_tail_is_found(system: Takedown) -> None:
    fill(system)
    with system.db.transaction() as s:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.id == ids(system)[-1]))
    verdict = system.verify_audit()
    assert not verdict.ok and "newest" in (verdict.problem or "")


def test_role_changes_and_sign_ins_are_recorded(system: Takedown) -> None:
    fill(system)
    system.sign_in("ana", "correct horse battery", "10.0.0.7")
    with pytest.raises(Unauthorized):
        system.sign_in("ana", "wrong", "10.0.0.8")
    with system.db.transaction() as s:
        rows = [(r.action, r.source, r.details) for r in s.scalars(
            select(AuditEntryRow).order_by(AuditEntryRow.id))]
    assert ("role_changed", "cli", {"from": "child_safety_specialist", "to": "admin"}) in rows
    assert ("signed_in", "10.0.0.7", {}) in rows
    assert ("sign_in_failed", "10.0.0.8", {}) in rows


def test_the_cli_verifies_and_fails_loudly(system: Takedown, tmp_path: Path) -> None:
    fill(system)
    env = {**os.environ, "TAKEDOWN_DATABASE_URL": system.settings.effective_database_url,
           "TAKEDOWN_DATA_DIR": str(tmp_path)}

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "takedown.cli", "audit", "verify"],
                              env=env, capture_output=True, text=True, timeout=60,
                              check=False)

    good = verify()
    assert good.returncode == 0 and "intact: 7 entries" in good.stdout
    target = ids(system)[1]
    with system.db.transaction() as s:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.id == target)
                  .values(actor="mallory"))
    bad = verify()
    assert bad.returncode == 1 and f"entry {target}" in bad.stdout
