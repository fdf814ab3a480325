from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from takedown.config import load_policy
from takedown.domain.case import (
    CaseEvent,
    CaseState,
    DecisionRefused,
    EventType,
    Reviewer,
    decide,
    fold,
    in_specialists_queue,
    invalidate,
    may_mark_reporters,
    may_view,
    priority,
    reinstate,
)
from takedown.domain.vocabulary import CaseStatus, Category, Outcome, Role

POLICY = load_policy(None)
T0 = datetime(2020, 1, 20, tzinfo=UTC)
ANA = Reviewer("ana", Role.CHILD_SAFETY_SPECIALIST)
BEN = Reviewer("ben", Role.CHILD_SAFETY_SPECIALIST)
MAX = Reviewer("max", Role.MODERATOR)


def reported(minutes: int = 0, *, category: str = "child_sexual_abuse",
             relation: str = "other_user", reporter: str = "r1", minor: bool = False,
             case_numbers: list[str] | None = None) -> CaseEvent:
    return CaseEvent(EventType.REPORTED, T0 + timedelta(minutes=minutes), None, {
        "report_id": f"rep-{minutes}-{reporter}", "category": category, "relation": relation,
        "minor": minor, "case_numbers": case_numbers or [], "reporter_key": reporter})


def event(kind: EventType, actor: str | None = None, **data: Any) -> CaseEvent:
    return CaseEvent(kind, T0 + timedelta(hours=1), actor, data)


def seed_reports() -> list[CaseEvent]:
    """The boy, then his mother twice with case numbers."""
    return [
        reported(0, relation="depicted_person", reporter="boy", minor=True),
        reported(30, relation="parent_guardian", reporter="mother", minor=True,
                 case_numbers=["PD-1"]),
        reported(60, relation="parent_guardian", reporter="mother", minor=True,
                 case_numbers=["PD-1", "FBI-2"]),
    ]


def test_every_new_report_raises_the_seed_case_priority() -> None:
    events = seed_reports()
    values = [priority(fold(events[:n], POLICY), POLICY) for n in range(1, 4)]
    assert values[0] < values[1] < values[2]


def test_seed_case_outranks_a_viral_terms_case_and_a_plain_csam_report() -> None:
    seed = priority(fold(seed_reports(), POLICY), POLICY)
    viral_spam = fold([reported(category="terms_violation"),
                       event(EventType.REACH_OBSERVED, views=10_000_000, shares=500_000,
                             views_per_hour=100_000)], POLICY)
    anonymous_csam = fold([reported()], POLICY)
    assert seed > priority(viral_spam, POLICY)
    assert seed > priority(anonymous_csam, POLICY)


def test_reach_and_growth_raise_priority() -> None:
    base = [reported(category="non_consensual_intimate_imagery")]
    slow = fold([*base, event(EventType.REACH_OBSERVED, views=100, shares=0,
                              views_per_hour=1.0)], POLICY)
    fast = fold([*base, event(EventType.REACH_OBSERVED, views=100, shares=0,
                              views_per_hour=5000.0)], POLICY)
    assert priority(fast, POLICY) > priority(slow, POLICY) > priority(fold(base, POLICY),
                                                                       POLICY)


def test_hash_match_raises_priority() -> None:
    plain = fold([reported()], POLICY)
    matched = fold([reported(), event(EventType.HASH_MATCHED, bank="confirmed")], POLICY)
    assert priority(matched, POLICY) > priority(plain, POLICY)


def test_deadline_is_the_shortest_rule_of_any_report() -> None:
    state = fold([reported(0), reported(10, relation="law_enforcement", reporter="police")],
                 POLICY)
    assert state.deadline == T0 + timedelta(minutes=10, hours=1)
    assert fold([reported(0)], POLICY).deadline == T0 + timedelta(hours=4)


def test_category_is_the_most_severe_reported() -> None:
    state = fold([reported(category="terms_violation"), reported(5, reporter="x")], POLICY)
    assert state.category is Category.CHILD_SEXUAL_ABUSE


def test_child_safety_dismissal_needs_two_specialists() -> None:
    state = fold(seed_reports(), POLICY)
    proposal = decide(state, POLICY, ANA, Outcome.NO_VIOLATION, "looks adult")
    assert [e.type for e in proposal] == [EventType.DISMISSAL_PROPOSED]
    proposed = fold([*seed_reports(), event(EventType.DISMISSAL_PROPOSED, "ana")], POLICY)
    assert proposed.status is CaseStatus.AWAITING_SECOND_REVIEW
    with pytest.raises(DecisionRefused, match="second"):
        decide(proposed, POLICY, ANA, Outcome.NO_VIOLATION, "again")
    confirmed = decide(proposed, POLICY, BEN, Outcome.NO_VIOLATION, "agree")
    assert confirmed[0].type is EventType.DECIDED
    assert confirmed[0].data["reviewers"] == ["ana", "ben"]


