"""The transparency report: what happened to reports, cases, decisions, appeals and
statements of reasons over a period, from the event log (DSA Art. 15 and 24, the TAKE IT
DOWN Act, NCMEC's numbers). `compute` reads; `to_json`, `to_csv` and `to_html` write.

The period is whole UTC days, both named days included: `--from 2026-01-01 --to
2026-01-31` is January, the instants [2026-01-01T00:00Z, 2026-02-01T00:00Z). Every
figure is computed only from what carries a time before the period's end (case events,
actions' `delivered_at` and `created_at`, reports' and statements' `created_at`,
statements' `delivered_at`) and never from projections that change later (`cases.status`
and the like): whatever is recorded after the end cannot change a report, so a report
for a past period is the same whenever it is run.

Times are measured per case opened in the period (its first event in the period), from
its first report (its first `reported` event, or its first `hash_matched` one if it has
no report) to:

* hidden: the earliest `delivered_at` of a restrict or remove action of the case;
* decision: its first `decided` event;
* removal: the last `delivered_at` of the remove actions its first decision requested
  (a violation), once every one of them is delivered; until then it is not removed.

A time is never negative: content hidden before anyone reported it (by a hash match)
counts as hidden at 0 s. A case without the time by the period's end is left out of the
figure; it is `pending` if the time may still come (not hidden and not dismissed; not
decided; decided a violation whose removals are not all delivered), otherwise the figure
does not apply to it (dismissed, or a violation that needed no removal).

Percentiles are by the nearest-rank method (see `percentiles`); they are always one of
the measured values, never an interpolation.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.domain.case import CaseEvent, EventType, fold
from takedown.domain.policy import Policy
from takedown.domain.takeitdown import CLOCK, assess
from takedown.domain.vocabulary import ActionKind, CaseStatus, Category, Outcome, Relation
from takedown.store.batches import chunks
from takedown.store.tables import ActionRow, CaseEventRow, ReportRow, StatementRow

PERCENTILE_METHOD = "nearest-rank"
UNCATEGORISED = "uncategorised"  # a case opened by a hash match that named no category
# Where reports come from. A notice (DSA Art. 16) is a person's report: the depicted
# person, a parent or guardian, any other user. A hash match is the platform's own
# initiative (automated detection).
SOURCES = ("notice", "trusted_flagger", "law_enforcement", "hash_match")
SOURCE_OF = {Relation.DEPICTED_PERSON.value: "notice", Relation.PARENT_GUARDIAN.value: "notice",
             Relation.OTHER_USER.value: "notice",
             Relation.TRUSTED_FLAGGER.value: "trusted_flagger",
             Relation.LAW_ENFORCEMENT.value: "law_enforcement"}
APPELLANTS = ("uploader", "reporter")
APPEAL_OUTCOMES = ("upheld", "reversed", "refused")
DECISION_OUTCOMES = (Outcome.VIOLATION.value, Outcome.NO_VIOLATION.value)
TIMES = ("time_to_hidden_s", "time_to_decision_s", "time_to_removal_s")
SCREENING_REMOVAL = "remove:screening:"  # the dedupe key of an upload blocked at screening
MAX_DAYS = 3660  # a report covers at most about ten years


# --- the period and the percentile method ------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole UTC days, `first_day` to `last_day`, both included."""

    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"the period ends ({self.last_day}) before it starts "
                             f"({self.first_day})")
        if (self.last_day - self.first_day).days >= MAX_DAYS:
            raise ValueError(f"a period of at most {MAX_DAYS} days")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), UTC)

    def holds(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat(),
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "end_exclusive": True, "percentile_method": PERCENTILE_METHOD}


@dataclass(frozen=True)
class Percentiles:
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None


