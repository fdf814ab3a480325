"""The audit log is a keyed hash chain, anchored outside the database: any edit,
deletion, truncation, wipe or re-chaining is found and named. The attacks below are
direct SQL edits, as someone with database access (but not the audit key) would make."""

import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from takedown.audit import GENESIS, AuditAnchor, AuditBroken, KeyRing, anchor_path
from takedown.clock import utcnow
from takedown.domain.vocabulary import Category, Role
from takedown.errors import Unauthorized
from takedown.store.tables import AuditEntryRow, AuditHeadRow
from takedown.system import Takedown
from tests.conftest import Receiver

# (row, previous hash) -> (key id, hash): how an attacker signs a row they re-chain.
Signer = Callable[[AuditEntryRow, str], tuple[str | None, str]]


def fill(system: Takedown) -> None:
    system.add_user("ana", Role.CHILD_SAFETY_SPECIALIST, password="correct horse battery")
    system.set_role("ana", Role.ADMIN)
    for n in range(5):
        system.audit("ana", "media_viewed", f"case:{n}", "127.0.0.1", {"n": n})


def ids(system: Takedown) -> list[int]:
    with system.db.transaction() as s:
        return list(s.scalars(select(AuditEntryRow.id).order_by(AuditEntryRow.id)))


def anchor(system: Takedown) -> None:
    assert AuditAnchor(system.db, system.settings).anchor_now() is not None


def run_cli(system: Takedown, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAKEDOWN_DATABASE_URL": system.settings.effective_database_url,
           "TAKEDOWN_DATA_DIR": str(system.settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "takedown.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


# --- what an attacker does ---------------------------------------------------------


def canonical(row: AuditEntryRow, prev: str, key_id: str | None) -> bytes:
    """The entry format, written out again here (it is no secret)."""
    fields = {"prev": prev, "at": row.at.astimezone(UTC).isoformat(), "actor": row.actor,
              "action": row.action, "target": row.target, "source": row.source,
              "details": row.details}
    if key_id is not None:
        fields["key_id"] = key_id
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def plain_sha256(row: AuditEntryRow, prev: str) -> tuple[str | None, str]:
    return None, hashlib.sha256(canonical(row, prev, None)).hexdigest()


def hmac_with(key_id: str, secret: bytes) -> Signer:
    def sign(row: AuditEntryRow, prev: str) -> tuple[str | None, str]:
        return key_id, hmac.new(secret, canonical(row, prev, key_id), hashlib.sha256).hexdigest()
    return sign


def own_key(system: Takedown) -> tuple[str, bytes]:
    ring = KeyRing.parse((system.settings.data_dir / "audit.key").read_text())
    return ring.signing


def edit_and_rechain(system: Takedown, edited: int, sign: Signer) -> None:
    """Change entry `edited`, re-sign it and every later entry, and move the head."""
    with system.db.transaction() as s:
        prev = GENESIS
        for row in s.scalars(select(AuditEntryRow).order_by(AuditEntryRow.id)):
            if row.id == edited:
                row.actor = "mallory"
            if row.id >= edited:
                row.prev_hash = prev
                row.key_id, row.hash = sign(row, prev)
            prev = row.hash
        s.execute(update(AuditHeadRow).values(last_hash=prev))


def truncate(system: Takedown, keep: int) -> None:
    """Delete all but the first `keep` entries and move the head back to match."""
    kept = ids(system)[:keep]
    with system.db.transaction() as s:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.id.not_in(kept or [0])))
        last = s.scalar(select(AuditEntryRow.hash).where(AuditEntryRow.id == kept[-1])
                        ) if kept else GENESIS
        s.execute(update(AuditHeadRow).values(last_hash=last))


# --- the chain ---------------------------------------------------------------------


def test_an_untouched_log_verifies(system: Takedown) -> None:
    fill(system)
    verdict = system.verify_audit()
    assert verdict.ok and verdict.entries == 7


def test_entries_are_hmacs_under_a_key_kept_outside_the_database(system: Takedown) -> None:
    fill(system)
    key_file = system.settings.data_dir / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_id, _ = own_key(system)
    with system.db.transaction() as s:
        rows = list(s.scalars(select(AuditEntryRow)))
    assert {r.key_id for r in rows} == {key_id}
    assert all(plain_sha256(r, r.prev_hash)[1] != r.hash for r in rows)


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


