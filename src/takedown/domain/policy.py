"""The operator's policy: severities, credibility weights, deadlines and actions.

The policy is data (a TOML file the operator edits); this module turns the parsed
mapping into typed, validated rules and rejects a file that would silently do the
wrong thing (an unknown category, a negative weight, a missing deadline).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from takedown.domain.vocabulary import ActionKind, Category, Relation


class PolicyError(ValueError):
    """The policy file is not usable; the message names the offending key."""


@dataclass(frozen=True)
class CategoryPolicy:
    severity: float
    # Hide the content at once, pending review, when one of these reports it.
    restrict_first: bool
    restrict_first_relations: frozenset[Relation]
    # A dismissal needs a second person with the child-safety role to confirm.
    two_person_dismissal: bool
    # Only child-safety specialists (and admins) may see and decide these cases.
    specialist_only: bool
    # Account action on a violation, applied to the accounts that uploaded the media.
    account_action: ActionKind | None
    # Statement of the rule a violation breaks, shown to the platform and reviewers.
    policy_reference: str


@dataclass(frozen=True)
class DeadlineRule:
    name: str
    categories: frozenset[Category]
    relations: frozenset[Relation] | None  # None: any relation
    within: timedelta

    def applies(self, category: Category, relation: Relation) -> bool:
        if category not in self.categories:
            return False
        return self.relations is None or relation in self.relations


@dataclass(frozen=True)
class Credibility:
    relation_weight: Mapping[Relation, float]
    case_number_bonus: float
    minor_bonus: float
    hash_match_bonus: float
    per_additional_reporter: float
    per_additional_report: float


@dataclass(frozen=True)
class ReachWeights:
    views: float
    shares: float
    growth: float


@dataclass(frozen=True)
class Escalation:
    """A case past its deadline escalates at once, then again every `interval` until
    someone decides; each step multiplies its priority by (1 + boost x steps)."""

    interval: timedelta
    priority_boost: float
    claim: timedelta  # how long a reviewer's claim on a case lasts


@dataclass(frozen=True)
class LegalPolicy:
    """What follows a confirmed child-abuse case (see takedown.legal)."""

    # A specialist checks and submits the CyberTipline draft within this of the decision.
    cybertipline_deadline: timedelta = timedelta(hours=24)
    # How long a draft waits for the platform's account details (preserve_account).
    account_details_wait: timedelta = timedelta(hours=2)
    # Evidence is kept this long after the CyberTipline submission (18 U.S.C. 2258A(h)).
    evidence_retention: timedelta = timedelta(days=365)
    # Views past which a file is annotated `viral` in the report.
    viral_views: int = 10_000
    # Drafts whose every confirmed file matched one of these banks (known material) go to
    # NCMEC without waiting for a specialist.
    auto_submit_banks: frozenset[str] = frozenset()


# Every EEA state the DSA applies in, as the Transparency Database spells them.
EEA = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
       "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE",
       "SI", "SK")


@dataclass(frozen=True)
class StatementGround:
    """How a statement of reasons (DSA Art. 17) names one category's decisions."""

    # The Transparency Database's category and specification keywords.
    dsa_category: str
    keywords: tuple[str, ...]
    # Illegal content: the law it breaks. None: incompatible with the terms of service,
    # under the category's `policy_reference` clause.
    legal_ground: str | None
    # Where the law or the terms can be read (decision_ground_reference_url).
    reference_url: str | None = None


