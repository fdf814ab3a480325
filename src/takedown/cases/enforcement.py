"""What a case does to the platform: restrict pending review, remove on a violation
(and bank what was confirmed, and act on the uploaders), restore on a dismissal.

What a case reaches follows its media files (`CaseMediaRow`), never a post's other
files: the items it is about and their reposts and quotes, and every item carrying
one of its files with theirs. Before a human has looked it hides less (`credible`):
only what trusted reports, bank matches and reviewers brought, and copies of that.
Before acting, the case's reported, matched and confirmed files are swept for copies
(`join_copies`): registered files that their references match join as copies.

On a violation only the files the reviewer confirmed (and copies of them) count:
only they are banked, only items carrying them are removed, only their uploaders
suspended; whatever else the case had restricted is restored, unless another open,
restricted case may hide it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from takedown.banks.service import CONFIRMED, UNDER_REVIEW, BankBook
from takedown.cases.casebook import CaseBook, MediaLink
from takedown.cases.graph import ContentGraph
from takedown.cases.sweeps import Sweeper
from takedown.domain.case import CaseState, EventType, NewEvent, priority
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import (
    REPORTED_TO_NCMEC,
    ActionKind,
    CaseStatus,
    Category,
    MediaVia,
    ModerationState,
    Outcome,
    Relation,
)
from takedown.legal.statements import (
    AUTOMATED,
    DECIDED,
    PROVISIONAL,
    REVERSED,
    StatementBasis,
)
from takedown.media.signals import Signal
from takedown.platform.actions import ActionLedger, account_action, content_action
from takedown.store.batches import chunks
from takedown.store.tables import (
    ActionRow,
    BankEntryRow,
    CaseMediaRow,
    CaseRow,
    ContentRow,
    MediaRow,
    ReportContentRow,
    ReportRow,
    SignalRow,
    StatementRow,
)


@dataclass(frozen=True)
class Removal:
    """What a violation removes: items, the files confirmed, whose uploaders answer."""

    items: set[int]
    media: set[int]
    accountable: set[int]  # items whose authors posted a confirmed file (or the text)


class Enforcement:
    def __init__(self, session: Session, policy: Policy, book: CaseBook, ledger: ActionLedger,
                 sweeper: Sweeper | None = None) -> None:
        self.session = session
        self.policy = policy
        self.book = book
        self.ledger = ledger
        self.sweeper = sweeper
        self.graph = ContentGraph(session)

    # --- copies ------------------------------------------------------------------

    def join_copies(self, case_id: int) -> set[int]:
        """Sweep the case's own files (all but copies) for copies among registered
        files and link them; returns the items that joined the case."""
        media = self.graph.case_media(case_id)
        originals = {m for m, row in media.items() if row.via != MediaVia.COPY.value}
        if self.sweeper is None or not originals:
            return set()
        distance = BankBook(self.session).bank(CONFIRMED).pdq_distance
        copies = self.sweeper.copies_of(originals, distance)
        new = self.book.link_media(case_id, {
            c.media_id: MediaLink(MediaVia.COPY, copy_of=c.copy_of, distance=c.distance)
            for c in copies.values() if c.media_id not in media})
        if not new:
            return set()
        before = self.graph.reach_of(self.graph.case_subjects(case_id), media)
        return self.graph.subtree(self.graph.carriers(new)) - before

    # --- before a decision -------------------------------------------------------

    def credible(self, case_id: int, state: CaseState) -> tuple[set[int], set[int]]:
        return credible(self.session, self.policy, case_id, state)

    def restrict(self, case_id: int, state: CaseState, step: str, reason: str,
                 items: set[int] | None = None) -> int:
        """Hide pending human review: these items and their reposts and quotes, or (by
        default) everything the case may hide before a human has looked (`credible`),
        copies found now included."""
        joined: set[int] = set()
        if items is None:
            joined = self.join_copies(case_id)
            targets = self.graph.reach_of(*self.credible(case_id, state))
        else:
            targets = self.graph.subtree(items)
        visible = [r for r in self.graph.rows(targets)
                   if r.moderation_state == ModerationState.VISIBLE.value]
        self._content_actions(ActionKind.RESTRICT, visible, case_id, state, step, reason)
        if visible:
            self.book.append(case_id, [NewEvent(EventType.RESTRICTED, {
                "items": len(visible), "copies_joined": len(joined), "reason": reason})])
        return len(visible)

    def remove(self, case_id: int, state: CaseState, step: str, reason: str,
               items: set[int]) -> int:
        """Remove these items and their reposts and quotes, before any human decision:
        for banks whose hashes are already verified (NCMEC, confirmed cases)."""
        rows = self.graph.rows(self.graph.subtree(items))
        live = [r for r in rows if r.moderation_state != ModerationState.REMOVED.value]
        self._content_actions(ActionKind.REMOVE, live, case_id, state, step, reason)
        if live:
            self.book.append(case_id, [NewEvent(EventType.ACTIONED, {
                "removed": len(live), "reason": reason})])
        return len(live)

    def hold(self, case_id: int) -> int:
        """Put the references of the case's own files in the `under_review` bank: an
        upload that matches one joins the case (and is hidden if the case is)."""
        originals = [m for m, row in self.graph.case_media(case_id).items()
                     if row.via != MediaVia.COPY.value]
        signals = [s for m in sorted(originals) for s in self._references(m)]
        return BankBook(self.session).add_signals(
            UNDER_REVIEW, signals, source=f"case {case_id}, under review", added_by="takedown",
            case_id=case_id)

    def holds(self, case_id: int) -> bool:
        """Whether the case's files are held in `under_review` (not after it closed)."""
        return self.session.scalar(select(BankEntryRow.id).where(
            BankEntryRow.bank == UNDER_REVIEW, BankEntryRow.case_id == case_id).limit(1)
        ) is not None

    def _references(self, media_id: int) -> list[Signal]:
        """A file's references, or while they are not known, its signals as uploaded
        (an exact or near-exact re-upload is then caught meanwhile)."""
        found = self.sweeper.references.of(media_id) if self.sweeper else []
        return found or [Signal(kind, value, quality) for kind, value, quality in
                         self.session.execute(select(SignalRow.signal_type, SignalRow.value,
                                                     SignalRow.quality)
                                              .where(SignalRow.media_id == media_id))]

    def release(self, case_id: int) -> None:
        """Take the case's files out of `under_review`; an entry is one per hash, so an
        open case that holds the same files holds them again."""
        BankBook(self.session).release(UNDER_REVIEW, case_id)
        own = select(CaseMediaRow.media_id).where(CaseMediaRow.case_id == case_id)
        others = set(self.session.scalars(
            select(CaseMediaRow.case_id).distinct().join(CaseRow, CaseRow.id ==
                                                          CaseMediaRow.case_id)
            .where(CaseMediaRow.media_id.in_(own), CaseMediaRow.case_id != case_id,
                   CaseRow.status.in_([s.value for s in CaseStatus if not s.is_closed]))))
        for other in sorted(others):
            self.hold(other)

    def narrow(self, case_id: int, state: CaseState, step: str) -> int:
        """After reports were set aside on an open case: lift what only they had hidden."""
        if state.status.is_closed or not state.restricted:
            return 0
        keep = self.graph.reach_of(*self.credible(case_id, state))
        return self._restore(case_id, state, step, "restriction lifted", keep=keep)

    # --- a decision --------------------------------------------------------------

    def carry_out(self, case_id: int, state: CaseState, step: str) -> None:
        """Act on a decision that was just appended."""
        if state.decided_outcome is Outcome.VIOLATION:
            self._remove_confirmed(case_id, state, step)
        elif state.decided_outcome is Outcome.NO_VIOLATION:
            self._lift_restriction(case_id, state, step)

    def _remove_confirmed(self, case_id: int, state: CaseState, step: str) -> None:
        removal = confirmed_removal(self.session, case_id, state)
        rows = self.graph.rows(removal.items)
        live = [r for r in rows if r.moderation_state != ModerationState.REMOVED.value]
        self._content_actions(ActionKind.REMOVE, live, case_id, state, step,
                              "confirmed violation")
        restored = self._restore(case_id, state, step, "restriction lifted",
                                 keep=removal.items)
        banked = self._bank(case_id, removal.media, state)
        self._forget_unconfirmed(case_id, removal.media)
        self.release(case_id)
        uploads = [r for r in rows if r.id in removal.accountable]
        self._preserve_uploaders(case_id, uploads, state, step)  # before any suspension
        suspended = self._act_on_uploaders(case_id, uploads, state, step)
        self.book.append(case_id, [NewEvent(EventType.ACTIONED, {
            "removed": len(live), "items": len(rows), "files": len(removal.media),
            "banked": banked, "restored": restored, "accounts_suspended": suspended})])

    def reverse(self, case_id: int, state: CaseState, step: str) -> dict[str, int]:
        """An appeal reversed this case's violation: restore every item it removed or
        hid (unless another open case hides it), stop blocking the files it banked, and
        lift the suspensions it caused. Each restoration carries a new statement of
        reasons that names the one it replaces."""
        rows = list(self.session.scalars(select(ContentRow).where(
            ContentRow.moderation_case_id == case_id,
            ContentRow.moderation_state != ModerationState.VISIBLE.value)))
        still = self._hidden_by_others(case_id, {r.id for r in rows})
        lifted = [r for r in rows if r.id not in still]
        for row in rows:
            if row.id in still:
                row.moderation_case_id = still[row.id]
        basis = StatementBasis(REVERSED, state.category, case_id,
                               replaces=self._statements_of(case_id, [r.id for r in lifted]))
        self._content_actions(ActionKind.RESTORE, lifted, case_id, state, step,
                              "restored: the decision was reversed on appeal", basis)
        book = BankBook(self.session)
        banked = list(self.session.scalars(select(BankEntryRow).where(
            BankEntryRow.bank == CONFIRMED, BankEntryRow.case_id == case_id,
            BankEntryRow.enabled.is_(True))))
        for entry in banked:
            book.set_enabled(entry, False)
        reinstated = self._reinstate(case_id, state, step)
        done = {"items": len(lifted), "hashes_disabled": len(banked),
                "accounts_reinstated": reinstated}
        self.book.append(case_id, [NewEvent(EventType.RESTORED, {**done, "on_appeal": True})])
        return done

    def _statements_of(self, case_id: int, items: list[int]) -> dict[int, str]:
        """Each item's latest restriction or removal statement in this case."""
        latest: dict[int, str] = {}
        for batch in chunks(items):
            for content_id, puid in self.session.execute(
                    select(StatementRow.content_id, StatementRow.puid)
                    .where(StatementRow.case_id == case_id,
                           StatementRow.content_id.in_(batch),
                           StatementRow.kind.in_([ActionKind.RESTRICT.value,
                                                  ActionKind.REMOVE.value]))
                    .order_by(StatementRow.created_at)):
                if content_id is not None:
                    latest[content_id] = puid
        return latest

    def _reinstate(self, case_id: int, state: CaseState, step: str) -> int:
        suspended = sorted(set(self.session.execute(
            select(ActionRow.platform_id, ActionRow.target_id).where(
                ActionRow.case_id == case_id, ActionRow.kind == ActionKind.SUSPEND.value))))
        self.ledger.request(
            account_action(ActionKind.REINSTATE, platform, account, step=step,
                           case_id=case_id, reason="the decision was reversed on appeal",
                           category=state.category.value if state.category else None,
                           priority=priority(state, self.policy))
            for platform, account in suspended)
        return len(suspended)

    def _lift_restriction(self, case_id: int, state: CaseState, step: str) -> None:
        restored = self._restore(case_id, state, step, "restriction lifted")
        self.release(case_id)
        if restored or state.restricted:
            self.book.append(case_id, [NewEvent(EventType.RESTORED, {"items": restored})])

    def _restore(self, case_id: int, state: CaseState, step: str, why: str,
                 keep: AbstractSet[int] = frozenset()) -> int:
        """Lift this case's restrictions, except on the items in `keep` and on those
        another open, restricted case may hide (they pass to that case)."""
        hidden = [r for r in self.session.scalars(select(ContentRow).where(
            ContentRow.moderation_case_id == case_id,
            ContentRow.moderation_state == ModerationState.RESTRICTED.value))
            if r.id not in keep]
        still = self._hidden_by_others(case_id, {r.id for r in hidden})
        for row in hidden:
            if row.id in still:
                row.moderation_case_id = still[row.id]
        lifted = [r for r in hidden if r.id not in still]
        self._content_actions(ActionKind.RESTORE, lifted, case_id, state, step, why)
        return len(lifted)

    def _hidden_by_others(self, case_id: int, items: set[int]) -> dict[int, int]:
        """Item -> another open, restricted case that may hide it."""
        if not items:
            return {}
        found: dict[int, int] = {}
        open_ = [s.value for s in CaseStatus if not s.is_closed]
        for other in sorted(self.book.cases_reaching(self.graph, items, open_) - {case_id}):
            other_state = self.book.state(other)
            if other_state.restricted:
                reach = self.graph.reach_of(*self.credible(other, other_state))
                found.update((i, other) for i in items & reach if i not in found)
        return found

    def _forget_unconfirmed(self, case_id: int, confirmed: set[int]) -> None:
        """A reviewer found the case's other files not abusive: they leave it, so that a
        reopened case does not hide or confirm them again by default."""
        self.session.execute(delete(CaseMediaRow).where(
            CaseMediaRow.case_id == case_id, CaseMediaRow.media_id.not_in(confirmed)))

    def _content_actions(self, kind: ActionKind, rows: list[ContentRow], case_id: int,
                         state: CaseState, step: str, reason: str,
                         basis: StatementBasis | None = None) -> None:
        category = state.category.value if state.category else None
        urgency = priority(state, self.policy)
        basis = basis or statement_basis(case_id, state, kind)
        # Within a case, the most viewed items first: workers send batches in priority
        # order, and a copy that is being watched should not wait behind quiet ones.
        self.ledger.request(
            content_action(kind, r, step=step, case_id=case_id, reason=reason,
                           category=category,
                           priority=urgency + math.log10(1 + max(0, r.views)) / 100,
                           basis=basis)
            for r in rows)


    def _bank(self, case_id: int, media: set[int], state: CaseState) -> int:
        """The confirmed files go into the `confirmed` bank, so that the same file, or a
        copy of it, is blocked when it is uploaded again: the case's own files with
        their references (the edits re-uploaders make), copies as they were uploaded."""
        rows = {r.media_id: r for r in self.session.scalars(select(CaseMediaRow).where(
            CaseMediaRow.case_id == case_id))}
        signals: list[Signal] = []
        for media_id in sorted(media):
            row = rows.get(media_id)
            if self.sweeper is not None and row is not None and row.via != MediaVia.COPY.value:
                signals.extend(self.sweeper.references.of(media_id))
            signals.extend(Signal(kind, value, quality) for kind, value, quality in
                           self.session.execute(select(SignalRow.signal_type, SignalRow.value,
                                                       SignalRow.quality)
                                                .where(SignalRow.media_id == media_id)))
        return BankBook(self.session).add_signals(
            CONFIRMED, signals, source=f"case {case_id}",
            added_by=",".join(state.decided_by), case_id=case_id)

    def _preserve_uploaders(self, case_id: int, uploads: list[ContentRow], state: CaseState,
                            step: str) -> int:
        """For a case reported to NCMEC: ask the platform to keep each uploader's records
        (and send them, for the report) before it suspends them."""
        if state.category not in REPORTED_TO_NCMEC:
            return 0
        accounts = sorted({(r.platform_id, r.author_id) for r in uploads})
        self.ledger.request(
            account_action(ActionKind.PRESERVE_ACCOUNT, platform, author, step=step,
                           case_id=case_id, reason="posted a file confirmed as child sexual "
                           "abuse material", category=state.category.value,
                           priority=priority(state, self.policy))
            for platform, author in accounts)
        return len(accounts)

    def _act_on_uploaders(self, case_id: int, uploads: list[ContentRow], state: CaseState,
                          step: str) -> int:
        if state.category is None:
            return 0
        action = self.policy.for_category(state.category).account_action
        if action is None:
            return 0
        accounts = sorted({(r.platform_id, r.author_id) for r in uploads})
        self.ledger.request(
            account_action(action, platform, author, step=step, case_id=case_id,
                           reason="posted a file confirmed as violating",
                           category=state.category.value, priority=priority(state, self.policy))
            for platform, author in accounts)
        return len(accounts)


