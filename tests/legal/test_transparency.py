"""The transparency report (legal.transparency), on SQLite and PostgreSQL.

A scenario is replayed into the event log with its times under the test's control (the
case log's clock is the test's; actions, reports and statements are stored as the
workers would leave them), and the report's figures are checked against figures worked
out by hand below: the nearest-rank percentiles of known report-to-hidden, -decision and
-removal times, and every count. Then more happens after the period, and the report for
the period is byte for byte the same. A second test goes through the real API (report,
restrict-first, decision, delivery) and checks the times against what was stored."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from takedown.cases.casebook import CaseBook
from takedown.clock import utcnow
from takedown.domain.case import EventType, NewEvent
from takedown.legal.transparency import (
    Percentiles,
    Period,
    compute,
    percentiles,
    to_csv,
    to_html,
    to_json,
)
from takedown.store.tables import (
    ActionRow,
    CaseEventRow,
    PlatformRow,
    ReportRow,
    StatementRow,
)
from takedown.system import Takedown
from tests.conftest import Keys, deliver_all
from tests.helpers import register, report

NCII = "non_consensual_intimate_imagery"
CSAM = "child_sexual_abuse"
MARCH = Period(date(2025, 3, 1), date(2025, 3, 31))  # [03-01T00:00Z, 04-01T00:00Z)
BASE = datetime(2025, 3, 2, tzinfo=UTC)
AFTER = datetime(2025, 4, 1, tzinfo=UTC)  # the period's end


class Clock:
    """The case log's clock (CaseBook stamps each event with takedown.clock.utcnow)."""

    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("takedown.cases.casebook.utcnow", fake)
    return fake


def test_nearest_rank_percentiles() -> None:
    assert percentiles([]) == Percentiles(None, None, None, None)
    assert percentiles([7.0]) == Percentiles(7.0, 7.0, 7.0, 7.0)
    # 10 values: p50 the 5th smallest, p90 the 9th, p99 the 10th.
    assert percentiles(range(10, 0, -1)) == Percentiles(5, 9, 10, 10)
    # 101 values (0..100): p50 is the 51st, p90 the 91st, p99 the 100th.
    assert percentiles(range(101)) == Percentiles(50, 90, 99, 100)


def test_a_period_is_whole_utc_days_both_included() -> None:
    assert MARCH.start == datetime(2025, 3, 1, tzinfo=UTC)
    assert MARCH.end == AFTER
    with pytest.raises(ValueError, match="before it starts"):
        Period(date(2025, 3, 2), date(2025, 3, 1))


# --- the replayed scenario ------------------------------------------------------------


