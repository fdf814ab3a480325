"""The `takedown` command: serve, work, migrate, manage platforms and users, demo (the
legal commands, `evidence` and `cybertipline`, are in cli_legal)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from takedown.cli_legal import cybertipline_app, evidence_app
from takedown.config import Settings
from takedown.domain.vocabulary import Category, Role

app = typer.Typer(help="takedown: from a report to the removal of every copy.",
                  no_args_is_help=True, add_completion=False)
platform_app = typer.Typer(help="Host platforms that send content and receive webhooks.",
                           no_args_is_help=True)
user_app = typer.Typer(help="Reviewers and their roles.", no_args_is_help=True)
bank_app = typer.Typer(help="Hash banks: list, add, import, export, disable.",
                       no_args_is_help=True)
app.add_typer(platform_app, name="platform")
app.add_typer(user_app, name="user")
app.add_typer(bank_app, name="bank")
app.add_typer(evidence_app, name="evidence")
app.add_typer(cybertipline_app, name="cybertipline")
console = Console()


def _system(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from takedown.system import Takedown

    return Takedown(settings or Settings.from_env())


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (SQLite by default, or TAKEDOWN_DATABASE_URL)."""
    system = _system()
    system.migrate()
    console.print(f"schema up to date: {system.db.engine.url.render_as_string()}")
    system.close()


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Default TAKEDOWN_HOST.")] = None,
          port: Annotated[int | None, typer.Option(help="Default TAKEDOWN_PORT.")] = None,
          demo: Annotated[bool, typer.Option(help="Mount the demo platform at /demo and "
                                                  "seed a few posts.")] = False) -> None:
    """Run the API (and, by default, the delivery workers in-process)."""
    import uvicorn

    from takedown.api.app import create_app
    from takedown.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    host = host or settings.host
    port = port or settings.port
    public = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    platform = ncmec = None
    if demo:  # CyberTipline reports go to a stand-in NCMEC unless a real one is set
        from takedown.demo.bootstrap import demo_ncmec

        settings, ncmec = demo_ncmec(settings, public)
    system = _system(settings)
    system.migrate()
    system.warm_up()
    if demo:
        from takedown.demo.bootstrap import demo_platform
        from takedown.demo.seed import seed_in_background

        platform, tokens = demo_platform(system, public)
        seed_in_background(platform)
        console.print(f"demo platform:  {public}/demo/", soft_wrap=True)
        console.print(f"console:        {public}/console/", soft_wrap=True)
        if ncmec is not None:
            console.print(f"CyberTipline:   a stand-in NCMEC at {settings.ncmec_url} (set "
                          "TAKEDOWN_NCMEC_URL for exttest.cybertip.org)", soft_wrap=True)
        for name, login in tokens.items():
            console.print(f"reviewer {name}: console password {login.password}; "
                          f"API Authorization: Bearer {login.token}", soft_wrap=True)
    console.print(f"takedown API:   {public}/docs  (OpenAPI at {public}/openapi.json)",
                  soft_wrap=True)
    uvicorn.run(create_app(system, demo=platform, ncmec=ncmec), host=host, port=port,
                log_level="info",
                proxy_headers=False,  # the app trusts only TAKEDOWN_TRUSTED_PROXIES
                # uvicorn's logs go through takedown.logs; api.requests logs each request
                # (with its id, without the query string), in place of uvicorn's access log.
                log_config=None, access_log=False)


@app.command()
def worker(threads: Annotated[int, typer.Option(min=1)] = 4) -> None:
    """Deliver action webhooks. Run as many as needed, on as many hosts (PostgreSQL)."""
    from takedown.logs import configure_logging

    settings = Settings.from_env().with_(inprocess_workers=threads)
    configure_logging(settings.log_format)
    system = _system(settings)
    console.print(f"worker delivering from {system.db.engine.url.render_as_string()}")
    system.start_workers()
    try:
        system.workers.run()  # this thread too, until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        system.close()


@platform_app.command("add")
def platform_add(name: str, webhook_url: Annotated[str, typer.Option()],
                 by: Annotated[str, typer.Option(help="Who adds it, for the audit log.")]
                 = "cli") -> None:
    """Register a platform (audited); prints its API key and webhook secret once."""
    system = _system()
    key, secret = system.add_platform(name, webhook_url, by=by)
    system.close()
    console.print(f"api key:        {key}\nwebhook secret: {secret}", soft_wrap=True)