def statement_basis(case_id: int, state: CaseState, kind: ActionKind) -> StatementBasis:
    """What a case's actions' statements of reasons rest on: a removal after a person
    decided, a removal by a verified bank before anyone looked, or a provisional
    restriction (see legal.statements)."""
    decided = state.decided_outcome is Outcome.VIOLATION
    mode = DECIDED if decided and kind is ActionKind.REMOVE else \
        AUTOMATED if kind is ActionKind.REMOVE else PROVISIONAL
    return StatementBasis(mode=mode, category=state.category, case_id=case_id,
                          invalid_reports=frozenset(state.invalid_reports),
                          decided_on=state.decided_at.date() if state.decided_at else None)


def confirmed_removal(session: Session, case_id: int, state: CaseState) -> Removal:
    """What a decided violation reaches: items carrying a confirmed file (or a copy of
    one), with their reposts and quotes; reported items with no file (their text is the
    violation); and, when no file was confirmed, the reported items themselves."""
    graph = ContentGraph(session)
    media = graph.case_media(case_id)
    named = media_ids(session, state.confirmed_media) if state.confirmed_media is not None \
        else set(media)
    confirmed = named | {m for m, row in media.items() if row.copy_of in named}
    subjects = graph.case_subjects(case_id)
    textual = {i for i, f in graph.files(subjects).items() if not f}
    if not confirmed:
        textual |= subjects
    carriers = graph.carriers(confirmed)
    return Removal(graph.subtree(carriers | textual), confirmed, carriers or textual)