# --- attack (a): truncation with the head moved back ---------------------------------


def test_truncation_with_the_head_moved_back_is_found_by_the_anchor(
        system: Takedown) -> None:
    fill(system)
    anchor(system)
    system.audit("ana", "media_viewed", "case:9", "127.0.0.1")  # after the anchor
    truncate(system, keep=4)
    verdict = system.verify_audit()
    assert not verdict.ok and verdict.anchors == 1
    assert "7 entries (up to entry" in (verdict.problem or "")
    assert "log has 4" in (verdict.problem or "")


def test_an_anchor_is_not_written_for_a_cut_chain(system: Takedown) -> None:
    fill(system)
    anchors = AuditAnchor(system.db, system.settings)
    assert anchors.anchor_now() is not None
    truncate(system, keep=5)
    with pytest.raises(AuditBroken, match="deleted or changed"):
        anchors.anchor_now()
    # A fresh process (the workers after a restart) starts from the file's last line.
    assert AuditAnchor(system.db, system.settings).run_once() == 0
    assert len(anchor_path(system.settings).read_text().splitlines()) == 1


# --- attack (b): the head row deleted ------------------------------------------------


def test_a_missing_head_row_is_a_failure(system: Takedown) -> None:
    fill(system)
    with system.db.transaction() as s:
        s.execute(delete(AuditHeadRow))
    system.migrate()  # does not quietly recreate it
    verdict = system.verify_audit()
    assert not verdict.ok and "audit_head row is missing" in (verdict.problem or "")
    with pytest.raises(RuntimeError, match="audit_head is missing"):
        system.audit("ana", "media_viewed", "case:1", "127.0.0.1")


# --- attack (c): wiped and reset -----------------------------------------------------


def test_a_wiped_and_reset_log_is_found_by_the_anchor(system: Takedown) -> None:
    fill(system)
    anchor(system)
    truncate(system, keep=0)
    assert not (verdict := system.verify_audit()).ok
    assert "log has 0" in (verdict.problem or "")
    system.audit("mallory", "signed_in", "user:mallory", "10.6.6.6")  # a fresh-looking log
    verdict = system.verify_audit()
    # SQLite hands out id 1 again (a different entry 1); PostgreSQL goes on counting.
    assert not verdict.ok and "anchored" in (verdict.problem or "")


# --- attack (d): edited and re-chained -------------------------------------------------


@pytest.mark.parametrize("edited", [0, 3])
def test_rechaining_with_plain_sha256_is_found(system: Takedown, edited: int) -> None:
    fill(system)
    target = ids(system)[edited]
    edit_and_rechain(system, target, plain_sha256)
    verdict = system.verify_audit()
    assert not verdict.ok and "plain SHA-256" in (verdict.problem or "")
    if edited:  # keyed entries before it
        assert verdict.first_broken == target


def test_rechaining_with_a_wrong_key_is_found(system: Takedown) -> None:
    fill(system)
    target = ids(system)[3]
    key_id, _ = own_key(system)
    edit_and_rechain(system, target, hmac_with(key_id, b"guessed-not-the-audit-key"))
    verdict = system.verify_audit()
    assert not verdict.ok and verdict.first_broken == target
    assert "changed" in (verdict.problem or "")
    edit_and_rechain(system, target, hmac_with("mallory", b"guessed-not-the-audit-key"))
    verdict = system.verify_audit()
    assert not verdict.ok and verdict.first_broken == target
    assert "'mallory', which is not configured" in (verdict.problem or "")


def test_even_a_rewrite_with_the_key_is_found_by_an_anchor(system: Takedown) -> None:
    """Also checks the attacker's re-signing above is right: with the key it passes."""
    fill(system)
    target = ids(system)[3]
    edit_and_rechain(system, target, hmac_with(*own_key(system)))
    assert system.verify_audit().ok
    anchor(system)
    edit_and_rechain(system, ids(system)[2], hmac_with(*own_key(system)))
    verdict = system.verify_audit()
    assert not verdict.ok and verdict.first_broken == ids(system)[-1]
    assert "rewritten" in (verdict.problem or "")


