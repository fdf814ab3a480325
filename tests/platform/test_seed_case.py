"""The case in DEVELOPERS.md, end to end over real HTTP: reports, webhooks, the demo
platform. This is `takedown demo` at full size."""

from typing import Any

import pytest

from takedown.platform.demo.scenario import ScenarioConfig, apportion, run_seed_case
from takedown.system import Takedown


@pytest.fixture
def seed_result(system: Takedown) -> dict[str, Any]:
    """Run on the test's (empty, migrated) database with in-process workers on."""
    lines: list[str] = []
    settings = system.settings.with_(inprocess_workers=2)
    result = run_seed_case(settings, ScenarioConfig(), lines.append)
    result["timeline"] = lines
    return result


def test_the_seed_case_is_stopped(seed_result: dict[str, Any]) -> None:
    r = seed_result
    assert r["copies_total"] == 1 + 6 + 6 + 2223 + 40  # original, exact, altered, reposts, quotes
    assert r["copies_left_visible"] == 0
    assert r["copies_removed"] == r["copies_total"]
    assert r["views_after_first_report"] == 0
    assert r["views_before_first_report"] > 0
    assert r["benign_removed"] == 0
    assert r["altered_reuploads_removed"] == 6  # re-encoded, resized, cropped, watermarked,
    # mirrored and greyscaled copies, found perceptually
    assert r["reupload_attempts_blocked"] == r["reupload_attempts"] == 8
    assert r["top_of_queue"] is True
    priorities = r["priorities"]
    assert isinstance(priorities, list) and priorities == sorted(set(priorities))
    assert 0 < float(r["first_report_to_hidden_s"]) < 60
    assert 0 < float(r["decision_to_last_removal_s"]) < 60
    assert r["accounts_suspended"] == 13  # the original uploader and twelve re-uploaders
    assert any("violation" in line for line in r["timeline"])


def test_apportion_keeps_every_view() -> None:
    shares = apportion(173.4, {"a": 400, "b": 1, "c": 1, "d": 1})
    assert sum(shares.values()) == 173 and shares["a"] > 160
    assert apportion(2, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 1, "c": 0}
