"""Prometheus metrics (prometheus-client). Two kinds:

* process metrics, kept in memory where the work happens: reports received, hashing
  time, HTTP request durations (api.requests);
* the state of the work, read from the database at scrape time (StateCollector): open
  cases, deadline misses, escalations, the action and notification outboxes. Those are
  the same whichever process is scraped, and stay right however many workers run
  apart; each is one grouped query over an indexed status column, so bounded by the
  open work, not by history.

/metrics (api.metrics) serves both, and the in-memory index sizes of that process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.domain.vocabulary import CaseStatus
from takedown.store.tables import ActionRow, CaseRow, NotificationRow, ReportRow, TiplineReportRow

if TYPE_CHECKING:
    from takedown.index.live import LiveIndex
    from takedown.media.signals import Signal
    from takedown.system import Takedown

REPORTS_RECEIVED = Counter("takedown_reports_received", "Reports stored, by category.",
                           ["category"])
HASHING_SECONDS = Histogram(
    "takedown_hashing_seconds", "Time to compute a media file's signals, by media kind.",
    ["kind"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
HTTP_SECONDS = Histogram(
    "takedown_http_request_duration_seconds",
    "HTTP requests, by method, route template and status.", ["method", "route", "status"])

_PENDING_REPORTS = "takedown.metrics.reports"
# takedown_open_cases…, each by category and queue (general or specialists).
CASE_GAUGES = (
    ("", "Open cases."),
    ("_oldest_age_seconds", "Age of the oldest open case."),
    ("_overdue", "Open cases past their deadline: deadline misses."),
    ("_escalated", "Open cases escalated at least once."),
    ("_escalation_steps", "Escalation steps appended to open cases."),
)

log = logging.getLogger(__name__)
ComputeSignals = Callable[..., "list[Signal]"]


def timed_hashing(compute: ComputeSignals) -> ComputeSignals:
    """`compute` (media.signals.compute_signals: data, mime, …), its time observed into
    takedown_hashing_seconds under the mime type's major part."""

    def timed(data: bytes, mime: str | None, *args: Any, **kwargs: Any) -> list[Signal]:
        kind = (mime or "unknown").split("/")[0]
        with HASHING_SECONDS.labels(kind if kind in ("image", "video") else "other").time():
            return compute(data, mime, *args, **kwargs)

    return timed


# Reports are counted where their row is committed, whichever path stored them (API,
# console, demo): an idempotent replay stores nothing and a rolled-back attempt is undone,
# so neither counts.
@event.listens_for(ReportRow, "after_insert")
def _report_inserted(_mapper: Any, _connection: Any, report: ReportRow) -> None:
    session = Session.object_session(report)
    if session is not None:
        session.info.setdefault(_PENDING_REPORTS, []).append(report.category)


@event.listens_for(Session, "after_commit")
def _reports_committed(session: Session) -> None:
    for category in session.info.pop(_PENDING_REPORTS, ()):
        REPORTS_RECEIVED.labels(category).inc()


@event.listens_for(Session, "after_rollback")
def _reports_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_REPORTS, None)


class StateCollector(Collector):
    """The state of the work, from the database, at each scrape. A database that does
    not answer gives takedown_database_up 0 instead of failing the whole scrape."""

    def __init__(self, system: Takedown) -> None:
        self.system = system

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("takedown_database_up",
                               "1 when the metrics' database queries succeeded.")
        metrics: list[Metric] = []
        try:
            with self.system.db.transaction() as session:
                metrics = [*self._cases(session, utcnow()),
                           *_outbox(session, ActionRow, "action"),
                           *_outbox(session, NotificationRow, "notification"),
                           *_cybertipline(session, utcnow())]
        except SQLAlchemyError:
            log.warning("metrics: the database did not answer", exc_info=True)
        up.add_metric([], 1 if metrics else 0)
        return [up, *metrics, *_index_sizes(self.system)]

    def _cases(self, session: Session, now: datetime) -> list[Metric]:
        labels = ["category", "queue"]
        families = [GaugeMetricFamily(f"takedown_open_cases{suffix}", text, labels=labels)
                    for suffix, text in CASE_GAUGES]
        special = {c.value for c, p in self.system.policy.categories.items()
                   if p.specialist_only}
        escalated = (CaseRow.escalations > 0).label("escalated")
        rows = session.execute(
            select(CaseRow.category, escalated, func.count(), func.min(CaseRow.created_at),
                   func.count().filter(CaseRow.deadline <= now),
                   func.coalesce(func.sum(CaseRow.escalations), 0))
            .where(CaseRow.status.in_([s.value for s in CaseStatus if not s.is_closed]))
            .group_by(CaseRow.category, escalated))
        totals: dict[tuple[str, str], list[float]] = {}
        for category, was_escalated, count, oldest, overdue, steps in rows:
            # Mirrors domain.case.in_specialists_queue, as cases.views.queue does.
            queue = "specialists" if was_escalated or category in special else "general"
            key = (category or "unknown", queue)
            age = (now - oldest).total_seconds() if oldest else 0.0
            was = totals.get(key, [0, 0.0, 0, 0, 0])
            totals[key] = [was[0] + count, max(was[1], age), was[2] + overdue,
                           was[3] + (count if was_escalated else 0), was[4] + steps]
        for key, values in sorted(totals.items()):
            for family, value in zip(families, values, strict=True):
                family.add_metric(list(key), value)
        return list(families)


