"""What a reporter is told: where their report stands, in plain and true words (never
a form letter), and, when a reviewer asks, the question, by e-mail where they gave an
address. English only for now; translations are not built yet."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.domain.case import CaseState
from takedown.domain.vocabulary import CaseStatus
from takedown.notify.outbox import enqueue
from takedown.store.tables import ReportRow

MESSAGES = {
    "received": "Your report is stored and waiting for a human reviewer.",
    "information_requested": "A reviewer needs more information from you before deciding "
                             "(see `question`). Answer with POST /v1/reports/{id}/information "
                             "and your status token. The review goes on meanwhile.",
    "awaiting_second_review": "A reviewer found no violation; a second, senior reviewer must "
                              "confirm that before anything is closed. The content stays hidden.",
    "no_violation_one": "A reviewer found that the content does not break the rules or the "
                        "law.",
    "no_violation_two": "Two reviewers found that the content does not break the rules or the "
                        "law.",
    "set_aside": "Your report was set aside without action: reports from you were found to "
                 "misuse the reporting system.",
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

    @property
    def still_visible(self) -> int:
        return self.items - self.done


def reporter_status(state: CaseState, report_id: str, tally: Tally | None = None) -> ReporterStatus:
    """One report's status as its reporter sees it: the case's, unless the report was
    set aside. A removal is reported whoever's report led to it, in numbers, and only
    as far as the platform has carried it out."""
    status, key = _status(state, report_id)
    question = state.question if status == "information_requested" else None
    if key in ("action_taken", "restricted"):
        message = _done(key, tally or Tally(0, 0))
    else:
        message = MESSAGES[key].replace("{id}", report_id)
    return ReporterStatus(status, message, question)


def _copies(items: int) -> str:
    copies = items - 1
    if copies <= 0:
        return "The post"
    return f"The post and {copies:,} {'copy' if copies == 1 else 'copies'}"


def _done(key: str, tally: Tally) -> str:
    verb, while_ = ("removed", "") if key == "action_taken" else \
        ("hidden", " while a human reviewer looks at your report")
    if tally.items == 0:
        return ("The content was found to break the rules or the law." if key == "action_taken"
                else "Your report is stored and waiting for a human reviewer.")
    if tally.reported_kept:
        return (f"{tally.items:,} related {'item' if tally.items == 1 else 'items'}: "
                f"{tally.done:,} {verb} so far{while_}. The post you reported is not among "
                f"them{'; it was not found to break the rules' if key == 'action_taken' else ''}.")
    blocked = "; future uploads of it are blocked" if tally.blocked else ""
    if tally.still_visible == 0:
        were = "was" if tally.items == 1 else "were"
        return f"{_copies(tally.items)} {were} {verb}{while_}{blocked}."
    being = "is being" if tally.items == 1 else "are being"
    return (f"{_copies(tally.items)} {being} {verb}{while_}: {tally.done:,} done so far, "
            f"{tally.still_visible:,} still visible until the platform acts{blocked}.")


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


def ask_reporters(session: Session, case_id: int, state: CaseState, seq: int,
                  public_url: str) -> int:
    """E-mail the question to every reporter of the case who gave an address (one
    message per address, naming their reports); returns messages queued."""
    by_address: dict[str, list[str]] = {}
    for report in session.scalars(select(ReportRow).where(
            ReportRow.case_id == case_id, ReportRow.contact_email.is_not(None))
            .order_by(ReportRow.created_at)):
        if report.id not in state.invalid_reports and report.contact_email:
            by_address.setdefault(report.contact_email.strip().lower(), []).append(report.id)
    for address, report_ids in by_address.items():
        enqueue(session, channel="email", target=address,
                dedupe_key=f"information:{case_id}:{seq}:"
                           f"{hashlib.sha256(address.encode()).hexdigest()[:32]}",
                subject="Your report: a reviewer needs more information",
                body={"text": _question_text(state.question or "", report_ids, public_url)})
    return len(by_address)


def _question_text(question: str, report_ids: list[str], public_url: str) -> str:
    reports = "\n".join(f"  {public_url}/v1/reports/{r}/information" for r in report_ids)
    return (
        "Thank you for your report. The reviewer looking at it needs more information "
        "before deciding:\n\n"
        f"  {question}\n\n"
        "Please answer where you made the report, or send your answer with the status "
        "token you were given to:\n"
        f"{reports}\n\n"
        "The review goes on while we wait; if the content is hidden, it stays hidden.\n"
        "You will not be asked for more images of the content. Never send them.\n")
