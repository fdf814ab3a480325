"""`takedown evidence …` and `takedown cybertipline …`: the law-enforcement bundle, the
vault's keys, and NCMEC's reporting API, from the command line (registered by cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from takedown.config import Settings

if TYPE_CHECKING:
    from takedown.system import Takedown

evidence_app = typer.Typer(help="The evidence vault: export and verify bundles for law "
                                "enforcement, the signing key, the vault's keys.",
                           no_args_is_help=True)
cybertipline_app = typer.Typer(help="NCMEC's CyberTipline reporting API.", no_args_is_help=True)
console = Console()


def _system() -> Takedown:
    from takedown.system import Takedown  # the CLI starts fast: the service loads on use

    return Takedown(Settings.from_env())


@evidence_app.command("export")
def export(case_id: int,
           out: Annotated[Path, typer.Option(help="The bundle to write (a .zip).")],
           reason: Annotated[str, typer.Option(help="Why (e.g. the agency's request): "
                                                    "goes in the audit log.")],
           by: Annotated[str, typer.Option(help="Who exports it, for the audit log and "
                                                "the chain of custody.")] = "cli") -> None:
    """Write a case's signed bundle: media, manifest (SHA-256, MD5), case summary,
    CyberTipline XML, event log, chain of custody."""
    from takedown.errors import TakedownError

    system = _system()
    try:
        manifest = system.export_evidence(case_id, by, reason, out, "cli")
    except TakedownError as exc:
        console.print(exc.message, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    if manifest.get("notice"):
        console.print(manifest["notice"], soft_wrap=True)
    console.print(f"{out}: {len(manifest['files'])} files, signed by key "
                  f"{manifest['public_key_fingerprint']}", soft_wrap=True)


@evidence_app.command("verify")
def verify(bundle_path: Annotated[Path, typer.Argument(metavar="FILE.zip")],
           public_key: Annotated[Path | None, typer.Option(
               help="The exporter's public key (PEM) as they gave it to you; without it, "
                    "only integrity is checked, not who made the bundle.")] = None) -> None:
    """Check a bundle: every file against the manifest, the manifest's signature."""
    from takedown.legal.bundle import verify_bundle

    check = verify_bundle(bundle_path, public_key.read_bytes() if public_key else None)
    for problem in check.problems:
        console.print(f"problem: {problem}", soft_wrap=True)
    if not check.ok:
        console.print(f"{bundle_path}: NOT intact", soft_wrap=True)
        raise typer.Exit(1)
    files = len((check.manifest or {}).get("files", []))
    origin = ("signed by the key you gave" if check.trusted_key else
              "signed by the key inside the bundle (give --public-key to check who made it)")
    console.print(f"{bundle_path}: intact, {files} files, {origin} "
                  f"({check.signer_fingerprint})", soft_wrap=True)


@evidence_app.command("public-key")
def public_key() -> None:
    """Print the bundle-signing public key (PEM) and its fingerprint, for agencies."""
    system = _system()
    try:
        pem, fingerprint = system.signing_public_key()
    finally:
        system.close()
    print(pem, end="" if pem.endswith("\n") else "\n")
    print(f"fingerprint (SHA-256): {fingerprint}")


@evidence_app.command("new-key")
def new_vault_key() -> None:
    """Print a new vault key (base64 of 32 random bytes) for TAKEDOWN_VAULT_KEY."""
    from takedown.legal.vault import new_key

    print(new_key())


@evidence_app.command("rekey")
def rekey(by: Annotated[str, typer.Option(help="Who, for the audit log.")] = "cli") -> None:
    """Re-encrypt every kept item under the current key (TAKEDOWN_VAULT_KEY), after a
    rotation; then the old key can leave TAKEDOWN_VAULT_OLD_KEYS."""
    system = _system()
    try:
        moved = system.rekey_vault(by)
    finally:
        system.close()
    console.print(f"{moved} items re-encrypted under key {system.vault.keys.current_id}")


@cybertipline_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Ask the configured NCMEC server's /status (credentials, reachability)."""
    from takedown.errors import TakedownError
    from takedown.legal.ncmec import NcmecUnavailable

    system = _system()
    try:
        answer = system.tipline_status()
    except (TakedownError, NcmecUnavailable) as exc:
        console.print(getattr(exc, "message", str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    if as_json:
        print(json.dumps({"code": answer.code, "description": answer.description}))
    else:
        console.print(f"{system.settings.ncmec_url}: {answer.code} {answer.description}",
                      soft_wrap=True)
    if not answer.ok:
        raise typer.Exit(1)
