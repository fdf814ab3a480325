"""Issue 13, part 4: a valid TAKE IT DOWN Act request's 48 hours, accounted in its
case's log — escalated to on-call at 24 h and 40 h while the depiction is up, met (with
the time it took) once every copy's removal is acknowledged, missed if the 48 hours run
out. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from takedown.domain.takeitdown import CLOCK
from takedown.legal.takeitdown import TakeItDownClock, accounting
from takedown.pipeline.escalation import EscalationScheduler
from takedown.store.tables import ActionRow, CaseEventRow, NotificationRow, ReportRow
from takedown.system import Takedown
from tests.conftest import Keys, deliver_all
from tests.helpers import register, report

NCII = "non_consensual_intimate_imagery"
SIGNATURE = "Jane Q. Doe"
EMAIL = "jane@example.org"


def request(client: TestClient, keys: Keys, content_id: str, **fields: Any) -> str:
    """A report of the content; with no `fields`, a complete TAKE IT DOWN request."""
    body = fields or {"contact_email": EMAIL, "signature": SIGNATURE,
                      "good_faith_statement": True}
    receipt = report(client, content_ids=[content_id], category=NCII,
                     relation="depicted_person", **body)
    return str(receipt["report_id"])


def received(system: Takedown, report_id: str) -> tuple[int, datetime]:
    with system.db.transaction() as s:
        row = s.get(ReportRow, report_id)
        assert row is not None
        return row.case_id, row.created_at


def clock_log(system: Takedown, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    with system.db.transaction() as s:
        return [(e.type, dict(e.data)) for e in s.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id,
                                       CaseEventRow.type.like("take_it_down_%"))
            .order_by(CaseEventRow.seq))]


def on_call(system: Takedown) -> list[NotificationRow]:
    with system.db.transaction() as s:
        rows = list(s.scalars(select(NotificationRow).where(
            NotificationRow.dedupe_key.like("take-it-down:%")).order_by(NotificationRow.id)))
        s.expunge_all()
        return rows


def account(system: Takedown, report_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    with system.db.transaction() as s:
        return accounting(s, system.policy, report_id, now)


def candidates(system: Takedown, now: datetime) -> list[str]:
    """The requests a pass reads at all."""
    with system.db.transaction() as s:
        return [r.id for r, _ in TakeItDownClock(system.db, system.policy, system.settings)
                .candidates(s, now)]


def decide_violation(client: TestClient, keys: Keys, case_id: int) -> None:
    answer = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("specialist"),
                         json={"outcome": "violation"})
    assert answer.status_code == 200, answer.text


def removals(system: Takedown, case_id: int) -> list[ActionRow]:
    with system.db.transaction() as s:
        rows = list(s.scalars(select(ActionRow).where(
            ActionRow.case_id == case_id, ActionRow.kind == "remove").order_by(ActionRow.id)))
        s.expunge_all()
        return rows


def acknowledged_at(system: Takedown, action_ids: list[str], when: datetime | None) -> None:
    """As if the platform had acknowledged these removals then (None: not yet)."""
    with system.db.transaction() as s:
        s.execute(update(ActionRow).where(ActionRow.id.in_(action_ids)).values(
            status="delivered" if when else "failing", delivered_at=when))


def test_a_request_not_removed_escalates_at_24_and_40_hours_once_each(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "pic", seed=71)
    report_id = request(client, keys, "pic")
    case_id, at = received(system, report_id)
    settings = system.settings.with_(oncall_email="oncall@example.org")
    scheduler = EscalationScheduler(system.db, system.policy, settings)  # the worker's pass
    assert scheduler.run_once(at + timedelta(hours=23, minutes=59)) == 0
    assert scheduler.run_once(at + timedelta(hours=24)) == 1
    for minutes in (1, 60, 600):  # repeated passes append nothing more
        assert scheduler.run_once(at + timedelta(hours=24, minutes=minutes)) == 0
    assert scheduler.run_once(at + timedelta(hours=40, seconds=5)) == 1
    assert scheduler.run_once(at + timedelta(hours=41)) == 0
    deadline = (at + CLOCK).isoformat()
    assert clock_log(system, case_id) == [
        ("take_it_down_escalated", {"report_id": report_id, "hours": 24.0,
                                    "deadline": deadline}),
        ("take_it_down_escalated", {"report_id": report_id, "hours": 40.0,
                                    "deadline": deadline})]
    told = on_call(system)
    assert [(n.channel, n.target) for n in told] == [("email", "oncall@example.org")] * 2
    assert f"case {case_id}" in told[0].subject and "24.0 h left" in told[0].subject
    assert "8.0 h left" in told[1].subject
    assert told[0].body["case_id"] == case_id and told[0].body["hours_left"] == 24.0
    assert told[1].body["stage"] == "awaiting a decision"
    for message in told:  # never who asked
        text = f"{message.subject} {message.body}"
        assert SIGNATURE not in text and EMAIL not in text and report_id not in text
    counted = account(system, report_id, at + timedelta(hours=41))
    assert counted is not None
    assert counted["escalations"] == [24.0, 40.0] and counted["met"] is None
    assert counted["deadline"] == at + CLOCK and counted["removed_at"] is None


def test_removal_acknowledged_gives_met_with_the_time_it_took(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "pic", seed=72)
    register(client, keys.api, "repost", repost_of="pic")
    report_id = request(client, keys, "pic")
    case_id, at = received(system, report_id)
    clock = TakeItDownClock(system.db, system.policy, system.settings)
    assert clock.run_once(at + timedelta(hours=24)) == 1  # escalated meanwhile
    decide_violation(client, keys, case_id)
    deliver_all(system)
    removed = removals(system, case_id)
    assert len(removed) == 2 and {r.status for r in removed} == {"delivered"}
    acknowledged_at(system, [removed[0].id], at + timedelta(hours=29))
    acknowledged_at(system, [removed[1].id], at + timedelta(hours=30, seconds=1.5))
    assert candidates(system, at + timedelta(hours=31)) == [report_id]
    assert clock.run_once(at + timedelta(hours=31)) == 1
    assert candidates(system, at + timedelta(hours=31)) == []  # accounted: not read again
    assert clock.run_once(at + timedelta(hours=32)) == 0
    assert clock.run_once(at + timedelta(hours=49)) == 0  # no miss once removed
    within = 30 * 3600 + 1.5
    met = clock_log(system, case_id)[-1]
    assert met == ("take_it_down_met", {
        "report_id": report_id, "received_at": at.isoformat(),
        "deadline": (at + CLOCK).isoformat(),
        "removed_at": (at + timedelta(seconds=within)).isoformat(),
        "within_s": within, "met": True})
    assert account(system, report_id) == {
        "received_at": at, "deadline": at + CLOCK,
        "removed_at": at + timedelta(seconds=within), "within_s": within, "met": True,
        "missed_at": None, "escalations": [24.0], "next_escalation_at": None}


def test_an_incomplete_request_is_not_accounted(client: TestClient, keys: Keys,
                                                system: Takedown) -> None:
    register(client, keys.api, "pic", seed=73)
    report_id = request(client, keys, "pic", contact_email=EMAIL, good_faith_statement=True)
    case_id, at = received(system, report_id)
    clock = TakeItDownClock(system.db, system.policy, system.settings)
    assert candidates(system, at) == []  # no signature: not even read
    for hours in (24, 40, 49):
        assert clock.run_once(at + timedelta(hours=hours)) == 0
    assert clock_log(system, case_id) == [] and on_call(system) == []
    assert account(system, report_id) is None


def test_a_partly_acknowledged_removal_is_not_yet_met(client: TestClient, keys: Keys,
                                                      system: Takedown) -> None:
    register(client, keys.api, "pic", seed=74)
    register(client, keys.api, "repost", repost_of="pic")
    register(client, keys.api, "quote", quote_of="pic")
    report_id = request(client, keys, "pic")
    case_id, at = received(system, report_id)
    decide_violation(client, keys, case_id)
    deliver_all(system)
    removed = removals(system, case_id)
    assert len(removed) == 3
    acknowledged_at(system, [removed[1].id], None)  # the platform has not answered
    clock = TakeItDownClock(system.db, system.policy,
                            system.settings.with_(oncall_email="oncall@example.org"))
    assert clock.run_once(at + timedelta(hours=1)) == 0
    assert clock.run_once(at + timedelta(hours=24)) == 1
    assert [t for t, _ in clock_log(system, case_id)] == ["take_it_down_escalated"]
    assert on_call(system)[0].body["stage"] == (
        "awaiting the platform's acknowledgement of the removal")
    counted = account(system, report_id, at + timedelta(hours=24))
    assert counted is not None and counted["removed_at"] is None and counted["met"] is None
    acknowledged_at(system, [removed[1].id], at + timedelta(hours=25))
    assert clock.run_once(at + timedelta(hours=26)) == 1
    kind, data = clock_log(system, case_id)[-1]
    assert kind == "take_it_down_met" and data["met"] is True
    assert data["within_s"] == 25 * 3600


def test_missed_after_48_hours_then_the_late_removal_is_recorded(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "pic", seed=75)
    report_id = request(client, keys, "pic")
    case_id, at = received(system, report_id)
    clock = TakeItDownClock(system.db, system.policy,
                            system.settings.with_(oncall_email="oncall@example.org"))
    # No pass ran before the deadline: the steps are not taken late, the miss is.
    assert clock.run_once(at + CLOCK) == 1
    assert clock.run_once(at + CLOCK + timedelta(hours=1)) == 0
    deadline = (at + CLOCK).isoformat()
    assert clock_log(system, case_id) == [("take_it_down_met", {
        "report_id": report_id, "received_at": at.isoformat(), "deadline": deadline,
        "missed_at": deadline, "removed_at": None, "within_s": None, "met": False})]
    assert "missed its 48 hours" in on_call(system)[0].subject
    counted = account(system, report_id, at + CLOCK + timedelta(hours=1))
    assert counted is not None and counted["met"] is False
    assert counted["missed_at"] == at + CLOCK and counted["removed_at"] is None
    decide_violation(client, keys, case_id)
    deliver_all(system)
    acknowledged_at(system, [r.id for r in removals(system, case_id)],
                    at + timedelta(hours=50))
    assert clock.run_once(at + timedelta(hours=51)) == 1
    assert clock.run_once(at + timedelta(hours=52)) == 0
    assert candidates(system, at + timedelta(hours=52)) == []
    kind, data = clock_log(system, case_id)[-1]
    assert kind == "take_it_down_met"
    assert data["met"] is False and data["within_s"] == 50 * 3600
    assert data["removed_at"] == (at + timedelta(hours=50)).isoformat()
    assert len(on_call(system)) == 1  # the removal itself is not an alarm
    counted = account(system, report_id)
    assert counted is not None and counted["within_s"] == 50 * 3600
    assert counted["met"] is False and counted["missed_at"] == at + CLOCK


def test_a_request_dismissed_by_a_person_is_not_escalated_but_its_miss_is_kept(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    register(client, keys.api, "pic", seed=76)
    report_id = request(client, keys, "pic")
    case_id, at = received(system, report_id)
    answer = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("specialist"),
                         json={"outcome": "no_violation"})
    assert answer.status_code == 200, answer.text
    clock = TakeItDownClock(system.db, system.policy,
                            system.settings.with_(oncall_email="oncall@example.org"))
    assert clock.run_once(at + timedelta(hours=24)) == 0
    assert clock.run_once(at + timedelta(hours=48)) == 1
    assert [(t, d["met"]) for t, d in clock_log(system, case_id)] == [
        ("take_it_down_met", False)]
    assert on_call(system) == []


def test_concurrent_passes_append_each_event_once(client: TestClient, keys: Keys,
                                                  system: Takedown) -> None:
    register(client, keys.api, "pic", seed=77)
    report_id = request(client, keys, "pic")
    case_id, at = received(system, report_id)
    clocks = [TakeItDownClock(system.db, system.policy, system.settings) for _ in range(4)]
    when = at + timedelta(hours=40, minutes=1)  # both steps due in one late pass
    threads = [threading.Thread(target=c.run_once, args=(when,)) for c in clocks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [d["hours"] for _, d in clock_log(system, case_id)] == [24.0, 40.0]