class Scenario:
    """Writes the scenario: case events through CaseBook (at the clock's time), the
    rest as rows."""

    def __init__(self, system: Takedown, clock: Clock) -> None:
        self.system, self.clock = system, clock
        with system.db.transaction() as s:
            self.platform = s.scalars(select(PlatformRow.id)).one()

    def open(self, at: datetime) -> int:
        self.clock.now = at
        with self.system.db.transaction() as s:
            return CaseBook(s, self.system.policy).open().id

    def event(self, case_id: int, at: datetime, kind: EventType, data: dict[str, Any],
              actor: str | None = None) -> int:
        """Appends one event at `at`; its sequence number."""
        self.clock.now = at
        with self.system.db.transaction() as s:
            return CaseBook(s, self.system.policy).append(
                case_id, [NewEvent(kind, data, actor)])[1]

    def reported(self, case_id: int, at: datetime, relation: str = "depicted_person",
                 category: str = NCII, report_id: str | None = None) -> int:
        return self.event(case_id, at, EventType.REPORTED, {
            "report_id": report_id or str(uuid.uuid4()), "category": category,
            "relation": relation, "minor": False, "case_numbers": [],
            "reporter_key": uuid.uuid4().hex})

    def decided(self, case_id: int, at: datetime, outcome: str = "violation",
                **extra: Any) -> int:
        data = {"outcome": outcome, "notes": "", "reviewers": ["ana"], **extra}
        return self.event(case_id, at, EventType.DECIDED, data, "ana")

    def action(self, case_id: int, kind: str, key: str, created: datetime,
               delivered: datetime | None) -> str:
        action_id = str(uuid.uuid4())
        with self.system.db.transaction() as s:
            s.add(ActionRow(
                id=action_id, dedupe_key=key, platform_id=self.platform, case_id=case_id,
                kind=kind, target_type="content", target_id=key, payload={}, priority=0.0,
                created_at=created, status="delivered" if delivered else "pending",
                attempts=1 if delivered else 0, next_attempt_at=created,
                delivered_at=delivered))
        return action_id

    def removal(self, case_id: int, decision_seq: int, n: int, created: datetime,
                delivered: datetime | None) -> str:
        """A remove action the decision requested (as Enforcement names it)."""
        return self.action(case_id, "remove", f"remove:case:{case_id}:event:{decision_seq}:"
                                              f"content:{case_id}{n}", created, delivered)

    def request(self, case_id: int, at: datetime, *, signature: str | None) -> str:
        """A TAKE IT DOWN Act request (valid with a signature), as stored."""
        report_id = str(uuid.uuid4())
        with self.system.db.transaction() as s:
            s.add(ReportRow(
                id=report_id, created_at=at, case_id=case_id, category=NCII,
                relation="depicted_person", depicted_minor=False, age_at_time=None,
                age_now=None, case_numbers=[], text="", contact_email="me@example.org",
                reporter_key=uuid.uuid4().hex, language="en", status_token_hash="0" * 64,
                references=[f"post-{case_id}"], signature=signature,
                good_faith_statement=True))
        return report_id

    def statement(self, action_id: str, case_id: int, created: datetime,
                  delivered: datetime | None) -> None:
        with self.system.db.transaction() as s:
            s.add(StatementRow(
                puid=action_id, action_id=action_id, platform_id=self.platform,
                case_id=case_id, content_id=None, kind="restrict", body={}, replaces=None,
                priority=0.0, created_at=created,
                status="delivered" if delivered else "pending", attempts=0,
                next_attempt_at=created, delivered_at=delivered))


H = timedelta(hours=1)
S = timedelta(seconds=1)
# The ten NCII cases opened in March: seconds from the first report to hidden (a
# restriction delivered), to the decision, and to the last removal delivered. Case 8's
# last removal is delivered only after the period; case 9 is decided only after it.
HIDDEN = [600, 30, 90, 45, 120, 3600, 60, 300, 150, 200]
DECIDED = [1800, 900, 2400, 3600, 600, 7200, 1200, 5400, 4000, None]
REMOVED = [1920, 1500, 2460, 4600, 630, 10200, 1290, 5600, None, None]
RELATIONS = ["depicted_person"] * 5 + ["parent_guardian", "trusted_flagger",
                                       "law_enforcement", "depicted_person",
                                       "depicted_person"]


def opened_at(i: int) -> datetime:
    # Case 9 comes late in the month: its TAKE IT DOWN request is still open at the end.
    return datetime(2025, 3, 31, 12, tzinfo=UTC) if i == 9 else BASE + i * H