_DEFAULT_GROUNDS = {
    Category.CHILD_SEXUAL_ABUSE: StatementGround(
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", ("KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",),
        "Directive 2011/93/EU, Art. 5 (child sexual abuse material); 18 U.S.C. 2252A"),
    Category.NON_CONSENSUAL_INTIMATE_IMAGERY: StatementGround(
        "STATEMENT_CATEGORY_CYBER_VIOLENCE", ("KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",),
        "Directive (EU) 2024/1385, Art. 5 (non-consensual sharing of intimate material); "
        "47 U.S.C. 223a (TAKE IT DOWN Act)"),
    Category.OTHER_ILLEGAL: StatementGround(
        "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", ("KEYWORD_VIOLATION_NATIONAL_LAW",),
        "National law of the Member State concerned"),
    Category.TERMS_VIOLATION: StatementGround(
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", ("KEYWORD_OTHER",), None),
}


@dataclass(frozen=True)
class DsaPolicy:
    """Statements of reasons, appeals (DSA Art. 17, 20, 23) and the TAKE IT DOWN Act's
    escalations (see docs/legal.md)."""

    grounds: Mapping[Category, StatementGround] = field(
        default_factory=lambda: dict(_DEFAULT_GROUNDS))
    territorial_scope: tuple[str, ...] = EEA
    # How long after a decision the uploader or a reporter may appeal (Art. 20: at
    # least six months).
    appeal_window: timedelta = timedelta(days=183)
    # Art. 23: after this many appeals refused as manifestly unfounded within
    # `unfounded_period`, an appellant's new appeals are not taken for `suspension`.
    unfounded_limit: int = 3
    unfounded_period: timedelta = timedelta(days=180)
    suspension: timedelta = timedelta(days=30)
    # A valid TAKE IT DOWN request whose depiction is not yet removed escalates this
    # long after it was received (before its 48 hours run out).
    take_it_down_escalate_at: tuple[timedelta, ...] = (timedelta(hours=24),
                                                       timedelta(hours=40))


@dataclass(frozen=True)
class Policy:
    # Reasons a reviewer chooses from, per outcome (violation, no_violation, ...).
    reasons: Mapping[str, tuple[str, ...]]
    categories: Mapping[Category, CategoryPolicy]
    deadline_rules: tuple[DeadlineRule, ...]
    default_deadline: timedelta
    credibility: Credibility
    reach: ReachWeights
    escalation: Escalation
    legal: LegalPolicy = LegalPolicy()
    dsa: DsaPolicy = DsaPolicy()

    def for_category(self, category: Category) -> CategoryPolicy:
        return self.categories[category]

    def deadline_for(self, category: Category, relation: Relation) -> tuple[str, timedelta]:
        """The shortest applicable deadline rule for one report."""
        matching = [r for r in self.deadline_rules if r.applies(category, relation)]
        if not matching:
            return ("default", self.default_deadline)
        best = min(matching, key=lambda r: r.within)
        return (best.name, best.within)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, where: str) -> timedelta:
    match = _DURATION.match(str(text))
    if not match:
        raise PolicyError(f"{where}: {text!r} is not a duration like '30m', '1h' or '2d'")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _enum_set(values: Any, enum: type[Category] | type[Relation], where: str) -> frozenset[Any]:
    if not isinstance(values, list):
        raise PolicyError(f"{where}: expected a list")
    try:
        return frozenset(enum(v) for v in values)
    except ValueError as exc:
        raise PolicyError(f"{where}: {exc}") from None


def _number(table: Mapping[str, Any], key: str, where: str) -> float:
    value = table.get(key)
    if not isinstance(value, int | float) or value < 0:
        raise PolicyError(f"{where}.{key}: expected a non-negative number, got {value!r}")
    return float(value)


def _category(name: str, table: Mapping[str, Any]) -> CategoryPolicy:
    where = f"categories.{name}"
    action = table.get("account_action")
    if action not in (None, "none", ActionKind.SUSPEND.value):
        raise PolicyError(f"{where}.account_action: only 'suspend' or 'none' are known")
    severity = _number(table, "severity", where)
    if severity <= 0:
        raise PolicyError(f"{where}.severity: must be above zero")
    return CategoryPolicy(
        severity=severity,
        restrict_first=bool(table.get("restrict_first", False)),
        restrict_first_relations=_enum_set(
            table.get("restrict_first_relations", []), Relation, f"{where}.restrict_first_relations"
        ),
        two_person_dismissal=bool(table.get("two_person_dismissal", False)),
        specialist_only=bool(table.get("specialist_only", False)),
        account_action=ActionKind.SUSPEND if action == ActionKind.SUSPEND.value else None,
        policy_reference=str(table.get("policy_reference", name)),
    )


