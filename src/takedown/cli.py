"""The `takedown` command: serve, work, migrate, manage platforms and users, demo."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from takedown.config import Settings
from takedown.domain.vocabulary import Role

app = typer.Typer(help="takedown: from a report to the removal of every copy.",
                  no_args_is_help=True, add_completion=False)
platform_app = typer.Typer(help="Host platforms that send content and receive webhooks.",
                           no_args_is_help=True)
user_app = typer.Typer(help="Reviewers and their roles.", no_args_is_help=True)
app.add_typer(platform_app, name="platform")
app.add_typer(user_app, name="user")
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
def serve(host: str = "127.0.0.1", port: int = 8000,
          demo: Annotated[bool, typer.Option(help="Mount the demo platform at /demo and "
                                                  "seed a few posts.")] = False) -> None:
    """Run the API (and, by default, the delivery workers in-process)."""
    import uvicorn

    from takedown.api.app import create_app

    system = _system()
    system.migrate()
    public = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    platform = None
    if demo:
        from takedown.platform.demo.bootstrap import demo_platform
        from takedown.platform.demo.seed import seed_in_background

        platform, tokens = demo_platform(system, public)
        seed_in_background(platform)
        console.print(f"demo platform:  {public}/demo/", soft_wrap=True)
        for name, token in tokens.items():
            console.print(f"reviewer {name}: Authorization: Bearer {token}", soft_wrap=True)
    console.print(f"takedown API:   {public}/docs  (OpenAPI at {public}/openapi.json)",
                  soft_wrap=True)
    uvicorn.run(create_app(system, demo=platform), host=host, port=port, log_level="info")


@app.command()
def worker(threads: Annotated[int, typer.Option(min=1)] = 4) -> None:
    """Deliver action webhooks. Run as many as needed, on as many hosts (PostgreSQL)."""
    settings = Settings.from_env().with_(inprocess_workers=threads)
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
def platform_add(name: str, webhook_url: Annotated[str, typer.Option()]) -> None:
    """Register a platform; prints its API key and webhook secret once."""
    system = _system()
    key, secret = system.add_platform(name, webhook_url)
    system.close()
    console.print(f"api key:        {key}\nwebhook secret: {secret}", soft_wrap=True)


@user_app.command("add")
def user_add(name: str, role: Annotated[Role, typer.Option()]) -> None:
    """Create a reviewer; prints their API token once."""
    system = _system()
    token = system.add_user(name, role)
    system.close()
    console.print(f"token for {name} ({role.value}): {token}", soft_wrap=True)


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
    from takedown.platform.demo.scenario import ScenarioConfig, run_seed_case

    config = ScenarioConfig(reposts=reposts, tick_s=tick_s)
    with tempfile.TemporaryDirectory(prefix="takedown-demo-") as scratch:
        settings = Settings.from_env().with_(data_dir=data_dir or Path(scratch))
        say = (lambda _line: None) if as_json else console.print
        result = run_seed_case(settings, config, say)
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    console.print_json(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    app()
