import re
import tomllib
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest

from takedown.config import load_policy
from takedown.domain.policy import PolicyError, parse_duration, policy_from_mapping
from takedown.domain.vocabulary import ActionKind, Category, Relation


def shipped() -> dict[str, Any]:
    text = resources.files("takedown").joinpath("policy.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_shipped_policy_loads_with_the_expected_rules() -> None:
    policy = load_policy(None)
    csam = policy.for_category(Category.CHILD_SEXUAL_ABUSE)
    assert csam.restrict_first and csam.two_person_dismissal and csam.specialist_only
    assert csam.account_action is ActionKind.SUSPEND
    assert Relation.DEPICTED_PERSON in csam.restrict_first_relations
    assert Relation.OTHER_USER not in csam.restrict_first_relations
    assert policy.deadline_for(Category.CHILD_SEXUAL_ABUSE, Relation.PARENT_GUARDIAN)[1] == \
        timedelta(hours=1)
    assert policy.deadline_for(Category.CHILD_SEXUAL_ABUSE, Relation.OTHER_USER)[1] == \
        timedelta(hours=4)
    rule, within = policy.deadline_for(Category.NON_CONSENSUAL_INTIMATE_IMAGERY,
                                       Relation.DEPICTED_PERSON)
    assert within == timedelta(hours=48) and "TAKE IT DOWN" in rule
    assert policy.deadline_for(Category.TERMS_VIOLATION, Relation.OTHER_USER) == \
        ("default", timedelta(hours=72))


def test_operator_policy_file_is_read(tmp_path: Any) -> None:
    text = resources.files("takedown").joinpath("policy.toml").read_text("utf-8")
    path = tmp_path / "policy.toml"
    path.write_text(text.replace('within = "1h"', 'within = "15m"'))
    policy = load_policy(path)
    assert policy.deadline_for(Category.CHILD_SEXUAL_ABUSE, Relation.LAW_ENFORCEMENT)[1] == \
        timedelta(minutes=15)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["categories"].pop("terms_violation"), "missing ['terms_violation']"),
    (lambda d: d["categories"].update(spam={}), "unknown ['spam']"),
    (lambda d: d["categories"]["child_sexual_abuse"].update(severity=-1), "severity"),
    (lambda d: d["categories"]["child_sexual_abuse"].update(account_action="ban"),
     "account_action"),
    (lambda d: d["credibility"]["relation_weight"].pop("other_user"), "relation_weight"),
    (lambda d: d["credibility"].update(per_additional_report=0), "per_additional_report"),
    (lambda d: d["deadline_rules"][0].update(within="soon"), "deadline_rules[0].within"),
    (lambda d: d["deadline_rules"][0].update(relations=["neighbour"]), "deadline_rules[0]"),
    (lambda d: d["escalation"].update(interval="often"), "escalation.interval"),
])
def test_a_bad_policy_is_refused_naming_the_key(mutate: Any, message: str) -> None:
    data = shipped()
    mutate(data)
    with pytest.raises(PolicyError, match=re.escape(message)):
        policy_from_mapping(data)


def test_bad_toml_names_the_file(tmp_path: Any) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("categories = [")
    with pytest.raises(PolicyError, match=r"broken\.toml"):
        load_policy(path)


def test_durations() -> None:
    assert parse_duration("90s", "x") == timedelta(seconds=90)
    assert parse_duration("2d", "x") == timedelta(days=2)
    with pytest.raises(PolicyError):
        parse_duration("1 week", "x")
