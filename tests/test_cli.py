"""The `takedown` command line, run as a user would."""

import subprocess
import sys
from pathlib import Path

import pytest

from takedown.system import Takedown
from tests.conftest import Receiver


def takedown(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "takedown.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    import os

    return {**os.environ, "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
            "TAKEDOWN_DATABASE_URL": database_url, "COLUMNS": "200"}


def test_migrate_then_add_a_platform_and_a_user(env: dict[str, str], backend: str) -> None:
    done = takedown("migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert "schema up to date" in done.stdout
    added = takedown("platform", "add", f"net-{backend}-{id(env)}", "--webhook-url",
                     "http://127.0.0.1:9/hook", env=env)
    assert added.returncode == 0, added.stderr
    assert "tdp_" in added.stdout and "whsec_" in added.stdout
    user = takedown("user", "add", f"ana-{id(env)}", "--role", "child_safety_specialist",
                    env=env)
    assert user.returncode == 0 and "tdu_" in user.stdout
    bad = takedown("user", "add", "x", "--role", "overlord", env=env)
    assert bad.returncode != 0 and "overlord" in bad.stdout + bad.stderr


def test_separate_worker_processes_deliver_each_action_once(
        env: dict[str, str], system: Takedown, receiver: Receiver) -> None:
    """Production shape: the API process runs no workers; two `takedown worker`
    processes share the queue."""
    import time

    from takedown.domain.vocabulary import Role
    from tests.helpers import register, report

    key = {"X-Api-Key": system.add_platform("net", receiver.url,
                                            webhook_secret=receiver.secret)[0]}
    system.add_user("ana", Role.CHILD_SAFETY_SPECIALIST)
    from fastapi.testclient import TestClient

    from takedown.api.app import create_app

    with TestClient(create_app(system, run_workers=False)) as client:
        register(client, key, "orig", seed=1)
        for n in range(120):
            register(client, key, f"rp{n}", repost_of="orig")
        report(client, content_ids=["orig"], relation="law_enforcement")
    workers = [subprocess.Popen([sys.executable, "-m", "takedown.cli", "worker", "--threads",
                                 "2"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while len(receiver.actions) < 121 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # time for a duplicate to show up, were there one
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    ids = [a["action_id"] for a in receiver.actions]
    assert len(ids) == 121 and len(set(ids)) == 121
