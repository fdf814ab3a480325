"""DSA statements of reasons (Art. 17): one for every restriction and removal, made with
the action in the same transaction, sent to the platform inside the action (for the
uploader) and, where configured, to the Commission's Transparency Database (Art. 24(5),
pipeline.statements).

A statement says why, never who: no account, URL, text or reporter appears in it. Its
`puid` is derived from the action's id, which is never reused, so neither is the puid.

What goes in it follows from how the item came to be acted on:
- `provisional`: hidden at once, before any person looked (a credible notice, a match
  with a file under review): a fully automated, provisional restriction.
- `automated`: removed before any person looked, because the file matches a hash of
  material confirmed before (a verified bank, a blocked re-upload).
- `decided`: a person reviewed the case and confirmed the violation. The items a notice
  named were decided by that person; copies found by hash matching were detected
  automatically and removed under that decision (partially automated).
- `reversed`: an appeal reversed an earlier decision and the item was restored; the
  statement names the one it replaces.
The source is the notice (Art. 16, or a trusted flagger) for items a valid report
named, and the platform's own initiative, detected automatically, for everything found
by matching or by following reposts and quotes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.domain.policy import Policy
from takedown.domain.vocabulary import ActionKind, Category, Relation
from takedown.store.batches import chunks
from takedown.store.tables import (
    ContentMediaRow,
    ContentRow,
    MediaRow,
    ReportContentRow,
    ReportRow,
)

PROVISIONAL, AUTOMATED, DECIDED, REVERSED = "provisional", "automated", "decided", "reversed"

# How the category is named in decision facts (English: the database's language; the
# uploader's own-language text is notify.uploader's).
_WHAT = {
    Category.CHILD_SEXUAL_ABUSE: "child sexual abuse material",
    # Never "depicted person" or the like: a statement must not hint at who reported.
    Category.NON_CONSENSUAL_INTIMATE_IMAGERY: "intimate imagery shared without consent",
    Category.OTHER_ILLEGAL: "illegal content",
    Category.TERMS_VIOLATION: "content incompatible with the platform's terms of service",
}


@dataclass(frozen=True)
class StatementBasis:
    """What the case (or screening) says about a group of actions."""

    mode: str  # provisional, automated, decided, reversed
    category: Category | None
    # The case's reports that count (not set aside): only items they name are noticed.
    case_id: int | None = None
    invalid_reports: frozenset[str] = frozenset()
    decided_on: date | None = None
    # For a reversal: item id -> the puid of the statement it replaces.
    replaces: Mapping[int, str] = field(default_factory=dict)

    def explains(self, kind: ActionKind) -> bool:
        """Whether an action of this kind gets a statement: every restriction and
        removal; a restoration only when it reverses a decision on appeal."""
        return kind in (ActionKind.RESTRICT, ActionKind.REMOVE) or (
            kind is ActionKind.RESTORE and self.mode == REVERSED)


@dataclass(frozen=True)
class ItemFacts:
    content_types: tuple[str, ...]
    posted_on: date
    # The relations of the valid reports that named this item; empty: found by takedown.
    noticed_by: frozenset[Relation]


def puid_for(action_id: str) -> str:
    return f"takedown-{action_id}"


def build(kind: ActionKind, basis: StatementBasis, item: ItemFacts, policy: Policy,
          puid: str, today: date, replaces: str | None = None) -> dict[str, Any]:
    """The statement, as the Transparency Database takes it."""
    statement: dict[str, Any] = {
        "decision_visibility": [_VISIBILITY[kind]],
        **_ground(basis, policy),
        "content_type": list(item.content_types),
        "content_date": item.posted_on.isoformat(),
        "application_date": today.isoformat(),
        "decision_facts": _facts(basis, item, replaces),
        **_source(item),
        "automated_decision": _automation(basis, item),
        "territorial_scope": list(policy.dsa.territorial_scope),
        "end_date_visibility_restriction": None,
        "puid": puid,
    }
    ground = policy.dsa.grounds.get(basis.category) if basis.category else None
    statement["category"] = ground.dsa_category if ground else \
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    statement["category_specification"] = list(ground.keywords) if ground else \
        ["KEYWORD_OTHER"]
    if "KEYWORD_OTHER" in statement["category_specification"]:
        statement["category_specification_other"] = _what(basis.category)
    if kind is ActionKind.RESTORE:
        statement["decision_visibility_other"] = (
            "Restriction lifted: the earlier decision was reversed on appeal and the "
            "content restored")
    return statement


_VISIBILITY = {
    ActionKind.REMOVE: "DECISION_VISIBILITY_CONTENT_REMOVED",
    ActionKind.RESTRICT: "DECISION_VISIBILITY_CONTENT_DISABLED",
    ActionKind.RESTORE: "DECISION_VISIBILITY_OTHER",
}


def _what(category: Category | None) -> str:
    return _WHAT.get(category, "content incompatible with the platform's terms of service") \
        if category else _WHAT[Category.TERMS_VIOLATION]


def _ground(basis: StatementBasis, policy: Policy) -> dict[str, Any]:
    ground = policy.dsa.grounds.get(basis.category) if basis.category else None
    explanation = (f"The content was assessed as {_what(basis.category)}"
                   + (", pending review by a person" if basis.mode == PROVISIONAL else "")
                   + ".")
    url = {"decision_ground_reference_url": ground.reference_url} \
        if ground and ground.reference_url else {}
    if ground and ground.legal_ground:
        return {"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
                "illegal_content_legal_ground": ground.legal_ground[:500],
                "illegal_content_explanation": explanation, **url}
    clause = policy.for_category(basis.category).policy_reference if basis.category \
        else "Terms of service"
    return {"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": clause[:500],
            "incompatible_content_explanation": explanation,
            "incompatible_content_illegal": "No", **url}


def _source(item: ItemFacts) -> dict[str, Any]:
    if not item.noticed_by:
        return {"source_type": "SOURCE_VOLUNTARY", "automated_detection": "Yes"}
    flagger = Relation.TRUSTED_FLAGGER in item.noticed_by
    return {"source_type": "SOURCE_TRUSTED_FLAGGER" if flagger else "SOURCE_ARTICLE_16",
            "automated_detection": "No"}


def _automation(basis: StatementBasis, item: ItemFacts) -> str:
    if basis.mode in (PROVISIONAL, AUTOMATED):
        return "AUTOMATED_DECISION_FULLY"
    if basis.mode == DECIDED and not item.noticed_by:
        return "AUTOMATED_DECISION_PARTIALLY"  # a copy, removed under a person's decision
    return "AUTOMATED_DECISION_NOT_AUTOMATED"


def _facts(basis: StatementBasis, item: ItemFacts, replaces: str | None) -> str:
    what = _what(basis.category)
    how = ("A notice reported this content" if item.noticed_by else
           "Automated hash matching (exact and perceptual) found that this content carries "
           "or shares a file of content")
    if basis.mode == PROVISIONAL:
        found = f"{how} as suspected {what}." if item.noticed_by else \
            f"{how} under review as suspected {what}."
        return (f"{found} Under the platform's policy such content is hidden at once while "
                "a person reviews it. This restriction is provisional: it is lifted if the "
                "review finds no violation.")
    if basis.mode == AUTOMATED:
        return (f"Automated hash matching found that this content carries a file confirmed "
                f"earlier as {what}. It was removed without waiting for a new review.")
    if basis.mode == REVERSED:
        return ("On appeal, a person who had not taken the earlier decision reviewed it and "
                "reversed it; the restriction is lifted and the content restored."
                + (f" This replaces statement {replaces}." if replaces else ""))
    on = f" on {basis.decided_on.isoformat()}" if basis.decided_on else ""
    found = "" if item.noticed_by else (
        f" {how} confirmed as {what}; it was removed under that decision.")
    return f"A person reviewed the reported content{on} and confirmed it as {what}.{found}"


# --- facts about items, in batches --------------------------------------------------

_TYPES = (("image/", "CONTENT_TYPE_IMAGE"), ("video/", "CONTENT_TYPE_VIDEO"),
          ("audio/", "CONTENT_TYPE_AUDIO"))


def item_facts(session: Session, basis: StatementBasis,
               rows: Iterable[ContentRow]) -> dict[int, ItemFacts]:
    """Facts for each item: the types of the media it shows (a repost or quote shows its
    origin's), when it was posted, and which valid reports of the case named it."""
    items = {r.id: r for r in rows}
    shown = _shown_mimes(session, items)
    noticed = _noticed(session, basis, set(items))
    return {i: ItemFacts(content_types=_content_types(shown.get(i, set()), row),
                         posted_on=row.created_at.date(),
                         noticed_by=frozenset(noticed.get(i, set())))
            for i, row in items.items()}


def _content_types(mimes: set[str], row: ContentRow) -> tuple[str, ...]:
    types = {name for prefix, name in _TYPES for m in mimes if m.startswith(prefix)}
    if row.text or not types:
        types.add("CONTENT_TYPE_TEXT")
    return tuple(sorted(types))


def _shown_mimes(session: Session, items: Mapping[int, ContentRow]) -> dict[int, set[str]]:
    """Mime types each item shows: its own files, else (a repost) its ancestors'."""
    shown: dict[int, set[str]] = {}
    looking = {i: i for i in items}  # item -> the ancestor whose files we look at now
    parents = {i: r.parent_id for i, r in items.items()}
    for _depth in range(8):  # repost chains are short; stop rather than loop on a cycle
        if not looking:
            break
        mimes = _mimes(session, set(looking.values()))
        nxt: dict[int, int] = {}
        for item, at in looking.items():
            if mimes.get(at):
                shown[item] = mimes[at]
            elif parents.get(at) is not None:
                nxt[item] = parents[at]  # type: ignore[assignment]
        parents.update(_parents(session, set(nxt.values()) - set(parents)))
        looking = nxt
    return shown


def _mimes(session: Session, content_ids: set[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for batch in chunks(content_ids):
        for item, mime in session.execute(
                select(ContentMediaRow.content_id, MediaRow.mime)
                .join(MediaRow, MediaRow.id == ContentMediaRow.media_id)
                .where(ContentMediaRow.content_id.in_(batch))):
            found.setdefault(item, set()).add(mime or "")
    return found


def _parents(session: Session, content_ids: set[int]) -> dict[int, int | None]:
    return {i: p for batch in chunks(content_ids) for i, p in session.execute(
        select(ContentRow.id, ContentRow.parent_id).where(ContentRow.id.in_(batch)))}


def _noticed(session: Session, basis: StatementBasis,
             content_ids: set[int]) -> dict[int, set[Relation]]:
    if basis.case_id is None or not content_ids:
        return {}
    found: dict[int, set[Relation]] = {}
    for batch in chunks(content_ids):
        for report_id, relation, item in session.execute(
                select(ReportRow.id, ReportRow.relation, ReportContentRow.content_id)
                .join(ReportContentRow, ReportContentRow.report_id == ReportRow.id)
                .where(ReportRow.case_id == basis.case_id,
                       ReportContentRow.content_id.in_(batch))):
            if report_id not in basis.invalid_reports:
                found.setdefault(item, set()).add(Relation(relation))
    return found