def percentiles(values: Iterable[float]) -> Percentiles:
    """Nearest rank. With the n values sorted ascending, x[1] <= ... <= x[n], the p-th
    percentile is x[k] for k = ceil(p * n / 100) (and k = 1 at least); `max` is x[n].
    E.g. for 10 values, p50 is the 5th smallest, p90 the 9th and p99 the 10th. No values:
    every figure is None."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return Percentiles()

    def rank(p: int) -> float:
        return ordered[max(1, -(-p * n // 100)) - 1]  # ceil(p * n / 100), in integers

    return Percentiles(rank(50), rank(90), rank(99), ordered[-1])


def seconds(since: datetime, until: datetime) -> float:
    """Seconds from one instant to another, to the millisecond; never below 0."""
    return max(0.0, round((until - since).total_seconds(), 3))


# --- the figures ------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFigures:
    """`reported` events in the period (one per report a case took in) and
    `hash_matched` ones. `by_source` counts both, so it sums to total + hash_matches."""

    total: int
    by_category: dict[str, int]
    by_relation: dict[str, int]
    by_source: dict[str, int]
    hash_matches: int
    hash_matches_by_category: dict[str, int]


@dataclass(frozen=True)
class CaseFigures:
    """Cases whose first event is in the period."""

    opened: int
    opened_by_category: dict[str, int]
    with_hash_match: int
    hash_match_share: float | None  # with_hash_match / opened


@dataclass(frozen=True)
class DecisionFigures:
    """`decided` events in the period. A decision taken on appeal (a reversal, with an
    `appeal_id`) is counted in `appeal_reversals` only."""

    total: int
    by_outcome: dict[str, int]
    by_category: dict[str, dict[str, int]]
    set_aside: int  # dismissed because every report was invalidated (abusive reporter)
    appeal_reversals: int


@dataclass(frozen=True)
class CategoryFigures:
    """The cases opened in the period that are (by the period's end) of one category."""

    cases_opened: int
    time_to_hidden_s: Percentiles
    time_to_decision_s: Percentiles
    time_to_removal_s: Percentiles
    counted: dict[str, int]  # per time: the cases it was measured on
    pending: dict[str, int]  # per time: the cases it may still be measured on


@dataclass(frozen=True)
class EscalationFigures:
    """`escalated` events in the period: a reviewer's (`manual`) or a missed deadline."""

    total: int
    deadline_misses: int
    by_reviewer: int
    cases_past_deadline: int
    deadline_misses_by_category: dict[str, int]


@dataclass(frozen=True)
class TiplineFigures:
    """CyberTipline reports to NCMEC: cases whose report was first submitted, or first
    accepted, in the period; the time from the violation decision to NCMEC's acceptance."""

    submitted: int
    accepted: int
    decision_to_acceptance_s: Percentiles


@dataclass(frozen=True)
class TakeItDownFigures:
    """Valid TAKE IT DOWN Act requests taken into a case in the period, and how each
    stood at its end: met within 48 hours, missed (met late, or its 48 hours over with
    no removal), or still open (its 48 hours not yet over)."""

    requests: int
    met_within_48h: int
    missed: int
    open: int
    escalations: int  # `take_it_down_escalated` events in the period
    request_to_removal_s: Percentiles


@dataclass(frozen=True)
class AppealFigures:
    """Appeals lodged (`appealed`) and decided (`appeal_decided`) in the period; the
    appeal time runs from lodging to the decision on it."""

    lodged: int
    by_appellant: dict[str, int]
    decided: int
    by_outcome: dict[str, int]
    reversals: int
    median_appeal_time_s: float | None
    appeal_time_s: Percentiles


@dataclass(frozen=True)
class StatementFigures:
    """DSA statements of reasons made in the period, and those the Transparency Database
    took in it."""

    issued: int
    issued_by_kind: dict[str, int]
    sent_to_transparency_database: int


@dataclass(frozen=True)
class TransparencyReport:
    period: Period
    reports: ReportFigures
    cases: CaseFigures
    decisions: DecisionFigures
    categories: dict[str, CategoryFigures]
    escalations: EscalationFigures
    reuploads_blocked: int
    cybertipline: TiplineFigures
    take_it_down: TakeItDownFigures
    appeals: AppealFigures
    statements: StatementFigures

    def as_dict(self) -> dict[str, Any]:
        figures = {name: asdict(getattr(self, name)) if hasattr(getattr(self, name),
                                                                 "__dataclass_fields__")
                   else getattr(self, name)
                   for name in ("reports", "cases", "decisions", "escalations",
                                "reuploads_blocked", "cybertipline", "take_it_down",
                                "appeals", "statements")}
        categories = {name: asdict(f) for name, f in self.categories.items()}
        return {"period": self.period.as_dict(), **figures, "categories": categories}


# --- reading the log --------------------------------------------------------------


@dataclass(frozen=True)
class _Logged:
    seq: int
    event: CaseEvent

    @property
    def type(self) -> EventType:
        return self.event.type

    @property
    def at(self) -> datetime:
        return self.event.at

    @property
    def data(self) -> Mapping[str, Any]:
        return self.event.data


@dataclass
class _Case:
    id: int
    log: list[_Logged]
    category: str = UNCATEGORISED  # as the log folds at the period's end
    status: CaseStatus = CaseStatus.OPEN

    def first(self, kind: EventType) -> _Logged | None:
        return next((e for e in self.log if e.type is kind), None)


def _zeros(keys: Iterable[str]) -> dict[str, int]:
    return dict.fromkeys(keys, 0)


def _categories() -> list[str]:
    return [c.value for c in Category]


def _read_cases(session: Session, policy: Policy, period: Period) -> list[_Case]:
    """Every case with an event in the period, with its whole log up to the period's
    end."""
    active = (select(CaseEventRow.case_id).distinct()
              .where(CaseEventRow.at >= period.start, CaseEventRow.at < period.end))
    logs: dict[int, list[_Logged]] = defaultdict(list)
    for row in session.execute(
            select(CaseEventRow.case_id, CaseEventRow.seq, CaseEventRow.type,
                   CaseEventRow.at, CaseEventRow.actor, CaseEventRow.data)
            .where(CaseEventRow.case_id.in_(active), CaseEventRow.at < period.end)
            .order_by(CaseEventRow.case_id, CaseEventRow.seq)):
        try:
            kind = EventType(row.type)
        except ValueError:  # a type this version does not know counts for nothing
            continue
        logs[row.case_id].append(_Logged(row.seq, CaseEvent(kind, row.at, row.actor,
                                                            row.data or {})))
    cases = []
    for case_id, log in sorted(logs.items()):
        state = fold((e.event for e in log), policy)
        cases.append(_Case(case_id, log, state.category.value if state.category
                           else UNCATEGORISED, state.status))
    return cases


def _category_then(case: _Case, upto: _Logged, policy: Policy) -> str:
    """The case's category once this event of its log was folded."""
    explicit = upto.data.get("category")
    if explicit:
        return str(explicit)
    state = fold((e.event for e in case.log if e.seq <= upto.seq), policy)
    return state.category.value if state.category else UNCATEGORISED


# --- the figures, one section at a time ------------------------------------------


def _reports(cases: list[_Case], period: Period) -> ReportFigures:
    by_category, by_relation = _zeros(_categories()), _zeros(r.value for r in Relation)
    by_source, matched = _zeros(SOURCES), Counter[str]()
    total = matches = 0
    for case in cases:
        for e in case.log:
            if not period.holds(e.at):
                continue
            if e.type is EventType.REPORTED:
                total += 1
                category, relation = str(e.data["category"]), str(e.data["relation"])
                by_category[category] = by_category.get(category, 0) + 1
                by_relation[relation] = by_relation.get(relation, 0) + 1
                source = SOURCE_OF.get(relation, "notice")
                by_source[source] += 1
            elif e.type is EventType.HASH_MATCHED:
                matches += 1
                by_source["hash_match"] += 1
                matched[str(e.data.get("category") or case.category)] += 1
    return ReportFigures(total, by_category, by_relation, by_source, matches,
                         _with_counts(_categories(), matched))


def _with_counts(keys: list[str], counts: Mapping[str, int]) -> dict[str, int]:
    """Every key, then any other seen (e.g. `uncategorised`), in a stable order."""
    return {**_zeros(keys), **{k: counts[k] for k in sorted(counts)}}


def _decisions(cases: list[_Case], period: Period, policy: Policy) -> DecisionFigures:
    by_outcome = _zeros(DECISION_OUTCOMES)
    by_category: dict[str, dict[str, int]] = {c: _zeros(DECISION_OUTCOMES)
                                              for c in _categories()}
    total = set_aside = reversals = 0
    for case in cases:
        for e in case.log:
            if e.type is not EventType.DECIDED or not period.holds(e.at):
                continue
            if e.data.get("appeal_id"):
                reversals += 1
                continue
            total += 1
            outcome = str(e.data.get("outcome"))
            by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
            counts = by_category.setdefault(_category_then(case, e, policy),
                                            _zeros(DECISION_OUTCOMES))
            counts[outcome] = counts.get(outcome, 0) + 1
            set_aside += bool(e.data.get("set_aside"))
    return DecisionFigures(total, by_outcome, by_category, set_aside, reversals)


@dataclass
class _Times:
    values: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in TIMES})
    pending: dict[str, int] = field(default_factory=lambda: _zeros(TIMES))
    opened: int = 0