def _deadline_rule(index: int, table: Mapping[str, Any]) -> DeadlineRule:
    where = f"deadline_rules[{index}]"
    relations = table.get("relations")
    return DeadlineRule(
        name=str(table.get("name", where)),
        categories=_enum_set(table.get("categories"), Category, f"{where}.categories"),
        relations=None if relations is None
        else _enum_set(relations, Relation, f"{where}.relations"),
        within=parse_duration(table.get("within", ""), f"{where}.within"),
    )


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """Validate a parsed policy file. Every category must be configured."""
    raw_categories = data.get("categories", {})
    unknown = set(raw_categories) - {c.value for c in Category}
    if unknown:
        raise PolicyError(f"categories: unknown {sorted(unknown)}")
    missing = {c.value for c in Category} - set(raw_categories)
    if missing:
        raise PolicyError(f"categories: missing {sorted(missing)}")
    categories = {Category(k): _category(k, v) for k, v in raw_categories.items()}

    cred = data.get("credibility", {})
    weights = cred.get("relation_weight", {})
    missing_rel = {r.value for r in Relation} - set(weights)
    if missing_rel:
        raise PolicyError(f"credibility.relation_weight: missing {sorted(missing_rel)}")
    credibility = Credibility(
        relation_weight={
            Relation(k): _number(weights, k, "credibility.relation_weight") for k in weights
        },
        case_number_bonus=_number(cred, "case_number_bonus", "credibility"),
        minor_bonus=_number(cred, "minor_bonus", "credibility"),
        hash_match_bonus=_number(cred, "hash_match_bonus", "credibility"),
        per_additional_reporter=_number(cred, "per_additional_reporter", "credibility"),
        per_additional_report=_number(cred, "per_additional_report", "credibility"),
    )
    if credibility.per_additional_report <= 0:
        raise PolicyError("credibility.per_additional_report: must be above zero, "
                          "or a repeated report would not raise a case's priority")
    reach = data.get("reach", {})
    escalation = data.get("escalation", {})
    raw_reasons = data.get("reasons", {})
    wanted = ("violation", "no_violation", "escalate", "request_information")
    missing_reasons = [k for k in wanted if not raw_reasons.get(k)]
    if missing_reasons:
        raise PolicyError(f"reasons: each outcome needs a list of reasons; missing "
                          f"{missing_reasons}")
    return Policy(
        reasons={k: tuple(str(r) for r in raw_reasons[k]) for k in wanted},
        categories=categories,
        deadline_rules=tuple(
            _deadline_rule(i, r) for i, r in enumerate(data.get("deadline_rules", []))
        ),
        default_deadline=parse_duration(data.get("default_deadline", ""), "default_deadline"),
        credibility=credibility,
        reach=ReachWeights(
            views=_number(reach, "views", "reach"),
            shares=_number(reach, "shares", "reach"),
            growth=_number(reach, "growth", "reach"),
        ),
        escalation=Escalation(
            interval=parse_duration(escalation.get("interval", ""), "escalation.interval"),
            priority_boost=_number(escalation, "priority_boost", "escalation"),
            claim=parse_duration(escalation.get("claim", ""), "escalation.claim"),
        ),
        legal=_legal(data.get("legal", {})),
        dsa=_dsa(data.get("dsa", {})),
    )


def _legal(table: Mapping[str, Any]) -> LegalPolicy:
    """The [legal] table; every key is optional (older policy files have none)."""
    default = LegalPolicy()

    def duration(key: str, fallback: timedelta) -> timedelta:
        return parse_duration(table[key], f"legal.{key}") if key in table else fallback

    banks = table.get("auto_submit_banks", [])
    if not isinstance(banks, list) or not all(isinstance(b, str) for b in banks):
        raise PolicyError("legal.auto_submit_banks: a list of bank names")
    views = table.get("viral_views", default.viral_views)
    if not isinstance(views, int) or views < 1:
        raise PolicyError("legal.viral_views: a whole number above zero")
    return LegalPolicy(
        cybertipline_deadline=duration("cybertipline_deadline", default.cybertipline_deadline),
        account_details_wait=duration("account_details_wait", default.account_details_wait),
        evidence_retention=duration("evidence_retention", default.evidence_retention),
        viral_views=views, auto_submit_banks=frozenset(banks))


def _dsa(table: Mapping[str, Any]) -> DsaPolicy:
    """The [dsa] table; every key is optional (older policy files have none)."""
    default = DsaPolicy()

    def duration(key: str, fallback: timedelta) -> timedelta:
        return parse_duration(table[key], f"dsa.{key}") if key in table else fallback

    scope = table.get("territorial_scope", list(default.territorial_scope))
    if not isinstance(scope, list) or any(s not in EEA for s in scope):
        raise PolicyError("dsa.territorial_scope: a list of EEA country codes, e.g. "
                          "[\"DE\", \"FR\"]")
    grounds = dict(default.grounds)
    raw = table.get("grounds", {})
    unknown = set(raw) - {c.value for c in Category}
    if unknown:
        raise PolicyError(f"dsa.grounds: unknown categories {sorted(unknown)}")
    for name, entry in raw.items():
        base = grounds[Category(name)]
        grounds[Category(name)] = StatementGround(
            str(entry.get("dsa_category", base.dsa_category)),
            tuple(entry.get("keywords", base.keywords)),
            entry.get("legal_ground", base.legal_ground) or None,
            entry.get("reference_url", base.reference_url) or None)
    steps = table.get("take_it_down_escalate_at")
    limit = table.get("unfounded_limit", default.unfounded_limit)
    if not isinstance(limit, int) or limit < 1:
        raise PolicyError("dsa.unfounded_limit: a whole number above zero")
    window = duration("appeal_window", default.appeal_window)
    if window < timedelta(days=182):
        raise PolicyError("dsa.appeal_window: at least six months (DSA Art. 20(1))")
    return DsaPolicy(
        grounds=grounds, territorial_scope=tuple(scope), appeal_window=window,
        unfounded_limit=limit,
        unfounded_period=duration("unfounded_period", default.unfounded_period),
        suspension=duration("suspension", default.suspension),
        take_it_down_escalate_at=default.take_it_down_escalate_at if steps is None else
        tuple(sorted(parse_duration(s, "dsa.take_it_down_escalate_at") for s in steps)))