def test_a_forged_anchor_line_is_found(system: Takedown) -> None:
    fill(system)
    anchor(system)
    path = anchor_path(system.settings)
    forged = {**json.loads(path.read_text()), "entries": 3}
    with path.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")
    verdict = system.verify_audit()
    assert not verdict.ok and "line 2" in (verdict.problem or "")
    assert "signature does not match" in (verdict.problem or "")


# --- legacy entries and key rotation ---------------------------------------------------


def write_legacy_entries(system: Takedown, n: int) -> None:
    """Entries as takedown wrote them before keys: plain SHA-256, no key id."""
    with system.db.transaction() as s:
        head = s.get(AuditHeadRow, 1)
        assert head is not None
        for i in range(n):
            row = AuditEntryRow(at=utcnow(), actor="old", action="media_viewed",
                                target=f"case:{i}", source="127.0.0.1", details={"n": i},
                                prev_hash=head.last_hash)
            row.key_id, row.hash = plain_sha256(row, head.last_hash)
            s.add(row)
            s.flush()
            head.last_hash = row.hash


def test_legacy_sha256_entries_from_before_keys_still_verify(system: Takedown) -> None:
    write_legacy_entries(system, 3)
    system.migrate()  # seals them: a keyed entry follows
    fill(system)
    verdict = system.verify_audit()
    assert verdict.ok and verdict.entries == 3 + 1 + 7
    with system.db.transaction() as s:
        actions = list(s.scalars(select(AuditEntryRow.action).order_by(AuditEntryRow.id)))
    assert actions[3] == "audit_keyed"
    system.migrate()
    assert system.verify_audit().entries == 11  # sealed once
    first = ids(system)[0]
    with system.db.transaction() as s:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.id == first).values(actor="x"))
    verdict = system.verify_audit()
    assert not verdict.ok and verdict.first_broken == first
    assert "changed" in (verdict.problem or "")


def test_old_entries_verify_after_key_rotation(system: Takedown) -> None:
    settings = system.settings  # an empty database; the systems below differ in keys
    old, new = "old:" + "o" * 32, "new:" + "n" * 32
    first = Takedown(settings.with_(audit_key=old))
    try:
        fill(first)
        anchor(first)  # signed with the old key too
    finally:
        first.close()
    rotated = Takedown(settings.with_(audit_key=f"{new},{old}"))
    try:
        rotated.audit("ana", "media_viewed", "case:8", "127.0.0.1")
        verdict = rotated.verify_audit()
        assert verdict.ok and verdict.entries == 8 and verdict.anchors == 1
        with rotated.db.transaction() as s:
            used = list(s.scalars(select(AuditEntryRow.key_id).order_by(AuditEntryRow.id)))
        assert used == ["old"] * 7 + ["new"]
    finally:
        rotated.close()
    dropped = Takedown(settings.with_(audit_key=new))
    try:
        verdict = dropped.verify_audit()
        assert not verdict.ok and "'old', which is not configured" in (verdict.problem or "")
    finally:
        dropped.close()


def test_key_settings_are_checked() -> None:
    assert KeyRing.parse("s" * 20).signing == ("k1", b"s" * 20)
    assert list(KeyRing.parse(f"b:{'x' * 16}, a:{'y' * 16}").keys) == ["b", "a"]
    for bad in ("a:short", f"a:{'x' * 16},a:{'y' * 16}", f"bad id:{'x' * 16}"):
        with pytest.raises(ValueError):
            KeyRing.parse(bad)


# --- anchoring ---------------------------------------------------------------------------


def test_workers_anchor_only_a_moved_head_after_the_interval(system: Takedown) -> None:
    anchors = AuditAnchor(system.db, system.settings.with_(audit_anchor_interval_s=0))
    assert anchors.run_once() == 0  # an empty log: nothing to anchor
    fill(system)
    assert anchors.run_once() == 1
    assert anchors.run_once() == 0  # the head did not move
    system.audit("ana", "media_viewed", "case:9", "127.0.0.1")
    slow = AuditAnchor(system.db, system.settings.with_(audit_anchor_interval_s=3600))
    assert slow.run_once() == 1 and slow.run_once() == 0  # not due again for an hour
    lines = [json.loads(x) for x in anchor_path(system.settings).read_text().splitlines()]
    assert [(a["entries"], a["last_id"]) for a in lines] == [(7, ids(system)[6]),
                                                              (8, ids(system)[7])]
    assert system.verify_audit().anchors == 2