def _actions(session: Session, case_ids: list[int]) -> dict[int, list[Any]]:
    """The restrict and remove actions of these cases."""
    found: dict[int, list[Any]] = defaultdict(list)
    for batch in chunks(case_ids):
        for row in session.execute(
                select(ActionRow.case_id, ActionRow.kind, ActionRow.dedupe_key,
                       ActionRow.delivered_at)
                .where(ActionRow.case_id.in_(batch), ActionRow.target_type == "content",
                       ActionRow.kind.in_([ActionKind.RESTRICT.value,
                                           ActionKind.REMOVE.value]))
                .order_by(ActionRow.case_id, ActionRow.id)):
            found[row.case_id].append(row)
    return found


def _decision_removals(case: _Case, decided: _Logged, actions: list[Any]) -> list[Any]:
    """The remove actions a decision requested: their dedupe key names the step, the
    sequence number of the last event appended with the decision (events appended
    together share their time)."""
    batch = [e.seq for e in case.log if e.seq >= decided.seq and e.at == decided.at]
    prefixes = tuple(f"{ActionKind.REMOVE.value}:case:{case.id}:event:{seq}:" for seq in batch)
    return [a for a in actions if a.kind == ActionKind.REMOVE.value
            and a.dedupe_key.startswith(prefixes)]