def _outbox(session: Session, table: Any, kind: str) -> list[Metric]:
    """Undelivered rows by status (pending: not tried yet or in flight; failing: an
    attempt failed, retried with backoff), and the age of the oldest: the delivery lag."""
    count = GaugeMetricFamily(f"takedown_{kind}s_undelivered",
                              f"{kind.capitalize()}s not delivered yet, by status.",
                              labels=["status"])
    lag = GaugeMetricFamily(f"takedown_{kind}_delivery_lag_seconds",
                            f"Age of the oldest undelivered {kind} (0 when none).")
    found = dict.fromkeys(("pending", "failing"), 0)
    firsts: list[datetime] = []
    for status, n, first in session.execute(
            select(table.status, func.count(), func.min(table.created_at))
            .where(table.status.in_(list(found))).group_by(table.status)):
        found[status] = n
        firsts.append(first)
    for status, n in found.items():
        count.add_metric([status], n)
    lag.add_metric([], (utcnow() - min(firsts)).total_seconds() if firsts else 0.0)
    return [count, lag]


def _cybertipline(session: Session, now: datetime) -> list[Metric]:
    """CyberTipline reports by stage, and those a person still owes past their deadline
    (drafts and stopped reports): the figure to alert on."""
    stages = GaugeMetricFamily("takedown_cybertipline_reports",
                               "CyberTipline reports by stage.", labels=["stage"])
    overdue = GaugeMetricFamily("takedown_cybertipline_overdue",
                                "Drafts and stopped reports past their deadline.")
    late = 0
    for stage, n, past in session.execute(
            select(TiplineReportRow.stage, func.count(),
                   func.count().filter(TiplineReportRow.due_at <= now))
            .group_by(TiplineReportRow.stage)):
        stages.add_metric([stage], n)
        late += past if stage in ("draft", "stopped") else 0
    overdue.add_metric([], late)
    return [stages, overdue]


def _index_sizes(system: Takedown) -> list[Metric]:
    """This process's in-memory indexes (each process keeps its own copy)."""
    hashes = GaugeMetricFamily("takedown_index_hashes",
                               "Hashes in this process's in-memory index.", labels=["index"])
    rows = GaugeMetricFamily("takedown_index_rows",
                             "Bank entries or media signals indexed.", labels=["index"])
    size = GaugeMetricFamily("takedown_index_bytes", "Memory the index's arrays take.",
                             labels=["index"])
    indexes: list[LiveIndex] = [system.indexes.bank, system.indexes.media]
    for live in indexes:
        with live.lock:
            parts = list(live.indexes.values())
            hashes.add_metric([live.kind], sum(len(p) for p in parts))
            rows.add_metric([live.kind], len(live.present))
            size.add_metric([live.kind], sum(p.nbytes for p in parts))
    return [hashes, rows, size]


class _ProcessMetrics(Collector):
    """prometheus-client's default registry (the counters above, and the process's CPU,
    memory and garbage collector), served beside one system's StateCollector."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def registry_for(system: Takedown) -> CollectorRegistry:
    """What /metrics serves for one app: its own registry, so that several systems in
    one process (tests) each report their own database."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    registry.register(StateCollector(system))
    return registry
