"""The transparency desk: the transparency report (legal.transparency) for admins in the
console, and for the operator from the command line. Its figures are aggregates with
nothing about a person; who looked at it, and any refusal, is in the audit log."""

from __future__ import annotations

from datetime import date

from takedown import audit
from takedown.domain.case import Reviewer
from takedown.domain.vocabulary import Role
from takedown.errors import Forbidden, Invalid
from takedown.legal import charts
from takedown.legal.transparency import Period, TransparencyReport, compute
from takedown.service.core import Core


def period_of(first_day: date, last_day: date) -> Period:
    """The period, or Invalid naming what is wrong with it."""
    try:
        return Period(first_day, last_day)
    except ValueError as exc:
        raise Invalid(str(exc), code="invalid_period",
                      fields=[{"field": "to", "message": str(exc)}]) from None


class TransparencyDesk(Core):

    def transparency_report(self, first_day: date, last_day: date) -> TransparencyReport:
        """The report for these UTC days (both included), as the operator asks for it."""
        period = period_of(first_day, last_day)
        with self.db.transaction() as s:
            return compute(s, self.policy, period)

    def transparency(self, reviewer: Reviewer, first_day: date, last_day: date,
                     source: str, *, record: bool = True) -> TransparencyReport:
        """The report, for an admin; anyone else is refused (and that is audited).
        `record`: whether the viewing goes in the audit log (a page's charts, fetched
        with it, do not each add an entry)."""
        target = f"transparency:{first_day.isoformat()}..{last_day.isoformat()}"
        if reviewer.role is not Role.ADMIN:
            self.audit(reviewer.id, "access_denied", target, source,
                       {"wanted": "the transparency report"})
            raise Forbidden("the transparency report is for admins",
                            code="admin_required")
        period = period_of(first_day, last_day)
        with self.db.transaction() as s:
            report = compute(s, self.policy, period)
            if record:
                audit.record(s, reviewer.id, "transparency_report_viewed", target, source)
        return report

    def transparency_chart(self, reviewer: Reviewer, name: str, first_day: date,
                           last_day: date, source: str) -> str:
        """One of the report's charts as SVG (KeyError for an unknown chart)."""
        if name not in charts.CHARTS:
            raise KeyError(name)
        report = self.transparency(reviewer, first_day, last_day, source, record=False)
        return charts.render(name, report)