def test_the_worker_pool_anchors_the_log(system: Takedown) -> None:
    fill(system)
    workers = Takedown(system.settings.with_(inprocess_workers=1, audit_anchor_interval_s=0))
    path = anchor_path(system.settings)
    try:
        workers.start_workers()
        deadline = time.monotonic() + 30
        while not (path.exists() and path.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        workers.close()
    assert json.loads(path.read_text().splitlines()[0])["entries"] == 7


def test_anchors_go_to_the_on_call_webhook_too(system: Takedown, receiver: Receiver) -> None:
    fill(system)
    on_call = system.settings.with_(oncall_webhook_url=receiver.url,
                                    oncall_webhook_secret=receiver.secret)
    assert AuditAnchor(system.db, on_call).anchor_now() is not None
    assert len(receiver.raw) == 1  # the receiver checked its signature
    posted = json.loads(receiver.raw[0][1])
    assert posted["type"] == "audit_anchor" and posted["entries"] == 7
    assert posted == json.loads(anchor_path(system.settings).read_text())


# --- what is audited -----------------------------------------------------------------


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


def test_platforms_and_bank_changes_are_recorded(system: Takedown) -> None:
    key, secret = system.add_platform("net", "https://hooks.example/t/tok3n?sig=s3cret",
                                      by="ops-ana")
    system.create_bank("watch", "review", 20, Category.OTHER_ILLEGAL, by="ops-ana")
    pdq = "f" * 64
    system.add_to_bank("watch", "pdq", pdq, "ops-ana")
    system.import_bank("watch", "csv", f"signal_type,value\npdq,{'0' * 64}\n", "ops-ben")
    system.set_bank_entry("watch", "pdq", pdq, enabled=False, by="ops-ben")
    system.set_bank_entry("watch", "pdq", pdq, enabled=True, by="ops-ben")
    system.set_bank_entry("watch", "pdq", pdq, delete=True, by="ops-ben")
    with system.db.transaction() as s:
        rows = list(s.scalars(select(AuditEntryRow).order_by(AuditEntryRow.id)))
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("ops-ana", "platform_added", "platform:net"),
        ("ops-ana", "bank_created", "bank:watch"),
        ("ops-ana", "bank_entry_added", "bank:watch"),
        ("ops-ben", "bank_imported", "bank:watch"),
        ("ops-ben", "bank_entry_disabled", "bank:watch"),
        ("ops-ben", "bank_entry_enabled", "bank:watch"),
        ("ops-ben", "bank_entry_deleted", "bank:watch"),
    ]
    assert rows[0].details == {"webhook_host": "hooks.example"}
    assert rows[3].details["added"] == 1 and rows[3].details["format"] == "csv"
    assert rows[4].details["lookup"] == pdq and rows[4].details["changed"] is True
    written = json.dumps([r.details for r in rows])
    assert all(s not in written for s in (key, secret, "tok3n", "s3cret"))
    assert system.verify_audit().ok


# --- the command line -----------------------------------------------------------------


def test_the_cli_verifies_and_fails_loudly(system: Takedown) -> None:
    fill(system)
    good = run_cli(system, "audit", "verify")
    assert good.returncode == 0 and "intact: 7 entries" in good.stdout
    target = ids(system)[1]
    with system.db.transaction() as s:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.id == target)
                  .values(actor="mallory"))
    bad = run_cli(system, "audit", "verify")
    assert bad.returncode == 1 and f"entry {target}" in bad.stdout


def test_the_cli_anchors_and_verifies_against_a_copy_kept_elsewhere(
        system: Takedown, tmp_path: Path) -> None:
    fill(system)
    anchored = run_cli(system, "audit", "anchor")
    assert anchored.returncode == 0 and "anchored 7 entries" in anchored.stdout
    copy = tmp_path / "offsite-anchors.jsonl"
    shutil.copy(anchor_path(system.settings), copy)
    anchor_path(system.settings).unlink()  # the attacker reached this host's copy too
    truncate(system, keep=5)
    assert run_cli(system, "audit", "verify").returncode == 0  # nothing left to tell
    bad = run_cli(system, "audit", "verify", "--anchor", str(copy))
    assert bad.returncode == 1 and "BROKEN" in bad.stdout and "log has 5" in bad.stdout
