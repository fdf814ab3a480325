"""The transparency report's charts, drawn on the server by matplotlib (Agg, no display)
as SVG: reports by category, the time from first report to last removal per category
(p50 / p90 / p99 / max), and appeals by outcome.

They show only the report's aggregate figures and category names, nothing about a
person. The SVG is the same for the same figures (no date in it, element ids from a
fixed salt), so a report run again gives the same bytes. The console serves each one
from its own URL (an `<img>`: its Content-Security-Policy forbids the inline styles an
SVG written into the page would carry); the standalone HTML report carries them as
data: URIs.
"""

from __future__ import annotations

import base64
import io
import textwrap
import threading
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # never a display: the charts are rendered on the server

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from takedown.legal.transparency import (
    APPEAL_OUTCOMES,
    LABELS,
    TransparencyReport,
)

# Each chart: its file name, its title, and what a screen reader says instead.
TITLES = {
    "reports-by-category": "Reports by category",
    "time-to-removal": "First report to last removal, by category",
    "appeals": "Appeals by outcome",
}
COLOURS = ("#1f5fa8", "#5d9ad6", "#e0a030", "#b3261e")  # p50, p90, p99, max
_LOCK = threading.Lock()  # matplotlib's rc settings are global


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.0, 3.4), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _svg(figure: Figure, name: str) -> str:
    out = io.StringIO()
    with _LOCK, matplotlib.rc_context({"svg.hashsalt": f"takedown-{name}",
                                       "svg.fonttype": "none"}):
        figure.savefig(out, format="svg", metadata={"Date": None, "Title": TITLES[name]})
    return out.getvalue()


def _label(key: str, width: int = 18) -> str:
    return textwrap.fill(LABELS.get(key, key.replace("_", " ")), width)


def reports_by_category(report: TransparencyReport) -> str:
    figure, axes = _figure()
    counts = report.reports.by_category
    names = [_label(k) for k in counts]
    bars = axes.barh(names, list(counts.values()), color=COLOURS[0])
    axes.bar_label(bars, padding=3)
    axes.invert_yaxis()
    axes.set_xlim(0, max(1, *counts.values()) * 1.12)
    axes.set_xlabel("reports")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(TITLES["reports-by-category"], loc="left")
    return _svg(figure, "reports-by-category")


def _unit(longest: float) -> tuple[float, str]:
    if longest < 120:
        return 1.0, "seconds"
    if longest < 2 * 3600:
        return 60.0, "minutes"
    if longest < 2 * 86400:
        return 3600.0, "hours"
    return 86400.0, "days"


def time_to_removal(report: TransparencyReport) -> str:
    figure, axes = _figure()
    names = list(report.categories)
    figures = [report.categories[n].time_to_removal_s for n in names]
    longest = max((f.max for f in figures if f.max is not None), default=0.0)
    scale, unit = _unit(longest)
    width = 0.2
    for i, (which, colour) in enumerate(zip(("p50", "p90", "p99", "max"), COLOURS,
                                            strict=True)):
        values = [(getattr(f, which) or 0.0) / scale for f in figures]
        axes.bar([x + (i - 1.5) * width for x in range(len(names))], values, width,
                 label=which, color=colour)
    for x, f in enumerate(figures):
        if f.max is None:
            axes.annotate("none removed", (x, 0), ha="center", va="bottom",
                          xytext=(0, 3), textcoords="offset points", fontsize=8)
    axes.set_xticks(range(len(names)), [_label(n) for n in names], fontsize=8)
    axes.set_ylim(0, max(1.0, longest / scale) * 1.15)
    axes.set_ylabel(unit)
    axes.legend(frameon=False, ncols=4, fontsize=8)
    axes.set_title(TITLES["time-to-removal"], loc="left")
    return _svg(figure, "time-to-removal")


def appeals(report: TransparencyReport) -> str:
    figure, axes = _figure()
    outcomes = report.appeals.by_outcome
    keys = [k for k in APPEAL_OUTCOMES] + [k for k in outcomes if k not in APPEAL_OUTCOMES]
    bars = axes.bar([_label(k) for k in keys], [outcomes.get(k, 0) for k in keys],
                    color=[COLOURS[0], COLOURS[3], COLOURS[2]][:len(keys)]
                    + [COLOURS[1]] * max(0, len(keys) - 3))
    axes.bar_label(bars, padding=3)
    axes.set_ylim(0, max(1, *outcomes.values()) * 1.15)
    axes.set_ylabel("appeals decided")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(TITLES["appeals"], loc="left")
    return _svg(figure, "appeals")


CHARTS: dict[str, Callable[[TransparencyReport], str]] = {
    "reports-by-category": reports_by_category,
    "time-to-removal": time_to_removal,
    "appeals": appeals,
}


def render(name: str, report: TransparencyReport) -> str:
    """One chart's SVG; KeyError for a name not in CHARTS."""
    return CHARTS[name](report)


def data_uris(report: TransparencyReport) -> dict[str, str]:
    """Every chart as a data: URI, for a page that must load nothing."""
    return {name: "data:image/svg+xml;base64,"
            + base64.b64encode(draw(report).encode()).decode()
            for name, draw in CHARTS.items()}
