"""`takedown transparency`, run as an operator would, on both databases: the replayed
scenario of tests/legal/test_transparency.py as JSON (standard output), CSV and HTML
(files), each the same as the report computed in-process; and what it says to a wrong
period, day or format."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from takedown.legal.transparency import compute, to_csv, to_html, to_json
from takedown.system import Takedown
from tests.conftest import Keys
from tests.legal.test_transparency import MARCH, NCII, Clock, Scenario, replay_march
from tests.test_cli import takedown

PERIOD = ("--from", "2025-03-01", "--to", "2025-03-31")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {**os.environ, "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
            "TAKEDOWN_DATABASE_URL": database_url}


@pytest.fixture
def replayed(system: Takedown, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> Takedown:
    clock = Clock()
    monkeypatch.setattr("takedown.cases.casebook.utcnow", clock)
    replay_march(Scenario(system, clock))
    return system


def in_process(system: Takedown) -> tuple[str, str, str]:
    with system.db.transaction() as s:
        report = compute(s, system.policy, MARCH)
    return to_json(report), to_csv(report), to_html(report)


def test_json_csv_and_html(replayed: Takedown, env: dict[str, str], tmp_path: Path) -> None:
    as_json, as_csv, as_html = in_process(replayed)
    done = takedown("transparency", *PERIOD, env=env)  # JSON to standard output
    assert done.returncode == 0, done.stderr
    assert done.stdout == as_json
    figures = json.loads(done.stdout)
    assert figures["period"]["from"] == "2025-03-01" and figures["period"]["to"] == "2025-03-31"
    assert figures["categories"][NCII]["time_to_hidden_s"] == {
        "p50": 120, "p90": 600, "p99": 3600, "max": 3600}

    out = tmp_path / "march.csv"
    done = takedown("transparency", *PERIOD, "--format", "csv", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    assert out.read_text(encoding="utf-8") == as_csv
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert {"section": "categories", "category": NCII, "name": "time_to_decision_s.p50",
            "value": "2400.0"} in rows

    page = tmp_path / "march.html"
    done = takedown("transparency", *PERIOD, "--format", "html", "--out", str(page), env=env)
    assert done.returncode == 0, done.stderr
    assert page.read_text(encoding="utf-8") == as_html
    assert as_html.count("data:image/svg+xml;base64,") == 3


def test_a_wrong_period_day_or_format_is_refused(system: Takedown,
                                                 env: dict[str, str]) -> None:
    backwards = takedown("transparency", "--from", "2025-03-31", "--to", "2025-03-01",
                         env=env)
    assert backwards.returncode == 1 and "before it starts" in backwards.stdout
    not_a_day = takedown("transparency", "--from", "March", "--to", "2025-03-01", env=env)
    assert not_a_day.returncode == 2 and "YYYY-MM-DD" in not_a_day.stderr
    no_such = takedown("transparency", *PERIOD, "--format", "pdf", env=env)
    assert no_such.returncode == 2 and "json, csv, html" in no_such.stderr
