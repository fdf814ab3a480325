"""The `takedown` command line, run as a user would."""

import subprocess
import sys
from pathlib import Path

import pytest

from takedown.system import Takedown
from tests.conftest import Receiver
from tests.helpers import reference


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
                    "--password", "a long passphrase", env=env)
    assert user.returncode == 0 and "tdu_" in user.stdout
    api_only = takedown("user", "add", f"bot-{id(env)}", "--role", "moderator",
                        "--no-password", env=env)
    assert api_only.returncode == 0 and "tdu_" in api_only.stdout
    bad = takedown("user", "add", "x", "--role", "overlord", "--no-password", env=env)
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




def test_hash_prints_one_json_object_per_image_and_frames_for_videos(
        env: dict[str, str]) -> None:
    import json

    image = reference("pdq", "aaa-orig.jpg")
    video = reference("video", "pattern-sd-grey-bar.mp4")
    done = takedown("hash", "--json", str(image), str(video), env=env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0].keys() == {"path", "signal_type", "hash", "quality"}
    assert lines[0]["signal_type"] == "pdq" and lines[0]["quality"] == 100
    assert lines[1]["signal_type"] == "vpdq"
    assert lines[1]["frames"][1].keys() == {"frame", "quality", "hash", "timestamp"}
    assert lines[1]["frames"][1]["timestamp"] == 1.0
    bad = takedown("hash", "--json", str(reference("README.md")), "/no/such/file", env=env)
    assert bad.returncode == 1 and "error" in bad.stderr


def test_hash_refuses_files_that_are_not_images_or_videos(tmp_path: Path) -> None:
    """An empty file, an SVG or an HTML page has no signal to print: an error, not a
    silent success (which read as "hashed, nothing to show")."""
    import os

    files = {"empty.jpg": b"", "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>',
             "page.html": b"<!DOCTYPE html><html><body>hi</body></html>"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    for options in ([], ["--exact", "--json"]):
        done = takedown("hash", *options, *(str(tmp_path / n) for n in files),
                        env=dict(os.environ))
        assert done.returncode == 1 and done.stdout == "", done
        errors = done.stderr.splitlines()
        assert len(errors) == 3, done.stderr
        for line, said in zip(errors, ("empty", "text (SVG", "text (SVG"), strict=True):
            assert said in line, line


def test_bank_add_list_export_disable_and_match(env: dict[str, str], tmp_path: Path) -> None:
    from takedown.demo.media import altered_copies, generated_photo

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(generated_photo(1))
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(altered_copies(photo.read_bytes())["watermarked"])
    pdq_line = takedown("hash", str(photo), env=env).stdout.split("\t")
    assert takedown("migrate", env=env).returncode == 0
    added = takedown("bank", "add", "ncmec", "pdq", pdq_line[2], env=env)
    assert added.returncode == 0 and "added" in added.stdout, added.stderr
    listed = takedown("bank", "list", env=env).stdout
    assert "ncmec" in listed and "confirmed" in listed and "stopncii" in listed
    matched = takedown("match", str(copy), env=env)
    assert "bank ncmec (block)" in matched.stdout, matched.stdout + matched.stderr
    exported = takedown("bank", "export", "ncmec", env=env).stdout
    assert exported.splitlines() == ["signal_type,signal", f"pdq,{pdq_line[2]}"]
    csv = tmp_path / "bank.csv"
    csv.write_text(exported)
    again = takedown("bank", "import", "stopncii", str(csv), "--format", "csv", env=env)
    assert "added 1" in again.stdout, again.stdout + again.stderr
    assert takedown("bank", "disable", "ncmec", "pdq", pdq_line[2], env=env).returncode == 0
    assert "bank ncmec" not in takedown("match", str(copy), env=env).stdout