def replay_march(sc: Scenario) -> dict[str, Any]:
    ids: dict[str, Any] = {"ncii": [], "restrictions": []}
    # A case opened in February, escalated past its deadline and dismissed in March.
    old = sc.open(datetime(2025, 2, 27, tzinfo=UTC))
    sc.reported(old, datetime(2025, 2, 27, tzinfo=UTC), "other_user", "other_illegal")
    old_action = sc.action(old, "restrict", f"restrict:old:{old}",
                           datetime(2025, 2, 27, 1, tzinfo=UTC),
                           datetime(2025, 2, 27, 1, tzinfo=UTC))
    sc.statement(old_action, old, datetime(2025, 2, 27, 1, tzinfo=UTC),
                 datetime(2025, 3, 1, 0, 0, 1, tzinfo=UTC))  # sent in March
    sc.event(old, datetime(2025, 3, 1, 9, tzinfo=UTC), EventType.ESCALATED, {"step": 1})
    sc.decided(old, datetime(2025, 3, 1, 10, tzinfo=UTC), "no_violation")
    ids["old"] = old

    for i in range(10):
        t0 = opened_at(i)
        case_id = sc.open(t0)
        ids["ncii"].append(case_id)
        report_id = None
        if i in (0, 1, 2, 9):  # valid TAKE IT DOWN requests
            report_id = sc.request(case_id, t0, signature=f"Person {i}")
        if i == 3:  # one without a signature: a report, not a valid request
            report_id = sc.request(case_id, t0, signature=None)
        sc.reported(case_id, t0, RELATIONS[i], report_id=report_id)
        if i == 1:
            sc.reported(case_id, t0 + 10 * S, "other_user")
        restriction = sc.action(case_id, "restrict", f"restrict:case:{case_id}:event:1:x",
                                t0 + S, t0 + HIDDEN[i] * S)
        ids["restrictions"].append(restriction)
        if i < 4:  # statements of reasons with the restrictions, two sent in March
            sc.statement(restriction, case_id, t0 + S, t0 + 2 * H if i < 2 else None)
        decision = DECIDED[i]
        if decision is None:
            continue
        seq = sc.decided(case_id, t0 + decision * S)
        # Two removals each: the first soon after the decision, the last at REMOVED.
        sc.removal(case_id, seq, 1, t0 + decision * S, t0 + (decision + 10) * S)
        last = REMOVED[i]
        final = sc.removal(case_id, seq, 2, t0 + decision * S,
                           None if last is None else t0 + last * S)
        if last is None:
            ids["pending_removal"] = final

    a, b, c, d = ids["ncii"][:4]
    # A reviewer escalates case 3 by hand.
    sc.event(d, BASE + 3 * H + 100 * S, EventType.ESCALATED, {"step": 1, "manual": True})
    # TAKE IT DOWN: case 0's request met in 1920 s, case 1's missed (met late), case
    # 2's never met (its 48 hours ran out in March), case 9's still open at the end.
    with sc.system.db.transaction() as s:
        by_case = {row.case_id: row.id for row in s.scalars(select(ReportRow))}
    sc.event(a, BASE + 1920 * S, EventType.TAKE_IT_DOWN_MET, {
        "report_id": by_case[a], "received_at": BASE.isoformat(),
        "removed_at": (BASE + 1920 * S).isoformat(), "within_s": 1920, "met": True})
    sc.event(b, BASE + H + 200000 * S, EventType.TAKE_IT_DOWN_MET, {
        "report_id": by_case[b], "received_at": (BASE + H).isoformat(),
        "removed_at": (BASE + H + 200000 * S).isoformat(), "within_s": 200000,
        "met": False})
    sc.event(c, BASE + 2 * H + 24 * H, EventType.TAKE_IT_DOWN_ESCALATED,
             {"report_id": by_case[c], "hours": 24})
    # Appeals: case 0's uploader wins (a reversal), case 1's reporter loses, case 2's
    # appeal is refused; case 3's, lodged in March, is decided only in April.
    for case_id, who, lodged, outcome, took in (
            (a, "uploader", BASE + 24 * H, "reversed", 72 * H),
            (b, "reporter", BASE + 30 * H, "upheld", 24 * H),
            (c, "uploader", BASE + 40 * H, "refused", 2 * H)):
        appeal = f"appeal-{case_id}"
        sc.event(case_id, lodged, EventType.APPEALED, {"appeal_id": appeal, "appellant": who})
        sc.event(case_id, lodged + took, EventType.APPEAL_DECIDED, {
            "appeal_id": appeal, "outcome": outcome, "appealed_at": lodged.isoformat()})
        if outcome == "reversed":
            sc.decided(case_id, lodged + took, "no_violation", appeal_id=appeal)
    sc.event(d, datetime(2025, 3, 20, tzinfo=UTC), EventType.APPEALED,
             {"appeal_id": f"appeal-{d}", "appellant": "uploader"})
    ids["late_appeal"] = f"appeal-{d}"

    # A child-abuse file matches NCMEC's list: blocked at once, confirmed, reported.
    t0 = BASE + 10 * H
    csam = sc.open(t0)
    seq = sc.event(csam, t0, EventType.HASH_MATCHED, {"bank": "ncmec", "entry_id": 1,
                                                      "signal_type": "pdq", "distance": 0,
                                                      "category": CSAM})
    sc.action(csam, "remove", f"remove:case:{csam}:event:{seq}:content:1", t0, t0 + 5 * S)
    sc.decided(csam, t0 + 1800 * S, category=CSAM)
    sc.event(csam, t0 + 3600 * S, EventType.CYBERTIPLINE_SUBMITTED, {"by": "ana"})
    sc.event(csam, t0 + 3700 * S, EventType.CYBERTIPLINE_SUBMITTED,
             {"ncmec_report_id": 100001, "step": "submit"})
    sc.event(csam, t0 + 4000 * S, EventType.CYBERTIPLINE_ACCEPTED,
             {"ncmec_report_id": 100001, "files": 1})
    # Two re-uploads of it blocked at screening in March.
    for n in (1, 2):
        sc.action(csam, "remove", f"remove:screening:content:{900 + n}",
                  t0 + n * H, t0 + n * H + S)
    ids["csam"] = csam
    return ids


