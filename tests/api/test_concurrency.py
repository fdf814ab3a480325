"""Simultaneous reports about one item make one case, on both databases: finding an
item's case and opening a new one are serialised, and a transaction PostgreSQL aborts
to break a deadlock is run again instead of answering 500. The reports arrive at
once over HTTP, then several intake workers (as on several hosts) work them in at
once."""

import threading
from collections import Counter

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.api.app import create_app
from takedown.pipeline.intake import IntakeWorker
from takedown.server import BackgroundServer, free_port
from takedown.store.tables import ActionRow, ReportInboxRow, ReportRow
from takedown.system import Takedown
from tests.conftest import Keys
from tests.helpers import register

ITEMS = 12
REPORTS_PER_ITEM = 4


def _report_all_at_once(url: str, bodies: list[dict[str, object]]) -> list[int]:
    start = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def send(body: dict[str, object]) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            start.wait()
            statuses.append(http.post("/v1/reports", json=body).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def _work_in_with_several_workers(system: Takedown, workers: int) -> None:
    intakes = [IntakeWorker(system.db, system.policy,
                            lambda s: system.sweeper(s, compute=False), system.copies,
                            wake=lambda: None, batch=2) for _ in range(workers)]
    start = threading.Barrier(workers)

    def drain(intake: IntakeWorker, name: str) -> None:
        start.wait()
        intake.process_all(name)

    threads = [threading.Thread(target=drain, args=(w, f"w{i}")) for i, w in enumerate(intakes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    with system.db.transaction() as s:
        left = s.scalars(select(ReportInboxRow.id).where(ReportInboxRow.status != "delivered"))
        assert list(left) == [], "a report was not worked in"


def test_simultaneous_reports_on_one_item_join_one_case(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    for n in range(ITEMS):
        register(client, keys.api, f"item{n}", seed=100 + n)
        register(client, keys.api, f"item{n}-rp", repost_of=f"item{n}")
    relations = ["depicted_person", "parent_guardian", "other_user", "law_enforcement"]
    bodies: list[dict[str, object]] = [
        {"content_ids": [f"item{n}" if k % 2 else f"item{n}-rp"],
         "category": "child_sexual_abuse", "reporter_relation": relations[k]}
        for n in range(ITEMS) for k in range(REPORTS_PER_ITEM)]
    with BackgroundServer(create_app(system, run_workers=False), free_port()) as server:
        statuses = _report_all_at_once(server.url, bodies)
    assert statuses == [202] * len(bodies)
    _work_in_with_several_workers(system, workers=4)
    with system.db.transaction() as s:
        cases = s.scalar(select(func.count(func.distinct(ReportRow.case_id))))
        restricts = Counter(s.scalars(select(ActionRow.target_id)
                                      .where(ActionRow.kind == "restrict")))
    assert cases == ITEMS
    assert set(restricts) == {f"item{n}{s}" for n in range(ITEMS) for s in ("", "-rp")}
    assert set(restricts.values()) == {1}, "an item was restricted twice"
