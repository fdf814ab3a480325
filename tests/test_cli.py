"""The `takedown` command line, run as a user would."""

import subprocess
import sys
from pathlib import Path

import pytest


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