def replay_april(sc: Scenario, ids: dict[str, Any]) -> None:
    """What happens after the period: none of it may change March's report."""
    later = AFTER + 5 * S
    with sc.system.db.transaction() as s:
        # Case 8's last removal is delivered, a pending statement goes out.
        s.execute(update(ActionRow).where(ActionRow.id == ids["pending_removal"])
                  .values(status="delivered", delivered_at=later))
        s.execute(update(StatementRow).where(StatementRow.status == "pending")
                  .values(status="delivered", delivered_at=later))
    nine = ids["ncii"][9]
    seq = sc.decided(nine, later)
    sc.removal(nine, seq, 1, later, later + S)
    with sc.system.db.transaction() as s:
        request = s.scalars(select(ReportRow.id).where(ReportRow.case_id == nine)).one()
    sc.event(nine, later + S, EventType.TAKE_IT_DOWN_MET, {
        "report_id": request, "received_at": opened_at(9).isoformat(),
        "removed_at": (later + S).isoformat(), "within_s": 43206, "met": True})
    sc.event(ids["ncii"][3], later + H, EventType.APPEAL_DECIDED, {
        "appeal_id": ids["late_appeal"], "outcome": "upheld",
        "appealed_at": datetime(2025, 3, 20, tzinfo=UTC).isoformat()})
    sc.event(ids["old"], later + 2 * H, EventType.ESCALATED, {"step": 2})
    new = sc.open(later + 3 * H)
    sc.reported(new, later + 3 * H)
    sc.action(new, "restrict", f"restrict:case:{new}:event:1:x", later + 3 * H,
              later + 4 * H)
    sc.action(ids["csam"], "remove", "remove:screening:content:999", later, later + S)


def march(system: Takedown) -> Callable[[], Any]:
    def run() -> Any:
        with system.db.transaction() as s:
            return compute(s, system.policy, MARCH)
    return run


