"""E-mail to reporters who gave an address, at each step: the receipt (with the status
link, the only message that carries it), a reviewer's question, and each decision.
Rendered from Jinja2 templates (notify/templates, text and HTML) in the reporter's
language, queued in the notifications outbox (sent, retried, once per dedupe key).

Every message names what was reported and what was done: never a form letter."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.domain.case import CaseState
from takedown.domain.takeitdown import TakeItDownRequest
from takedown.domain.vocabulary import Category
from takedown.notify.i18n import environment, gettext_for, negotiate
from takedown.notify.outbox import enqueue
from takedown.notify.reporter import Tally, reporter_status
from takedown.notify.uploader import appeal_news
from takedown.store.tables import ReportRow

TEMPLATES = str(resources.files("takedown.notify") / "templates")


def category_label(category: str, language: str) -> str:
    _ = gettext_for(language)
    return {
        Category.CHILD_SEXUAL_ABUSE.value: _("sexual images of a child"),
        Category.NON_CONSENSUAL_INTIMATE_IMAGERY.value: _(
            "intimate images shared without consent"),
        Category.OTHER_ILLEGAL.value: _("other illegal content"),
        Category.TERMS_VIOLATION.value: _("content that breaks the platform's rules"),
    }.get(category, category)


def missing_labels(missing: Iterable[str], language: str) -> list[str]:
    """What a TAKE IT DOWN Act request lacks, in words (the API names the fields)."""
    _ = gettext_for(language)
    words = {
        "reporter_relation": _("that you are the person shown, or act for them"),
        "content": _("where the image is"),
        "good_faith_statement": _("your statement that it was shared without consent"),
        "signature": _("your signature (your full name)"),
        "contact_email": _("an e-mail address to reach you"),
    }
    return [words.get(name, name) for name in missing]


def render(kind: str, language: str, **context: Any) -> tuple[str, str, str]:
    """(subject, text, html) of one message."""
    env = environment(TEMPLATES, language)
    tida = context.get("take_it_down")
    context = {**context, "category_label": category_label(context.get("category", ""),
                                                           language),
               "missing": missing_labels(tida.missing if tida else (), language)}
    subject = env.get_template(f"{kind}.subject.txt").render(**context).strip()
    return (subject, env.get_template(f"{kind}.txt").render(**context),
            env.get_template(f"{kind}.html").render(**context))


def _queue(session: Session, address: str, kind: str, key: str, language: str,
           **context: Any) -> None:
    subject, text, html = render(kind, language, **context)
    address = address.strip().lower()  # one reporter per address, however they typed it
    enqueue(session, channel="email", target=address, subject=subject,
            body={"text": text, "html": html},
            dedupe_key=f"reporter:{kind}:{key}:"
                       f"{hashlib.sha256(address.encode()).hexdigest()[:32]}")


def send_receipt(session: Session, *, report_id: str, token: str, address: str | None,
                 language: str, category: str, references: Iterable[str],
                 received_at: datetime, take_it_down: TakeItDownRequest | None,
                 public_url: str) -> None:
    """The receipt, in the report's transaction: it carries the status link (the token
    exists only now; takedown keeps its hash)."""
    if not address:
        return
    speak = negotiate(None, language)
    _queue(session, address, "receipt", report_id, speak, report_id=report_id,
           category=category, references=list(references), received_at=received_at,
           status_url=f"{public_url}/report/{report_id}?token={token}",
           take_it_down=take_it_down)


def send_decision(session: Session, case_id: int, state: CaseState, seq: int,
                  tallies: dict[str, Tally | None]) -> int:
    """Each reporter with an address is told the decision (and later ones: a case that
    reopens and is decided again tells them again); returns messages queued."""
    sent = 0
    for report in _reporters(session, case_id, state):
        told = reporter_status(state, report.id, tallies.get(report.id), report.language)
        _queue(session, str(report.contact_email), "decision", f"{case_id}:{seq}:{report.id}",
               negotiate(None, report.language), report_id=report.id,
               category=report.category, references=named(report.references),
               received_at=report.created_at, status=told.status, message=told.message)
        sent += 1
    return sent


def named(references: Iterable[Any]) -> list[str]:
    """What the reporter named (content ids and URLs), as they wrote it."""
    return [str(r.get("value")) if isinstance(r, dict) else str(r) for r in references]


def send_reported_to_ncmec(session: Session, case_id: int, state: CaseState) -> int:
    """A later change worth telling: the case went to NCMEC, which works with the
    police (sent once NCMEC accepted the CyberTipline report)."""
    reporters = _reporters(session, case_id, state)
    for report in reporters:
        speak = negotiate(None, report.language)
        _ = gettext_for(speak)
        _queue(session, str(report.contact_email), "update", f"{case_id}:ncmec:{report.id}",
               speak, report_id=report.id, category=report.category,
               references=named(report.references),
               change=_("It was reported to the National Center for Missing & Exploited "
                        "Children (NCMEC), which works with the police."))
    return len(reporters)


def _reporters(session: Session, case_id: int, state: CaseState) -> list[ReportRow]:
    """Valid reports with an address, one per address (the earliest)."""
    seen: dict[str, ReportRow] = {}
    for report in session.scalars(select(ReportRow).where(
            ReportRow.case_id == case_id, ReportRow.contact_email.is_not(None))
            .order_by(ReportRow.created_at)):
        address = (report.contact_email or "").strip().lower()
        if address and report.id not in state.invalid_reports and address not in seen:
            seen[address] = report
    return list(seen.values())


def ask_reporters(session: Session, case_id: int, state: CaseState, seq: int) -> int:
    """E-mail a reviewer's question to every reporter of the case who gave an address
    (one message per address, in their language); returns messages queued."""
    reporters = _reporters(session, case_id, state)
    for report in reporters:
        _queue(session, str(report.contact_email), "question", f"{case_id}:{seq}",
               negotiate(None, report.language), report_id=report.id,
               category=report.category, question=state.question or "", answer_urls=[])
    return len(reporters)


def send_appeal_news(session: Session, report: ReportRow, appeal_id: str, status: str,
                     reason: str | None = None) -> bool:
    """Tell a reporter who appealed that the appeal was received, or how it was decided
    (a reversal also changes the decision, which send_decision tells)."""
    if not report.contact_email:
        return False
    speak = negotiate(None, report.language)
    change = appeal_news(status, speak, reason)
    _queue(session, report.contact_email, "update", f"appeal:{appeal_id}:{status}", speak,
           report_id=report.id, category=report.category,
           references=named(report.references), change=change)
    return True