@platform_app.command("contact")
def platform_contact(
        name: str,
        first_name: str | None = None, last_name: str | None = None,
        email: str | None = None, phone: str | None = None,
        company_template: Annotated[str | None, typer.Option(
            help="Text NCMEC gets with every report: how to serve legal process, "
                 "retention, a 24-hour number.")] = None,
        terms_of_service: str | None = None, legal_url: str | None = None,
        by: Annotated[str, typer.Option(help="Who, for the audit log.")] = "cli") -> None:
    """Who NCMEC should contact about this platform's CyberTipline reports (the
    reporting person in each report). Options left out keep their value."""
    from takedown.errors import TakedownError

    system = _system()
    try:
        kept = system.set_tipline_contact(name, {
            "first_name": first_name, "last_name": last_name, "email": email, "phone": phone,
            "company_template": company_template, "terms_of_service": terms_of_service,
            "legal_url": legal_url}, by)
    except TakedownError as exc:
        console.print(exc.message, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    console.print(json.dumps(kept, indent=2), soft_wrap=True)


@platform_app.command("rotate-secret")
def platform_rotate_secret(
        name: str,
        overlap_hours: Annotated[float, typer.Option(
            min=0, help="How long the old secret still signs too (a second signature), "
                        "unless retired sooner.")] = 168.0,
        by: Annotated[str, typer.Option(help="Who rotates it, for the audit log.")] = "cli",
) -> None:
    """Give a platform a new webhook secret (audited); prints it once. Webhooks carry
    signatures under both secrets until the overlap ends or `retire-secret`."""
    from datetime import timedelta

    from takedown import access, audit
    from takedown.errors import Conflict

    system = _system()
    try:
        with system.db.transaction() as s:
            secret = access.rotate_webhook_secret(s, name, timedelta(hours=overlap_hours))
            audit.record(s, by, "webhook_secret_rotated", f"platform:{name}", "cli",
                         {"overlap_hours": overlap_hours})
    except Conflict as exc:
        console.print(exc.message, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    console.print(f"new webhook secret: {secret}\nthe old one also signs for "
                  f"{overlap_hours:g} hours, or until `takedown platform retire-secret "
                  f"{name}`", soft_wrap=True)


@platform_app.command("retire-secret")
def platform_retire_secret(
        name: str,
        by: Annotated[str, typer.Option(help="Who retires it, for the audit log.")] = "cli",
) -> None:
    """Stop signing a platform's webhooks with its old secrets (audited): once the
    platform verifies with the new one."""
    from takedown import access, audit
    from takedown.errors import Conflict

    system = _system()
    try:
        with system.db.transaction() as s:
            retired = access.retire_webhook_secrets(s, name)
            audit.record(s, by, "webhook_secret_retired", f"platform:{name}", "cli",
                         {"retired": retired})
    except Conflict as exc:
        console.print(exc.message, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    console.print(f"{retired} old secret(s) retired: webhooks to {name} carry one signature",
                  soft_wrap=True)


@user_app.command("add")
def user_add(name: str, role: Annotated[Role, typer.Option()],
             password: Annotated[str | None, typer.Option(
                 help="Console password; without it, asked for (not echoed).")] = None,
             no_password: Annotated[bool, typer.Option(help="API token only, no console "
                                                            "sign-in.")] = False) -> None:
    """Create a reviewer; prints their API token once."""
    if password is None and not no_password:
        password = typer.prompt("console password", hide_input=True,
                                confirmation_prompt=True)
    system = _system()
    token = system.add_user(name, role, password=password)
    system.close()
    console.print(f"token for {name} ({role.value}): {token}", soft_wrap=True)


@user_app.command("role")
def user_role(name: str, role: Role) -> None:
    """Change a reviewer's role (audited)."""
    system = _system()
    system.set_role(name, role)
    system.close()


audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(anchor: Annotated[list[Path] | None, typer.Option(
        "--anchor", exists=True, dir_okay=False,
        help="Also check the heads anchored in this file (a copy kept elsewhere); "
             "repeatable.")] = None) -> None:
    """Check the whole chain, its keys, its head and every anchored head; name the first
    problem. Exit 1 if any."""
    from takedown import audit

    system = _system()
    try:
        with system.db.transaction() as s:
            verdict = audit.verify(s, anchor or ())
    finally:
        system.close()
    if not verdict.ok:
        where = f" at entry {verdict.first_broken}" if verdict.first_broken is not None else ""
        console.print(f"audit log BROKEN{where}: {verdict.problem}", soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"audit log intact: {verdict.entries} entries, {verdict.anchors} anchored "
                  "heads checked", soft_wrap=True)
    if verdict.anchors == 0:
        console.print("no anchors yet: truncation cannot be ruled out (`takedown audit "
                      "anchor`)", soft_wrap=True)


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Sign the log's head now: append it to the anchor file (TAKEDOWN_AUDIT_ANCHOR_PATH)
    and post it to the on-call webhook. Exit 1 if the log does not extend the last one."""
    from takedown.audit import AuditAnchor, AuditBroken

    system = _system()
    anchors = AuditAnchor(system.db, system.settings)
    try:
        anchored = anchors.anchor_now()
    except AuditBroken as exc:
        console.print(f"audit log BROKEN, not anchored: {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    if anchored is None:
        console.print("nothing to anchor: the audit log is empty")
        return
    console.print(f"anchored {anchored.entries} entries (last entry {anchored.last_id}) "
                  f"to {anchors.path}", soft_wrap=True)


@audit_app.command("key")
def audit_key(key_id: Annotated[str | None, typer.Option(
        "--id", help="The key's id (default: k<today>).")] = None) -> None:
    """Print a new audit key. Put it first in TAKEDOWN_AUDIT_KEY, keeping the old ones
    after it (comma-separated) so that older entries still verify."""
    from takedown.audit import new_key
    from takedown.clock import utcnow

    print(new_key(key_id or f"k{utcnow():%Y%m%d}"))


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Keep the run's data here "
                                                       "(default: a fresh temporary folder).")]
    = None,
    reposts: int = 2223,
    tick_s: Annotated[float, typer.Option(help="Real seconds per simulated half hour after "
                                               "the first report.")] = 2.0,
) -> None:
    """Replay the case in DEVELOPERS.md on the embedded default and print its timeline."""
    from takedown.demo.scenario import ScenarioConfig, run_seed_case

    config = ScenarioConfig(reposts=reposts, tick_s=tick_s)
    with tempfile.TemporaryDirectory(prefix="takedown-demo-") as scratch:
        settings = Settings.from_env().with_(data_dir=data_dir or Path(scratch))
        say = (lambda _line: None) if as_json else console.print
        result = run_seed_case(settings, config, say)
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    console.print_json(json.dumps(result, sort_keys=True))


@bank_app.command("list")
def bank_list() -> None:
    """Every bank, its action, distance and entry counts."""
    system = _system()
    system.migrate()
    for bank in system.banks():
        console.print(f"{bank['name']:<12} {bank['action']:<9} pdq<={bank['pdq_distance']:<3} "
                      f"{bank['enabled']:>8} enabled {bank['disabled']:>6} disabled  "
                      f"{bank['description']}", soft_wrap=True)
    system.close()


@bank_app.command("create")
def bank_create(name: str,
                action: Annotated[str, typer.Option(help="block, restrict or review")],
                category: Annotated[Category, typer.Option()],
                pdq_distance: Annotated[int, typer.Option(min=0, max=31)] = 31,
                description: str = "") -> None:
    """Create a bank."""
    system = _system()
    system.create_bank(name, action, pdq_distance, category, description)
    system.close()


@bank_app.command("add")
def bank_add(bank: str, signal_type: str, value: str,
             by: Annotated[str, typer.Option(help="Who adds it, for the record.")] = "cli",
             ) -> None:
    """Add one hash, then act on registered content it matches."""
    system = _system()
    new, matched = system.add_to_bank(bank, signal_type, value, by)
    system.close()
    console.print(f"{'added' if new else 'already present'}; {matched} registered items matched")


@bank_app.command("import")
def bank_import(bank: str, path: Path,
                fmt: Annotated[str, typer.Option("--format", help="csv, stopncii or ncmec")],
                by: str = "cli") -> None:
    """Import hashes (withdrawn StopNCII hashes are deleted), then sweep."""
    system = _system()
    result, matched = system.import_bank(bank, fmt, path.read_text("utf-8"), by)
    system.close()
    console.print(f"added {result.added}, already present {result.already_present}, "
                  f"deleted {result.removed}, skipped {len(result.skipped)}; "
                  f"{matched} registered items matched", soft_wrap=True)
    for reason in result.skipped[:20]:
        console.print(f"  skipped {reason}", soft_wrap=True)


@bank_app.command("export")
def bank_export(bank: str,
                fmt: Annotated[str, typer.Option("--format", help="csv, stopncii or ncmec")]
                = "csv") -> None:
    """Write a bank's entries to standard output."""
    system = _system()
    print(system.export_bank(bank, fmt), end="")
    system.close()


@bank_app.command("disable")
def bank_disable(bank: str, signal_type: str, value: str,
                 delete: Annotated[bool, typer.Option(help="Delete instead of disabling "
                                                            "(StopNCII withdrawals).")]
                 = False) -> None:
    """Stop matching on a hash, at once, in every process."""
    system = _system()
    system.set_bank_entry(bank, signal_type, value, enabled=False, delete=delete)
    system.close()


@bank_app.command("enable")
def bank_enable(bank: str, signal_type: str, value: str) -> None:
    """Match on a disabled hash again."""
    system = _system()
    system.set_bank_entry(bank, signal_type, value, enabled=True)
    system.close()


@app.command("hash")
def hash_files(paths: list[Path],
               as_json: Annotated[bool, typer.Option("--json", help="One JSON object per "
                                                                    "line.")] = False,
               dihedral: Annotated[bool, typer.Option(help="Also print the 7 rotation and "
                                                           "mirror PDQ hashes.")] = False,
               exact: Annotated[bool, typer.Option(help="Also print SHA-256 and MD5.")]
               = False,
               ) -> None:
    """Print each file's signals: PDQ with quality for images, vPDQ frames for videos.
    Anything else (an empty file, SVG, HTML) is an error: it has no signal to print."""
    from takedown.media.signals import compute_signals, signal_type
    from takedown.media.storage import hashable_mime

    failed = False
    for path in paths:
        try:
            data = path.read_bytes()
            signals = compute_signals(data, hashable_mime(data))
        except (OSError, ValueError) as exc:
            failed = True
            print(json.dumps({"path": str(path), "error": str(exc)}) if as_json
                  else f"{path}: error: {exc}", file=sys.stderr)
            continue
        for signal in signals:
            kind = signal_type(signal.signal_type)
            if kind.exact and not exact:
                continue
            described = kind.describe(signal)
            if not dihedral:
                described.pop("rotations_and_mirrors", None)
            if as_json:
                print(json.dumps({"path": str(path), "signal_type": signal.signal_type,
                                  **described}))
                continue
            note = f"\t({signal.note})" if signal.note else ""
            frames = described.get("frames")
            if isinstance(frames, list):
                print(f"{path}\t{signal.signal_type}\t{len(frames)} frames{note}")
                for frame in frames:
                    print(f"  {frame['timestamp']:8.3f}s  q={frame['quality']:<3} "
                          f"{frame['hash']}")
                continue
            quality = f"\tquality={signal.quality}" if signal.quality is not None else ""
            print(f"{path}\t{signal.signal_type}\t{signal.value}{quality}{note}")
            for variant in signal.variants if dihedral else ():
                print(f"  {variant}")
    if failed:
        raise typer.Exit(1)


@app.command("match")
def match_files(paths: list[Path]) -> None:
    """Print the bank entries each file matches."""
    system = _system()
    for path in paths:
        matches = system.match_file(path.read_bytes())
        if not matches:
            console.print(f"{path}: no match", soft_wrap=True)
        for m in matches:
            console.print(f"{path}: bank {m.bank} ({m.action}) entry {m.entry_id} "
                          f"{m.signal_type} distance {m.distance}"
                          f"{f' case {m.case_id}' if m.case_id else ''}", soft_wrap=True)
    system.close()



def _day(value: str) -> str:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a day as YYYY-MM-DD") from None
    return value


@app.command("transparency")
def transparency(
        first_day: Annotated[str, typer.Option(
            "--from", help="The first UTC day of the period (YYYY-MM-DD), included.",
            callback=_day)],
        last_day: Annotated[str, typer.Option(
            "--to", help="The last UTC day of the period (YYYY-MM-DD), included.",
            callback=_day)],
        fmt: Annotated[str, typer.Option(
            "--format", help="json, csv (one row per figure) or html (a standalone page "
                             "with its charts).")] = "json",
        out: Annotated[Path | None, typer.Option(
            help="Write the report to this file instead of standard output.")] = None,
) -> None:
    """The transparency report for a period of whole UTC days, from the event log: the
    same whenever it is run again (see docs/legal.md)."""
    from datetime import date

    from takedown.errors import TakedownError
    from takedown.legal.transparency import to_csv, to_html, to_json

    writers = {"json": to_json, "csv": to_csv, "html": to_html}
    if fmt not in writers:
        raise typer.BadParameter(f"{fmt!r}: one of json, csv, html", param_hint="--format")
    system = _system()
    try:
        report = system.transparency_report(date.fromisoformat(first_day),
                                            date.fromisoformat(last_day))
    except TakedownError as exc:
        console.print(exc.message, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    text = writers[fmt](report)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"{out}: transparency report {first_day} to {last_day} ({fmt})",
                  soft_wrap=True)

if __name__ == "__main__":
    app()