def test_a_replayed_scenario_gives_the_figures_worked_out_by_hand(
        system: Takedown, keys: Keys, clock: Clock) -> None:
    sc = Scenario(system, clock)
    ids = replay_march(sc)
    report_now = march(system)()
    figures = json.loads(to_json(report_now))

    ncii = figures["categories"][NCII]
    assert ncii["cases_opened"] == 10
    # Hidden, 10 cases; sorted: 30 45 60 90 120 150 200 300 600 3600 (seconds).
    # Nearest rank: p50 = 5th = 120, p90 = 9th = 600, p99 = 10th = 3600.
    assert ncii["time_to_hidden_s"] == {"p50": 120, "p90": 600, "p99": 3600, "max": 3600}
    # Decision, 9 cases (case 9 undecided in March); sorted: 600 900 1200 1800 2400
    # 3600 4000 5400 7200. p50 = ceil(4.5) = 5th = 2400; p90 = ceil(8.1) = 9th = 7200.
    assert ncii["time_to_decision_s"] == {"p50": 2400, "p90": 7200, "p99": 7200,
                                          "max": 7200}
    # Last removal, 8 cases (case 8's last removal is not delivered in March; case 9 is
    # undecided); sorted: 630 1290 1500 1920 2460 4600 5600 10200. p50 = 4th = 1920;
    # p90 = ceil(7.2) = 8th = 10200. The first removal of each (decision + 10 s) is not
    # the one measured: the last is.
    assert ncii["time_to_removal_s"] == {"p50": 1920, "p90": 10200, "p99": 10200,
                                         "max": 10200}
    assert ncii["counted"] == {"time_to_hidden_s": 10, "time_to_decision_s": 9,
                               "time_to_removal_s": 8}
    assert ncii["pending"] == {"time_to_hidden_s": 0, "time_to_decision_s": 1,
                               "time_to_removal_s": 2}
    # The hash-matched child-abuse case: removed by the bank 5 s after the match, decided
    # after 1800 s; its decision had nothing left to remove.
    csam = figures["categories"][CSAM]
    assert csam["cases_opened"] == 1
    assert csam["time_to_hidden_s"] == {"p50": 5, "p90": 5, "p99": 5, "max": 5}
    assert csam["time_to_decision_s"]["max"] == 1800
    assert csam["time_to_removal_s"] == {"p50": None, "p90": None, "p99": None, "max": None}
    assert csam["counted"]["time_to_removal_s"] == csam["pending"]["time_to_removal_s"] == 0
    assert figures["categories"]["other_illegal"]["cases_opened"] == 0  # opened in Feb

    reports = figures["reports"]
    assert reports["total"] == 11  # ten cases, one reported twice; February's not
    assert reports["by_category"] == {CSAM: 0, NCII: 11, "other_illegal": 0,
                                      "terms_violation": 0}
    assert reports["by_relation"] == {"depicted_person": 7, "parent_guardian": 1,
                                      "law_enforcement": 1, "trusted_flagger": 1,
                                      "other_user": 1}
    assert reports["by_source"] == {"notice": 9, "trusted_flagger": 1,
                                    "law_enforcement": 1, "hash_match": 1}
    assert reports["hash_matches"] == 1 and reports["hash_matches_by_category"][CSAM] == 1

    assert figures["cases"] == {"opened": 11, "opened_by_category": {
        CSAM: 1, NCII: 10, "other_illegal": 0, "terms_violation": 0},
        "with_hash_match": 1, "hash_match_share": round(1 / 11, 4)}
    decisions = figures["decisions"]
    assert decisions["total"] == 11  # nine NCII, the child-abuse case, February's case
    assert decisions["by_outcome"] == {"violation": 10, "no_violation": 1}
    assert decisions["by_category"][NCII] == {"violation": 9, "no_violation": 0}
    assert decisions["by_category"]["other_illegal"] == {"violation": 0, "no_violation": 1}
    assert decisions["appeal_reversals"] == 1 and decisions["set_aside"] == 0

    assert figures["escalations"] == {
        "total": 2, "deadline_misses": 1, "by_reviewer": 1, "cases_past_deadline": 1,
        "deadline_misses_by_category": {CSAM: 0, NCII: 0, "other_illegal": 1,
                                        "terms_violation": 0}}
    assert figures["reuploads_blocked"] == 2
    # Submitted twice in the log (by the specialist, then NCMEC's id): one report.
    # Accepted 4000 - 1800 = 2200 s after the decision.
    assert figures["cybertipline"] == {"submitted": 1, "accepted": 1,
                                       "decision_to_acceptance_s": {
                                           "p50": 2200, "p90": 2200, "p99": 2200,
                                           "max": 2200}}
    # Four valid requests (case 3's lacks a signature): met 1 (case 0), missed 2 (case
    # 1 met late, case 2 never), open 1 (case 9, received on the 31st at noon).
    # Removal times [1920, 200000]: p50 = 1st, p90 = ceil(1.8) = 2nd.
    assert figures["take_it_down"] == {
        "requests": 4, "met_within_48h": 1, "missed": 2, "open": 1, "escalations": 1,
        "request_to_removal_s": {"p50": 1920, "p90": 200000, "p99": 200000,
                                 "max": 200000}}
    # Appeal times 72 h, 24 h, 2 h: the median (nearest rank, 2nd of 3) is 24 h.
    assert figures["appeals"] == {
        "lodged": 4, "by_appellant": {"uploader": 3, "reporter": 1}, "decided": 3,
        "by_outcome": {"upheld": 1, "reversed": 1, "refused": 1}, "reversals": 1,
        "median_appeal_time_s": 86400,
        "appeal_time_s": {"p50": 86400, "p90": 259200, "p99": 259200, "max": 259200}}
    # Four statements made in March (two sent in March), and February's one sent in
    # March.
    assert figures["statements"] == {"issued": 4, "issued_by_kind": {"restrict": 4,
                                                                     "remove": 0},
                                     "sent_to_transparency_database": 3}

    # Then April happens: March's report is the same, in every format.
    before = (to_json(report_now), to_csv(report_now), to_html(report_now))
    replay_april(sc, ids)
    again = march(system)()
    assert (to_json(again), to_csv(again), to_html(again)) == before
    # ... while April's sees what happened in it.
    with system.db.transaction() as s:
        april = compute(s, system.policy, Period(date(2025, 4, 1), date(2025, 4, 30)))
    assert april.cases.opened == 1 and april.reuploads_blocked == 1
    assert april.appeals.decided == 1 and april.take_it_down.requests == 0


