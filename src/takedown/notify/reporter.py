"""What a reporter is told: where their report stands, in plain and true words (never
a form letter), and, when a reviewer asks, the question, by e-mail where they gave an
address, in the reporter's language (notify.i18n)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from takedown.domain.case import CaseEvent, CaseState, EventType
from takedown.domain.vocabulary import CaseStatus
from takedown.notify.i18n import gettext_for, ngettext_for


def messages(_: Callable[[str], str]) -> dict[str, str]:
    """What each state means, in the reporter's language (`_`: its gettext)."""
    return {
        "received": _("Your report is stored and waiting for a human reviewer."),
        "information_requested": _(
            "A reviewer needs more information from you before deciding. You can answer "
            "on your report's status page. The review goes on meanwhile."),
        "awaiting_second_review": _(
            "A reviewer found no violation. A second, senior reviewer must confirm that "
            "before anything is closed. The content stays hidden until then."),
        "no_violation_one": _(
            "A reviewer found that the content does not break the rules or the law."),
        "no_violation_two": _(
            "Two reviewers found that the content does not break the rules or the law."),
        "set_aside": _("Your report was set aside without action: reports from you were "
                       "found to misuse the reporting system."),
    }


@dataclass(frozen=True)
class ReporterStatus:
    status: str
    message: str
    question: str | None


@dataclass(frozen=True)
class Tally:
    """What the platform has done to the items an action is for (the reported post
    and its copies): `done` it has acknowledged; the rest are still visible there."""

    items: int
    done: int
    blocked: bool = False  # the files are banked: new uploads of them are refused
    reported_kept: bool = False  # the reporter's own post is not among the items
    reported_to_ncmec: bool = False  # NCMEC accepted the CyberTipline report

    @property
    def still_visible(self) -> int:
        return self.items - self.done


def reporter_status(state: CaseState, report_id: str, tally: Tally | None = None,
                    language: str = "en") -> ReporterStatus:
    """One report's status as its reporter sees it: the case's, unless the report was
    set aside. A removal is reported whoever's report led to it, in numbers, and only
    as far as the platform has carried it out."""
    status, key = _status(state, report_id)
    question = state.question if status == "information_requested" else None
    if key in ("action_taken", "restricted"):
        message = _done(key, tally or Tally(0, 0), language)
    else:
        message = messages(gettext_for(language))[key]
    return ReporterStatus(status, message, question)


def _done(key: str, tally: Tally, language: str) -> str:
    _, n_ = gettext_for(language), ngettext_for(language)
    removed = key == "action_taken"
    if tally.items == 0:
        return (_("The content was found to break the rules or the law.") if removed
                else _("Your report is stored and waiting for a human reviewer."))
    copies, done, left = tally.items - 1, tally.done, tally.still_visible
    if tally.reported_kept:
        text = (n_("{items} related item: {done} removed so far.",
                   "{items} related items: {done} removed so far.", tally.items) if removed
                else n_("{items} related item: {done} hidden so far while a human reviewer "
                        "looks at your report.",
                        "{items} related items: {done} hidden so far while a human reviewer "
                        "looks at your report.", tally.items))
        kept = (_("The post you reported is not among them; it was not found to break the "
                  "rules.") if removed else _("The post you reported is not among them."))
        return text.format(items=f"{tally.items:,}", done=f"{done:,}") + " " + kept
    if left == 0:
        text = ((n_("The post and {copies} copy were removed.",
                    "The post and {copies} copies were removed.", copies) if copies
                 else _("The post was removed.")) if removed else
                (n_("The post and {copies} copy were hidden while a human reviewer looks at "
                    "your report.", "The post and {copies} copies were hidden while a human "
                    "reviewer looks at your report.", copies) if copies
                 else _("The post was hidden while a human reviewer looks at your report.")))
    else:
        text = ((n_("The post and {copies} copy are being removed: {done} done so far, "
                    "{left} still visible until the platform acts.",
                    "The post and {copies} copies are being removed: {done} done so far, "
                    "{left} still visible until the platform acts.", copies) if copies
                 else _("The post is being removed: {done} done so far, {left} still visible "
                        "until the platform acts.")) if removed else
                (n_("The post and {copies} copy are being hidden while a human reviewer "
                    "looks at your report: {done} done so far, {left} still visible until "
                    "the platform acts.",
                    "The post and {copies} copies are being hidden while a human reviewer "
                    "looks at your report: {done} done so far, {left} still visible until "
                    "the platform acts.", copies) if copies
                 else _("The post is being hidden while a human reviewer looks at your "
                        "report: {done} done so far, {left} still visible until the platform "
                        "acts.")))
    text = text.format(copies=f"{copies:,}", done=f"{done:,}", left=f"{left:,}")
    if tally.blocked:
        text += " " + _("Future uploads of it are blocked.")
    if tally.reported_to_ncmec:
        text += " " + _("It was reported to the National Center for Missing & Exploited "
                        "Children (NCMEC).")
    return text


def _status(state: CaseState, report_id: str) -> tuple[str, str]:
    if state.status is CaseStatus.CLOSED_VIOLATION:
        return "action_taken", "action_taken"
    if report_id in state.invalid_reports:
        return "set_aside", "set_aside"
    if state.status is CaseStatus.CLOSED_NO_VIOLATION:
        return "no_violation", "no_violation_two" if len(state.decided_by) > 1 \
            else "no_violation_one"
    if state.status is CaseStatus.AWAITING_SECOND_REVIEW:
        return "awaiting_second_review", "awaiting_second_review"
    if state.information_requested:
        return "information_requested", "information_requested"
    status = "restricted" if state.restricted else "received"
    return status, status


def timeline(events: Iterable[CaseEvent], report_id: str, received_at: datetime,
             language: str = "en") -> list[dict[str, Any]]:
    """What has happened since the report came, in plain words with dates: the steps a
    reporter may know of (never who else reported, nor a reviewer's notes)."""
    _ = gettext_for(language)
    steps: list[dict[str, Any]] = [{"at": received_at, "text": _("We received your report.")}]
    said = {
        EventType.RESTRICTED: _("The content was hidden while a human reviewer looks at it."),
        EventType.INFORMATION_REQUESTED: _("A reviewer asked you a question."),
        EventType.DISMISSAL_PROPOSED: _("A reviewer found no violation. A second reviewer "
                                        "will check that."),
        EventType.REOPENED: _("The case was opened again."),
        EventType.RESTORED: _("The content was made visible again."),
        EventType.CYBERTIPLINE_ACCEPTED: _("It was reported to the National Center for "
                                           "Missing & Exploited Children (NCMEC)."),
    }
    for event in events:
        if event.at < received_at:
            continue
        if event.type is EventType.DECIDED:
            text = (_("A reviewer decided that the content breaks the rules or the law. It "
                      "is being removed.") if event.data.get("outcome") == "violation"
                    else _("The review found that the content does not break the rules or "
                           "the law."))
        elif event.type is EventType.INFORMATION_PROVIDED:
            if str(event.data.get("report_id")) != report_id:
                continue
            text = _("You answered the reviewer's question.")
        elif event.type in said:
            text = said[event.type]
        else:
            continue
        if steps[-1]["text"] != text:  # a restriction in several steps is one step
            steps.append({"at": event.at, "text": text})
    return steps