def test_a_moderator_cannot_see_or_decide_child_safety() -> None:
    state = fold(seed_reports(), POLICY)
    assert not may_view(state, POLICY, MAX)
    assert may_view(state, POLICY, Reviewer("lee", Role.LIAISON))
    with pytest.raises(DecisionRefused) as refused:
        decide(state, POLICY, MAX, Outcome.VIOLATION, "")
    assert refused.value.code == "forbidden"
    with pytest.raises(DecisionRefused):
        decide(state, POLICY, Reviewer("lee", Role.LIAISON), Outcome.VIOLATION, "")


def test_other_categories_are_decided_by_one_moderator() -> None:
    state = fold([reported(category="terms_violation")], POLICY)
    events = decide(state, POLICY, MAX, Outcome.NO_VIOLATION, "fine")
    assert events[0].type is EventType.DECIDED


def test_decided_case_is_closed_and_a_reopen_restarts_it() -> None:
    decided = [*seed_reports(), event(EventType.DECIDED, "ana", outcome="violation",
                                      category="child_sexual_abuse", reviewers=["ana"])]
    state = fold(decided, POLICY)
    assert state.status is CaseStatus.CLOSED_VIOLATION and state.deadline is None
    with pytest.raises(DecisionRefused):
        decide(state, POLICY, BEN, Outcome.VIOLATION, "")
    reopened = fold([*decided, event(EventType.REOPENED), reported(200, reporter="new")],
                    POLICY)
    assert reopened.status is CaseStatus.OPEN and reopened.deadline is not None


def test_fold_of_nothing_is_an_empty_open_case() -> None:
    assert fold([], POLICY) == CaseState()


def test_escalation_steps_follow_the_deadline_and_stop_at_a_decision() -> None:
    from takedown.domain.case import escalation_due

    reports = [reported(0, relation="depicted_person")]  # deadline T0 + 1h
    state = fold(reports, POLICY)
    assert escalation_due(state, POLICY, T0 + timedelta(minutes=59)) is None
    first = escalation_due(state, POLICY, T0 + timedelta(minutes=61))
    assert first is not None and first.data["step"] == 1
    once = fold([*reports, event(EventType.ESCALATED, step=1)], POLICY)
    assert escalation_due(once, POLICY, T0 + timedelta(minutes=80)) is None
    second = escalation_due(once, POLICY, T0 + timedelta(minutes=91))
    assert second is not None and second.data["step"] == 2
    assert priority(once, POLICY) == pytest.approx(priority(state, POLICY) * 1.5)
    decided = fold([*reports, event(EventType.DECIDED, "ana", outcome="violation",
                                    reviewers=["ana"])], POLICY)
    assert escalation_due(decided, POLICY, T0 + timedelta(days=3)) is None


def test_a_claim_keeps_others_off_until_it_expires() -> None:
    from takedown.domain.case import claim

    state = fold([reported()], POLICY)
    taken = claim(state, POLICY, ANA, T0, timedelta(minutes=20))
    held = fold([reported(), CaseEvent(EventType.CLAIMED, T0, "ana", taken.data)], POLICY)
    assert held.claimed_by == "ana" and held.claimed_until == T0 + timedelta(minutes=20)
    with pytest.raises(DecisionRefused, match="ana is working on this case"):
        claim(held, POLICY, BEN, T0 + timedelta(minutes=5), timedelta(minutes=20))
    assert claim(held, POLICY, ANA, T0 + timedelta(minutes=5), timedelta(minutes=20))  # renew
    assert claim(held, POLICY, BEN, T0 + timedelta(minutes=21),
                 timedelta(minutes=20))  # expired


def test_escalating_and_asking_keep_the_case_open_with_a_policy_reason() -> None:
    state = fold(seed_reports(), POLICY)
    reason = POLICY.reasons["escalate"][0]
    events = decide(state, POLICY, ANA, Outcome.ESCALATE, "unsure", reason=reason)
    assert [e.type for e in events] == [EventType.ESCALATED]
    assert events[0].data["reason"] == reason and events[0].data["manual"] is True
    asked = decide(state, POLICY, ANA, Outcome.REQUEST_INFORMATION, "",
                   reason=POLICY.reasons["request_information"][1])
    assert [e.type for e in asked] == [EventType.INFORMATION_REQUESTED]
    with pytest.raises(DecisionRefused) as refused:
        decide(state, POLICY, ANA, Outcome.VIOLATION, "", reason="because I said so")
    assert refused.value.code == "invalid"


def test_asking_the_reporter_records_the_question_until_they_answer() -> None:
    events = seed_reports()
    state = fold(events, POLICY)
    reason = POLICY.reasons["request_information"][2]
    asked = decide(state, POLICY, ANA, Outcome.REQUEST_INFORMATION, "internal note",
                   reason=reason, question="How old were you then?")
    waiting = fold(events + [CaseEvent(e.type, T0, e.actor, e.data) for e in asked], POLICY)
    assert waiting.information_requested and waiting.question == "How old were you then?"
    assert waiting.deadline == state.deadline  # the clock keeps running
    answer = event(EventType.INFORMATION_PROVIDED, report_id="rep-0-boy", text="13",
                   case_numbers=["FBI-9"])
    answered = fold(events + [CaseEvent(e.type, T0, e.actor, e.data) for e in asked] + [answer],
                    POLICY)
    assert not answered.information_requested
    assert answered.case_numbers == {"PD-1", "FBI-2", "FBI-9"}
    plain = fold(events, POLICY)
    assert plain.question is None
    by_reason = decide(plain, POLICY, ANA, Outcome.REQUEST_INFORMATION, "", reason=reason)
    assert fold(events + [CaseEvent(e.type, T0, e.actor, e.data) for e in by_reason],
                POLICY).question == reason  # no question written: the reason is asked