def _times(session: Session, cases: list[_Case],
           period: Period) -> tuple[dict[str, CategoryFigures], int, int]:
    """Per category, the times of the cases opened in the period; and how many cases
    were opened, and how many of them had a hash match."""
    opened = [c for c in cases if c.log and period.holds(c.log[0].at)]
    actions = _actions(session, [c.id for c in opened])
    per: dict[str, _Times] = {c: _Times() for c in _categories()}
    with_match = 0
    for case in opened:
        times = per.setdefault(case.category, _Times())
        times.opened += 1
        with_match += case.first(EventType.HASH_MATCHED) is not None
        origin = case.first(EventType.REPORTED) or case.first(EventType.HASH_MATCHED)
        if origin is None:
            continue
        mine = actions.get(case.id, [])
        hidden = [a.delivered_at for a in mine
                  if a.delivered_at is not None and a.delivered_at < period.end]
        if hidden:
            times.values["time_to_hidden_s"].append(seconds(origin.at, min(hidden)))
        elif case.status is not CaseStatus.CLOSED_NO_VIOLATION:
            times.pending["time_to_hidden_s"] += 1
        decided = case.first(EventType.DECIDED)
        if decided is None:
            times.pending["time_to_decision_s"] += 1
            times.pending["time_to_removal_s"] += 1
            continue
        times.values["time_to_decision_s"].append(seconds(origin.at, decided.at))
        if decided.data.get("outcome") != Outcome.VIOLATION.value:
            continue
        removals = _decision_removals(case, decided, mine)
        if not removals:
            continue  # nothing was left to remove
        delivered = [a.delivered_at for a in removals if a.delivered_at is not None]
        if len(delivered) == len(removals) and max(delivered) < period.end:
            times.values["time_to_removal_s"].append(seconds(origin.at, max(delivered)))
        else:
            times.pending["time_to_removal_s"] += 1
    figures = {
        category: CategoryFigures(
            t.opened, time_to_hidden_s=percentiles(t.values["time_to_hidden_s"]),
            time_to_decision_s=percentiles(t.values["time_to_decision_s"]),
            time_to_removal_s=percentiles(t.values["time_to_removal_s"]),
            counted={name: len(t.values[name]) for name in TIMES}, pending=dict(t.pending))
        for category, t in per.items()}
    return figures, len(opened), with_match


def _cases(categories: Mapping[str, CategoryFigures], opened: int,
           with_match: int) -> CaseFigures:
    share = round(with_match / opened, 4) if opened else None
    return CaseFigures(opened, {c: f.cases_opened for c, f in categories.items()},
                       with_match, share)


def _escalations(cases: list[_Case], period: Period) -> EscalationFigures:
    total = manual = 0
    missed: Counter[str] = Counter()
    late_cases: set[int] = set()
    for case in cases:
        for e in case.log:
            if e.type is not EventType.ESCALATED or not period.holds(e.at):
                continue
            total += 1
            if e.data.get("manual") is True:
                manual += 1
            else:
                missed[case.category] += 1
                late_cases.add(case.id)
    return EscalationFigures(total, total - manual, manual, len(late_cases),
                             _with_counts(_categories(), missed))