def media_ids(session: Session, sha256s: Iterable[str]) -> set[int]:
    return {m for batch in chunks(sha256s) for m in session.scalars(
        select(MediaRow.id).where(MediaRow.sha256.in_(batch)))}

def credible(session: Session, policy: Policy, case_id: int,
             state: CaseState) -> tuple[set[int], set[int]]:
    """(items, files) a case may hide before a human has looked: what reports the
    policy trusts to restrict first brought (and that were not set aside), files that
    matched a bank or that a reviewer named, and copies of those files. What an ordinary
    or abusive reporter added to the case waits for a reviewer."""
    graph = ContentGraph(session)
    items: set[int] = set()
    for report_id, category, relation, item in session.execute(
            select(ReportRow.id, ReportRow.category, ReportRow.relation,
                   ReportContentRow.content_id)
            .join(ReportContentRow, ReportContentRow.report_id == ReportRow.id)
            .where(ReportRow.case_id == case_id)):
        rules = policy.for_category(Category(category))
        if report_id not in state.invalid_reports and rules.restrict_first and \
                Relation(relation) in rules.restrict_first_relations:
            items.add(item)
    media = graph.case_media(case_id)
    only, several = graph.shown_files(items)
    files = (only | several) & set(media)
    files |= {m for m, row in media.items()
              if row.via in (MediaVia.BANK.value, MediaVia.REVIEWER.value)}
    files |= {m for m, row in media.items() if row.copy_of in files}
    return {graph.origin(i) for i in items}, files


def suggested(session: Session, policy: Policy, case_id: int, state: CaseState) -> set[int]:
    """The files a violation confirms unless the reviewer says otherwise ("the ones that
    matched"): those the case may hide before a human looked (`credible`), or, in a
    case no trusted report or match brought a file to, the files its valid reports
    name — never those of reports set aside — with copies of them."""
    files = credible(session, policy, case_id, state)[1]
    if files:
        return files
    graph = ContentGraph(session)
    valid = select(ReportContentRow.content_id).join(
        ReportRow, ReportRow.id == ReportContentRow.report_id).where(
        ReportRow.case_id == case_id, ReportRow.id.not_in(list(state.invalid_reports)))
    only, several = graph.shown_files(set(session.scalars(valid)))
    media = graph.case_media(case_id)
    files = (only | several) & set(media)
    return files | {m for m, row in media.items() if row.copy_of in files}