def applied(events: list[CaseEvent], new: list[Any]) -> list[CaseEvent]:
    return events + [CaseEvent(e.type, T0 + timedelta(hours=2), e.actor, e.data) for e in new]


def test_escalated_cases_move_to_the_specialists_queue_and_out_of_moderators_hands() -> None:
    events = [reported(category="other_illegal")]
    state = fold(events, POLICY)
    assert not in_specialists_queue(state, POLICY)
    assert in_specialists_queue(fold([reported()], POLICY), POLICY)  # child safety: always
    escalated = fold(applied(events, decide(state, POLICY, MAX, Outcome.ESCALATE, "")), POLICY)
    assert in_specialists_queue(escalated, POLICY)
    with pytest.raises(DecisionRefused, match="specialists' queue") as refused:
        decide(escalated, POLICY, MAX, Outcome.NO_VIOLATION, "")
    assert refused.value.code == "forbidden"
    from takedown.domain.case import claim
    with pytest.raises(DecisionRefused, match="specialists' queue"):
        claim(escalated, POLICY, MAX, T0, timedelta(minutes=20))
    assert decide(escalated, POLICY, ANA, Outcome.NO_VIOLATION, "")[0].type is EventType.DECIDED


def test_invalidated_reports_stop_counting_but_never_end_a_child_safety_case() -> None:
    events = [reported(0, relation="parent_guardian", reporter="liar", minor=True,
                       case_numbers=["FAKE-1"])]
    state = fold(events, POLICY)
    assert state.deadline == T0 + timedelta(hours=1)
    new = invalidate(state, POLICY, ["rep-0-liar"], "ana", "flood of false reports")
    assert [e.type for e in new] == [EventType.REPORT_INVALIDATED]  # no set-aside
    after = fold(applied(events, new), POLICY)
    assert after.status is CaseStatus.OPEN and after.category is Category.CHILD_SEXUAL_ABUSE
    assert priority(after, POLICY) < priority(state, POLICY)
    assert after.report_count == 0 and not after.minor and not after.case_numbers
    # Still a deadline: the one an ordinary user's report would have set.
    assert after.deadline == T0 + timedelta(hours=4)
    assert invalidate(after, POLICY, ["rep-0-liar"], "ana", "again") == []  # idempotent
    back = fold(applied(applied(events, new), reinstate(after, ["rep-0-liar"], "ada")), POLICY)
    assert back.deadline == state.deadline and priority(back, POLICY) == priority(state, POLICY)


def test_a_case_left_with_no_valid_report_is_set_aside_unless_matched_or_child_safety() -> None:
    events = [reported(0, category="non_consensual_intimate_imagery",
                       relation="depicted_person", reporter="liar"),
              reported(5, category="non_consensual_intimate_imagery", reporter="honest")]
    state = fold(events, POLICY)
    one = invalidate(state, POLICY, ["rep-0-liar"], "ana", "abusive")
    assert [e.type for e in one] == [EventType.REPORT_INVALIDATED]  # an honest one is left
    both = invalidate(state, POLICY, ["rep-0-liar", "rep-5-honest"], "ana", "abusive")
    assert [e.type for e in both][-1] is EventType.DECIDED
    closed = fold(applied(events, both), POLICY)
    assert closed.status is CaseStatus.CLOSED_NO_VIOLATION and closed.set_aside
    assert closed.deadline is None
    matched = [*events, event(EventType.HASH_MATCHED, bank="stopncii",
                              category="non_consensual_intimate_imagery")]
    kept = invalidate(fold(matched, POLICY), POLICY, ["rep-0-liar", "rep-5-honest"], "ana", "x")
    assert EventType.DECIDED not in [e.type for e in kept]  # a hash match is evidence
    late = invalidate(closed, POLICY, ["rep-7-liar"], "takedown", "abusive")
    assert late == []  # not a report of this case
    reported_late = fold([*applied(events, both), reported(7, reporter="liar",
                                                           category="terms_violation")], POLICY)
    marked = invalidate(reported_late, POLICY, ["rep-7-liar"], "takedown", "abusive")
    assert [e.type for e in marked] == [EventType.REPORT_INVALIDATED]  # closed: no decision


def test_only_specialists_and_admins_mark_reporters() -> None:
    assert may_mark_reporters(ANA) and may_mark_reporters(Reviewer("ada", Role.ADMIN))
    assert not may_mark_reporters(MAX) and not may_mark_reporters(Reviewer("lee", Role.LIAISON))