def test_the_csv_has_one_row_per_figure(system: Takedown, keys: Keys, clock: Clock) -> None:
    replay_march(Scenario(system, clock))
    rows = list(csv.DictReader(io.StringIO(to_csv(march(system)()))))
    assert set(rows[0]) == {"section", "category", "name", "value"}
    found = {(r["section"], r["category"], r["name"]): r["value"] for r in rows}
    assert found[("categories", NCII, "time_to_hidden_s.p50")] == "120.0"
    assert found[("categories", NCII, "time_to_removal_s.p90")] == "10200.0"
    assert found[("categories", CSAM, "time_to_removal_s.max")] == ""  # none measured
    assert found[("reports", NCII, "by_category")] == "11"
    assert found[("reports", "", "by_source.hash_match")] == "1"
    assert found[("take_it_down", "", "met_within_48h")] == "1"
    assert found[("period", "", "end_exclusive")] == "true"
    assert len(found) == len(rows)  # no figure twice


def test_the_html_report_stands_alone_with_its_charts(
        system: Takedown, keys: Keys, clock: Clock) -> None:
    replay_march(Scenario(system, clock))
    page = to_html(march(system)())
    assert page.count('src="data:image/svg+xml;base64,') == 3
    assert "default-src 'none'" in page  # it loads nothing
    assert "<script" not in page
    assert "2025-03-01" in page and "2025-03-31" in page
    # Nothing about a person: no reporter's address or signature, no account.
    assert "example.org" not in page and "Person 0" not in page


def test_the_times_of_a_real_case_come_from_what_was_stored(
        client: TestClient, keys: Keys, system: Takedown) -> None:
    """Through the API: a TAKE IT DOWN request restricts the picture at once; a
    moderator confirms it; the platform acknowledges both. The report's times are the
    stored times' differences (dedupe keys of the decision's removals as Enforcement
    writes them)."""
    register(client, keys.api, "intimate", seed=71)
    register(client, keys.api, "repost", repost_of="intimate")
    report(client, content_ids=["intimate"], category=NCII, relation="depicted_person",
           contact_email="me@example.org", signature="Jane Q. Doe",
           good_faith_statement=True)
    deliver_all(system)
    case_id = client.get("/v1/cases", headers=keys.bearer("moderator")).json()[0]["id"]
    decided = client.post(f"/v1/cases/{case_id}/decisions", headers=keys.bearer("moderator"),
                          json={"outcome": "violation", "notes": "confirmed"})
    assert decided.status_code == 200, decided.text
    deliver_all(system)

    today = utcnow().date()
    days = (today - timedelta(days=1), today + timedelta(days=1))
    figures = system.transparency_report(*days).as_dict()
    with system.db.transaction() as s:
        events: dict[str, datetime] = {}
        for kind, at in s.execute(select(CaseEventRow.type, CaseEventRow.at).where(
                CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq)):
            events.setdefault(kind, at)
        actions = s.execute(select(ActionRow.kind, ActionRow.delivered_at).where(
            ActionRow.case_id == case_id, ActionRow.target_type == "content")).all()
    first = events["reported"]
    assert all(at is not None for _, at in actions)  # every action acknowledged
    hidden = min(at for kind, at in actions if kind in ("restrict", "remove") and at)
    removed = max(at for kind, at in actions if kind == "remove" and at)
    assert len([k for k, _ in actions if k == "remove"]) == 2  # the post and its repost

    def secs(since: datetime, until: datetime) -> float:
        return round((until - since).total_seconds(), 3)

    ncii = figures["categories"][NCII]
    assert ncii["cases_opened"] == 1
    assert ncii["time_to_hidden_s"]["max"] == secs(first, hidden)
    assert ncii["time_to_decision_s"]["p50"] == secs(first, events["decided"])
    assert ncii["time_to_removal_s"]["p99"] == secs(first, removed)
    assert ncii["counted"] == {"time_to_hidden_s": 1, "time_to_decision_s": 1,
                               "time_to_removal_s": 1}
    assert figures["reports"]["by_relation"]["depicted_person"] == 1
    assert figures["take_it_down"]["requests"] == 1
    assert figures["take_it_down"]["open"] + figures["take_it_down"]["met_within_48h"] == 1
    assert figures["decisions"]["by_outcome"]["violation"] == 1