def _tipline(cases: list[_Case], period: Period) -> TiplineFigures:
    submitted = accepted = 0
    waits: list[float] = []
    for case in cases:
        first_submitted = case.first(EventType.CYBERTIPLINE_SUBMITTED)
        if first_submitted is not None and period.holds(first_submitted.at):
            submitted += 1
        first_accepted = case.first(EventType.CYBERTIPLINE_ACCEPTED)
        if first_accepted is None or not period.holds(first_accepted.at):
            continue
        accepted += 1
        decisions = [e for e in case.log if e.type is EventType.DECIDED
                     and e.seq < first_accepted.seq
                     and e.data.get("outcome") == Outcome.VIOLATION.value]
        if decisions:
            waits.append(seconds(decisions[-1].at, first_accepted.at))
    return TiplineFigures(submitted, accepted, percentiles(waits))


def _appeals(cases: list[_Case], period: Period) -> AppealFigures:
    by_appellant, by_outcome = _zeros(APPELLANTS), _zeros(APPEAL_OUTCOMES)
    lodged = decided = 0
    waits: list[float] = []
    for case in cases:
        lodged_at = {str(e.data.get("appeal_id")): e.at for e in case.log
                     if e.type is EventType.APPEALED}
        for e in case.log:
            if not period.holds(e.at):
                continue
            if e.type is EventType.APPEALED:
                lodged += 1
                who = str(e.data.get("appellant"))
                by_appellant[who] = by_appellant.get(who, 0) + 1
            elif e.type is EventType.APPEAL_DECIDED:
                outcome = str(e.data.get("outcome"))
                if outcome not in APPEAL_OUTCOMES:
                    continue  # a child-safety reversal proposed, not yet decided
                decided += 1
                by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
                since = _instant(e.data.get("appealed_at")) \
                    or lodged_at.get(str(e.data.get("appeal_id")))
                if since is not None:
                    waits.append(seconds(since, e.at))
    times = percentiles(waits)
    return AppealFigures(lodged, by_appellant, decided, by_outcome,
                         by_outcome.get("reversed", 0), times.p50, times)


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _take_it_down(session: Session, cases: list[_Case], period: Period) -> TakeItDownFigures:
    """The valid requests a case took in during the period (their `reported` event: a
    report's row is written when it is worked into its case, dated when it was
    received), each as its log stood at the period's end."""
    taken = {str(e.data.get("report_id")): case for case in cases for e in case.log
             if e.type is EventType.REPORTED and period.holds(e.at)
             and e.data.get("category") == Category.NON_CONSENSUAL_INTIMATE_IMAGERY.value}
    requests: dict[str, tuple[_Case, datetime]] = {}
    for batch in chunks(sorted(taken)):
        for row in session.scalars(select(ReportRow).where(ReportRow.id.in_(batch))
                                   .order_by(ReportRow.created_at, ReportRow.id)):
            try:
                category, relation = Category(row.category), Relation(row.relation)
            except ValueError:
                continue
            request = assess(category, relation, signature=row.signature,
                             good_faith_statement=row.good_faith_statement,
                             names_content=bool(row.references),
                             contact_email=row.contact_email, received_at=row.created_at)
            if request is not None and request.valid:
                requests[row.id] = (taken[row.id], row.created_at)
    met = missed = still_open = 0
    removals: list[float] = []
    for report_id, (case, received) in sorted(requests.items(), key=lambda r: r[1][1]):
        # A request's outcome is its last `take_it_down_met` (a miss at 48 h, then the
        # late removal's real time), as legal.takeitdown records them.
        outcomes = [e.data for e in case.log if e.type is EventType.TAKE_IT_DOWN_MET
                    and str(e.data.get("report_id")) == report_id]
        outcome = outcomes[-1] if outcomes else None
        if outcome is None:
            if received + CLOCK <= period.end:
                missed += 1
            else:
                still_open += 1
            continue
        if outcome.get("met") is True:
            met += 1
        else:
            missed += 1
        if outcome.get("within_s") is not None:
            removals.append(max(0.0, round(float(outcome["within_s"]), 3)))
    escalations = sum(1 for case in cases for e in case.log
                      if e.type is EventType.TAKE_IT_DOWN_ESCALATED and period.holds(e.at))
    return TakeItDownFigures(len(requests), met, missed, still_open, escalations,
                             percentiles(removals))


def _statements(session: Session, period: Period) -> StatementFigures:
    kinds: Counter[str] = Counter(session.scalars(select(StatementRow.kind).where(
        StatementRow.created_at >= period.start, StatementRow.created_at < period.end)))
    sent = len(session.scalars(select(StatementRow.puid).where(
        StatementRow.status == "delivered", StatementRow.delivered_at >= period.start,
        StatementRow.delivered_at < period.end)).all())
    by_kind = _with_counts([ActionKind.RESTRICT.value, ActionKind.REMOVE.value], kinds)
    return StatementFigures(sum(kinds.values()), by_kind, sent)


