"""SIGKILL under load: `takedown serve` (its own process, in-process workers) is killed
while 16 clients send reports; after a restart, every report it acknowledged is
there and worked into its case, every item has one case, no action was made twice,
and the platform received every action (again only if it was in flight at the kill,
under the same action id)."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.server import free_port
from takedown.store.tables import ActionRow, ReportContentRow, ReportInboxRow, ReportRow
from takedown.system import Takedown
from tests.conftest import Keys, Receiver
from tests.helpers import register

ITEMS = 30
CLIENTS = 16


def _serve(system: Takedown) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(system.settings.data_dir),
           "TAKEDOWN_DATABASE_URL": system.settings.effective_database_url,
           "TAKEDOWN_INPROCESS_WORKERS": "2", "TAKEDOWN_LOG_FORMAT": "text",
           "TAKEDOWN_REPORT_RATE_LIMIT": "off", "TAKEDOWN_REPORT_RATE_LIMIT_PER_CONTENT": "off"}
    process = subprocess.Popen([sys.executable, "-m", "takedown.cli", "serve", "--port",
                                str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("takedown serve did not start")


def _flood(url: str, acknowledged: list[str], stop: threading.Event) -> None:
    relations = ["other_user", "other_user", "depicted_person", "parent_guardian"]
    with httpx.Client(base_url=url, timeout=30) as http:
        n = 0
        while not stop.is_set():
            n += 1
            body = {"content_ids": [f"item{(n * 7 + threading.get_ident()) % ITEMS}"],
                    "category": "child_sexual_abuse", "reporter_relation": relations[n % 4]}
            try:
                response = http.post("/v1/reports", json=body)
            except httpx.HTTPError:
                return  # the server is gone: what it acknowledged is what counts
            if response.status_code == 202:
                acknowledged.append(response.json()["report_id"])


def _wait_until_worked_in(system: Takedown, receiver: Receiver, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with system.db.transaction() as s:
            waiting = s.scalar(select(func.count()).select_from(ReportInboxRow)
                               .where(ReportInboxRow.status != "delivered"))
            undelivered = s.scalar(select(func.count()).select_from(ActionRow)
                                   .where(ActionRow.status != "delivered"))
        if waiting == 0 and undelivered == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{waiting} reports and {undelivered} actions still waiting")


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver,
        tmp_path: Path) -> None:
    for n in range(ITEMS):
        register(client, keys.api, f"item{n}", seed=200 + n)
        register(client, keys.api, f"item{n}-rp", repost_of=f"item{n}")
    process, url = _serve(system)
    acknowledged: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_flood, args=(url, acknowledged, stop))
               for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    stop.set()
    for thread in clients:
        thread.join(timeout=60)
    assert len(acknowledged) >= 100, "the load never got going"
    process, _ = _serve(system)  # the restarted server's workers finish the work
    try:
        _wait_until_worked_in(system, receiver, timeout_s=180)
    finally:
        process.terminate()
        process.wait(timeout=30)
    with system.db.transaction() as s:
        stored = set(s.scalars(select(ReportRow.id)))
        cases_per_item = s.execute(
            select(ReportContentRow.content_id, func.count(func.distinct(ReportRow.case_id)))
            .join(ReportRow, ReportRow.id == ReportContentRow.report_id)
            .group_by(ReportContentRow.content_id)).all()
        made = Counter(s.execute(select(ActionRow.kind, ActionRow.target_id)).all())
    assert set(acknowledged) <= stored, "an acknowledged report was lost"
    assert {count for _, count in cases_per_item} == {1}, "an item's reports split"
    assert made and max(made.values()) == 1, "an action was made twice"
    # Every action made reached the platform. A webhook the platform acknowledged just
    # before the kill, whose delivery the dead process had not yet recorded, comes again
    # after the restart: with the same action id, which the platform applies once (the
    # contract in docs/operations.md). Nothing else may come twice.
    sent = Counter(a["action_id"] for a in receiver.actions)
    assert sent and len(sent) == sum(made.values())
    with system.db.transaction() as s:
        ids = set(s.scalars(select(ActionRow.id)))
    assert set(sent) == ids, "the platform received an action takedown did not make"
    in_flight = sum(n - 1 for n in sent.values())
    assert in_flight <= 2 * 500, "more redeliveries than two workers' batches in flight"
