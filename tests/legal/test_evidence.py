"""The evidence vault: sealed at confirmation, encrypted at rest, opened only by
liaisons and admins with a reason, kept a year after the CyberTipline submission and
longer under a legal hold, purged after, and exported as a signed bundle that
`takedown evidence verify` checks. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.clock import utcnow
from takedown.demo.ncmec import StandInNcmec
from takedown.legal.bundle import verify_bundle
from takedown.legal.evidence import EvidenceLocker
from takedown.legal.vault import VaultKeyError, new_key
from takedown.store.tables import AuditEntryRow, EvidenceSetRow, MediaRow
from takedown.system import Takedown
from tests.conftest import Keys
from tests.legal.test_cybertipline import (  # noqa: F401  (fixtures)
    confirmed_case,
    ncmec,
    run_legal,
    settings,
    tipline,
)

WHY = {"reason": "NCMEC follow-up from Detective Ruiz"}


def evidence(client: TestClient, keys: Keys, case_id: int, who: str = "liaison",
             expect: int = 200, **params: str) -> dict[str, object]:
    answer = client.get(f"/v1/cases/{case_id}/evidence", headers=keys.bearer(who),
                        params=params or WHY)
    assert answer.status_code == expect, answer.text
    body: dict[str, object] = answer.json()
    return body


def items(client: TestClient, keys: Keys, case_id: int) -> list[dict[str, object]]:
    found = evidence(client, keys, case_id)["items"]
    assert isinstance(found, list)
    return found


def test_confirmation_seals_the_files_and_the_record_encrypted(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:  # noqa: F811
    case_id = confirmed_case(client, keys, system)
    kept = items(client, keys, case_id)
    assert sorted(i["kind"] for i in kept) == ["media", "record"]  # type: ignore[type-var]
    media = next(i for i in kept if i["kind"] == "media")
    with system.db.transaction() as s:
        sha = s.scalars(select(MediaRow.sha256)).first()
    assert media["sha256"] == sha
    opened = client.get(f"/v1/cases/{case_id}/evidence/items/{media['id']}",
                        headers=keys.bearer("liaison"), params=WHY)
    assert opened.status_code == 200
    assert hashlib.sha256(opened.content).hexdigest() == sha
    # At rest, nothing of the file is readable: not its bytes, not a prefix of them.
    for path in (system.settings.vault_dir).rglob("*"):
        if path.is_file():
            assert opened.content[:64] not in path.read_bytes()
            assert path.stat().st_mode & 0o077 == 0


def test_only_liaisons_and_admins_open_it_and_always_with_a_reason(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:  # noqa: F811
    case_id = confirmed_case(client, keys, system)
    for who in ("specialist", "moderator"):
        evidence(client, keys, case_id, who, expect=403)
    assert client.put(f"/v1/cases/{case_id}/evidence/hold", headers=keys.bearer("specialist"),
                      json={"agency": "FBI", "legal_process": "2703(f)"}).status_code == 403
    refused = client.get(f"/v1/cases/{case_id}/evidence", headers=keys.bearer("liaison"))
    assert refused.status_code == 422 and "reason" in refused.text
    evidence(client, keys, case_id, "admin")
    evidence(client, keys, case_id, "liaison")
    with system.db.transaction() as s:
        seen = [(e.actor, e.action, (e.details or {}).get("reason")) for e in s.scalars(
            select(AuditEntryRow).where(AuditEntryRow.target == f"case:{case_id}",
                                        AuditEntryRow.action.in_(["evidence_viewed",
                                                                  "access_denied"])))]
    assert ("lee", "evidence_viewed", WHY["reason"]) in seen
    assert ("ada", "evidence_viewed", WHY["reason"]) in seen
    assert {("ana", "access_denied"), ("max", "access_denied")} <= {(a, b) for a, b, _ in seen}


def test_kept_a_year_after_submission_held_longer_then_purged(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:  # noqa: F811
    case_id = confirmed_case(client, keys, system)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    run_legal(system)
    finished = tipline(client, keys, case_id)
    assert finished["stage"] == "finished"
    with system.db.transaction() as s:
        evidence_set = s.get(EvidenceSetRow, case_id)
        assert evidence_set is not None
        retain_until = evidence_set.retain_until
    assert retain_until - utcnow() > timedelta(days=364)
    kinds = sorted(str(i["kind"]) for i in items(client, keys, case_id))
    assert kinds.count("cybertipline") == 2  # the XML sent and NCMEC's ids

    hold = client.put(f"/v1/cases/{case_id}/evidence/hold", headers=keys.bearer("liaison"),
                      json={"agency": "FBI Minneapolis", "legal_process": "2703(f) 20-117"})
    assert hold.status_code == 200, hold.text
    later = retain_until + timedelta(days=1)
    system.tipline.purge(later)
    assert all(i["purged_at"] is None for i in items(client, keys, case_id))  # held

    lifted = client.delete(f"/v1/cases/{case_id}/evidence/hold", headers=keys.bearer("liaison"))
    assert lifted.status_code == 200, lifted.text
    system.tipline.purge(retain_until - timedelta(days=1))
    assert all(i["purged_at"] is None for i in items(client, keys, case_id))  # not yet due
    system.tipline.purge(later)
    gone = items(client, keys, case_id)
    assert gone and all(i["purged_at"] is not None for i in gone)
    assert not [p for p in system.settings.vault_dir.rglob("*") if p.is_file()]
    opened = client.get(f"/v1/cases/{case_id}/evidence/items/{gone[0]['id']}",
                        headers=keys.bearer("liaison"), params=WHY)
    assert opened.status_code == 409
    with system.db.transaction() as s:
        purges = list(s.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "evidence_purged")))
    assert len(purges) == 1 and purges[0].target == f"case:{case_id}"


def test_account_details_the_platform_sends_are_sealed_too(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:  # noqa: F811
    case_id = confirmed_case(client, keys, system)
    sent = client.put("/v1/accounts/trafficker", headers=keys.api,
                      json={"screen_name": "tr4ff", "emails": ["t@example.net"]})
    assert sent.status_code == 200 and sent.json()["cases"] == 1
    accounts = [i for i in items(client, keys, case_id) if i["kind"] == "accounts"]
    opened = client.get(f"/v1/cases/{case_id}/evidence/items/{accounts[0]['id']}",
                        headers=keys.bearer("liaison"), params=WHY)
    assert b"t@example.net" in opened.content
    assert client.put("/v1/accounts/trafficker", json={}).status_code == 401
    unasked = client.put("/v1/accounts/bystander", headers=keys.api, json={"emails": []})
    assert unasked.status_code == 404
    assert unasked.json()["error"]["code"] == "account_not_requested"


def test_the_bundle_verifies_and_a_tampered_one_does_not(
        client: TestClient, keys: Keys, system: Takedown, tmp_path: Path,
        ncmec: tuple[StandInNcmec, str]) -> None:  # noqa: F811
    case_id = confirmed_case(client, keys, system)
    client.post(f"/v1/cases/{case_id}/cybertipline/submit", headers=keys.bearer("specialist"))
    run_legal(system)
    download = client.get(f"/v1/cases/{case_id}/evidence/export",
                          headers=keys.bearer("liaison"), params=WHY)
    assert download.status_code == 200, download.text
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(download.content)
    pem, _ = system.signing_public_key()
    check = verify_bundle(bundle, pem.encode())
    assert check.ok and check.trusted_key, check.problems
    names = set(zipfile.ZipFile(bundle).namelist())
    assert {"manifest.json", "manifest.sig", "case.html", "case.json", "cybertipline.xml",
            "events.json", "custody.json"} <= names
    assert any(n.startswith("media/") for n in names)
    custody = zipfile.ZipFile(bundle).read("custody.json").decode()
    assert "evidence_exported" in custody and "lee" in custody

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "case.json":
                data = data.replace(b'"status"', b'"status_"')
            target.writestr(info, data)
    bad = verify_bundle(tampered, pem.encode())
    assert not bad.ok and any("case.json" in p for p in bad.problems)

    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(system.settings.data_dir),
           "TAKEDOWN_DATABASE_URL": system.settings.effective_database_url}
    key_file = tmp_path / "agency.pem"
    key_file.write_text(pem)
    good = subprocess.run([sys.executable, "-m", "takedown.cli", "evidence", "verify",
                           str(bundle), "--public-key", str(key_file)], env=env, text=True,
                          capture_output=True, timeout=120, check=False)
    assert good.returncode == 0 and "intact" in good.stdout, good.stdout + good.stderr
    failed = subprocess.run([sys.executable, "-m", "takedown.cli", "evidence", "verify",
                             str(tampered)], env=env, text=True, capture_output=True,
                            timeout=120, check=False)
    assert failed.returncode == 1 and "NOT intact" in failed.stdout
    exported = tmp_path / "cli.zip"
    made = subprocess.run([sys.executable, "-m", "takedown.cli", "evidence", "export",
                           str(case_id), "--out", str(exported), "--reason", "court order 7"],
                          env=env, text=True, capture_output=True, timeout=120, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert verify_bundle(exported, pem.encode()).ok



def test_a_new_vault_key_reads_old_items_and_rekey_moves_them(
        client: TestClient, keys: Keys, system: Takedown,
        ncmec: tuple[StandInNcmec, str]) -> None:  # noqa: F811
    case_id = confirmed_case(client, keys, system)  # sealed under the key file's key
    old = (system.settings.data_dir / "vault.key").read_text().strip()
    new = new_key()
    rotated = Takedown(system.settings.with_(vault_key=new, vault_old_keys=old))
    only_new = Takedown(system.settings.with_(vault_key=new))
    try:
        assert len(opened_items(rotated, case_id)) >= 2  # the old key still reads them
        with pytest.raises(VaultKeyError):
            opened_items(only_new, case_id)  # not yet moved
        assert rotated.rekey_vault("test") >= 2
        assert rotated.rekey_vault("test") == 0
        assert len(opened_items(only_new, case_id)) >= 2
    finally:
        rotated.close()
        only_new.close()


def opened_items(system: Takedown, case_id: int) -> list[bytes]:
    with system.db.transaction() as s:
        locker = EvidenceLocker(s, system.policy, system.vault)
        return [locker.open(case_id, item.id)[1] for item in locker.items(case_id)]