def _reuploads_blocked(session: Session, period: Period) -> int:
    return len(session.scalars(select(ActionRow.id).where(
        ActionRow.kind == ActionKind.REMOVE.value,
        ActionRow.dedupe_key.startswith(SCREENING_REMOVAL, autoescape=True),
        ActionRow.created_at >= period.start, ActionRow.created_at < period.end)).all())


def compute(session: Session, policy: Policy, period: Period) -> TransparencyReport:
    """The report for the period (see the module's docstring for what each figure is)."""
    cases = _read_cases(session, policy, period)
    categories, opened, with_match = _times(session, cases, period)
    return TransparencyReport(
        period=period, reports=_reports(cases, period),
        cases=_cases(categories, opened, with_match),
        decisions=_decisions(cases, period, policy), categories=categories,
        escalations=_escalations(cases, period),
        reuploads_blocked=_reuploads_blocked(session, period),
        cybertipline=_tipline(cases, period),
        take_it_down=_take_it_down(session, cases, period),
        appeals=_appeals(cases, period), statements=_statements(session, period))


# --- writing it --------------------------------------------------------------------


def to_json(report: TransparencyReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def rows(report: TransparencyReport) -> Iterator[tuple[str, str, str, Any]]:
    """One row per figure: (section, category, name, value). A figure about one category
    names it in `category` (a key that is a category); the name is the path to the figure
    within its section, dotted (`time_to_hidden_s.p50`)."""
    categories = {*_categories(), UNCATEGORISED}

    def walk(section: str, value: Any, path: tuple[str, ...],
             category: str) -> Iterator[tuple[str, str, str, Any]]:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if key in categories and not category:
                    yield from walk(section, inner, path, key)
                else:
                    yield from walk(section, inner, (*path, key), category)
            return
        yield section, category, ".".join(path), value

    for section, figures in report.as_dict().items():
        if isinstance(figures, Mapping):
            yield from walk(section, figures, (), "")
        else:
            yield section, "", section, figures


def to_csv(report: TransparencyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "category", "name", "value"))
    for section, category, name, value in rows(report):
        text = "" if value is None else str(value).lower() if isinstance(value, bool) \
            else value
        writer.writerow((section, category, name, text))
    return out.getvalue()


def to_html(report: TransparencyReport) -> str:
    """A standalone page: the figures in tables and the charts as SVG images inside it
    (data: URIs). It loads nothing from anywhere."""
    from takedown.legal import charts

    return _templates().get_template("transparency.html").render(
        r=report.as_dict(), charts=charts.data_uris(report))


def figures_html(report: TransparencyReport, charts: Mapping[str, str]) -> Markup:
    """The figures' part of the page, for the console to place in its own (`charts`:
    each chart's URL there)."""
    return Markup(_templates().get_template("transparency_figures.html").render(
        r=report.as_dict(), charts=charts))


# Words for the keys, shared by the standalone page and the console's.
LABELS: dict[str, str] = {
    **{c.value: c.value.replace("_", " ") for c in Category},
    **{r.value: r.value.replace("_", " ") for r in Relation},
    UNCATEGORISED: "uncategorised", "notice": "notice (a person's report)",
    "trusted_flagger": "trusted flagger", "law_enforcement": "law enforcement",
    "hash_match": "hash match", "violation": "violation", "no_violation": "no violation",
    "restrict": "restriction", "remove": "removal", "uploader": "uploader",
    "reporter": "reporter", "upheld": "upheld", "reversed": "reversed", "refused": "refused",
    "time_to_hidden_s": "first report to hidden",
    "time_to_decision_s": "first report to decision",
    "time_to_removal_s": "first report to last removal",
}


def human(value: float | None) -> str:
    """A duration for people: `—` for none, else seconds, minutes, hours or days."""
    if value is None:
        return "—"
    if value < 120:
        return f"{value:g} s"
    if value < 2 * 3600:
        return f"{value / 60:.1f} min"
    if value < 2 * 86400:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


@cache
def _templates() -> Environment:
    env = Environment(loader=PackageLoader("takedown", "legal/templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["human"] = human
    env.filters["label"] = lambda key: LABELS.get(str(key), str(key).replace("_", " "))
    return env


def parse_day(value: str) -> date:
    """A UTC day as YYYY-MM-DD."""
    return date.fromisoformat(value.strip())

