"""The console's appeals (DSA Art. 20, 23): the queue of appeals waiting for a person,
and one appeal beside the case it contests (its media blurred and grey, as on the case
page), with the form to uphold, reverse or refuse it. Who may decide is the service's
to say (someone who took no part in the decision; a child-safety specialist for a
child-safety case); its refusals come back to the page as a message. A reviewer who
may not see the case gets the 403 page, and the service has put the attempt in the
audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from takedown.api.deps import System, client_of
from takedown.api.schemas import Text
from takedown.domain.appeals import AppealOutcome, AppealStatus
from takedown.domain.case import Reviewer
from takedown.domain.policy import Policy
from takedown.domain.vocabulary import CaseStatus, Category, Role
from takedown.errors import Forbidden, NotFound, TakedownError
from takedown.system import Takedown
from takedown.web.pages import ConsoleRoute, back_to, render, to_login
from takedown.web.session import form_sender, who

router = APIRouter(route_class=ConsoleRoute)
# Appeal ids are UUIDs (cases.appeals); anything else names no appeal.
AppealId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9-]+$")]
PAGE = "/console/appeals"
WAITING = (AppealStatus.OPEN.value, AppealStatus.REVERSAL_PROPOSED.value)
DECIDED = (AppealStatus.UPHELD.value, AppealStatus.REVERSED.value,
           AppealStatus.REFUSED.value)
# The queue's filter: '' is those waiting for a person, 'decided' all three outcomes.
SHOWN = ("", *WAITING, "decided", *DECIDED)
REASON_MAX = 5000  # as api.schemas.AppealDecisionIn


def child_safety(policy: Policy, category: str | None) -> bool:
    return category in {c.value for c in Category} and \
        policy.for_category(Category(category)).specialist_only


def child_safety_two(policy: Policy, category: str | None) -> bool:
    """Whether clearing this category's violation takes two specialists."""
    return category in {c.value for c in Category} and \
        policy.for_category(Category(category)).two_person_dismissal


def why_not(appeal: dict[str, Any], reviewer: Reviewer, specialists_only: bool) -> str:
    """Why this reviewer may not decide this appeal, in words; '' when they may (the
    service checks again, and has the last word)."""
    if appeal["status"] not in WAITING:
        return f"This appeal was already decided: {appeal['status'].replace('_', ' ')}."
    if reviewer.role is Role.LIAISON:
        return "Liaisons do not decide appeals."
    if reviewer.id in appeal["original_deciders"]:
        return ("You took part in the decision under appeal: someone who did not decides "
                "this appeal.")
    if appeal["status"] == AppealStatus.REVERSAL_PROPOSED.value \
            and reviewer.id == appeal["decided_by"]:
        return "You proposed this reversal: a second child-safety specialist must confirm it."
    if specialists_only and not reviewer.is_child_safety:
        return "Appeals in child-safety cases are decided by child-safety specialists."
    return ""


def queue_rows(system: Takedown, reviewer: Reviewer, shown: str) -> list[dict[str, Any]]:
    if shown == "decided":
        rows = [a for status in DECIDED for a in system.appeals(reviewer, status)]
        rows.sort(key=lambda a: a["decided_at"] or a["created_at"], reverse=True)
    else:
        rows = system.appeals(reviewer, shown or None)
    for a in rows:
        a["may_decide"] = a["may_decide"] and not why_not(
            a, reviewer, child_safety(system.policy, a["category"]))
    return rows


@router.get("/appeals", response_class=HTMLResponse)
def appeals(request: Request, system: System, status: str = "",
            done: str | None = None) -> Response:
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    shown = status if status in SHOWN else ""
    return render(request, "appeals.html", reviewer, csrf, done=done, shown=shown,
                  appeals=queue_rows(system, reviewer, shown),
                  choices=[("", "waiting for a person"), ("decided", "decided (newest first)"),
                           *((s, s.replace("_", " ")) for s in (*WAITING, *DECIDED))])


def decision_under_appeal(events: list[dict[str, Any]],
                          appeal_id: str) -> list[dict[str, Any]]:
    """The events of the decision the appeal contests: the last `decided` before the
    appeal was lodged, with the proposal that preceded it when it took two people."""
    lodged = next((e["seq"] for e in events if e["type"] == "appealed"
                   and e["data"].get("appeal_id") == appeal_id), None)
    before = [e for e in events if lodged is None or e["seq"] < lodged]
    decided = [i for i, e in enumerate(before) if e["type"] == "decided"]
    if not decided:
        return []
    last = decided[-1]
    start = decided[-2] + 1 if len(decided) > 1 else 0
    proposed = [e for e in before[start:last] if e["type"] == "dismissal_proposed"]
    return [*proposed[-1:], before[last]]


@router.get("/appeals/{appeal_id}", response_class=HTMLResponse)
def appeal(request: Request, system: System, appeal_id: AppealId, done: str | None = None,
           error: str | None = None) -> Response:
    session = who(request)
    if session is None:
        return to_login()
    reviewer, csrf = session
    try:
        detail = system.appeal_detail(appeal_id, reviewer, client_of(request))
    except (Forbidden, NotFound) as exc:
        return render(request, "refused.html", reviewer, csrf, exc.status,
                      message=exc.message, recorded=isinstance(exc, Forbidden))
    case = detail["case"]
    specialists_only = child_safety(system.policy, case["category"])
    removal = detail["decision_under_appeal"] == CaseStatus.CLOSED_VIOLATION.value
    return render(request, "appeal.html", reviewer, csrf, appeal=detail, case=case,
                  done=done, error=error, why_not=why_not(detail, reviewer, specialists_only),
                  removal=removal, two_specialists=removal and child_safety_two(
                      system.policy, case["category"]),
                  under_appeal=decision_under_appeal(case["events"], appeal_id),
                  reason_max=REASON_MAX)


def outcome_notice(answer: dict[str, Any]) -> str:
    status = answer["status"]
    if status == AppealStatus.REVERSAL_PROPOSED.value:
        return ("reversal proposed: a second child-safety specialist must confirm it before "
                "anything changes")
    case_status = answer["case_status"].replace("_", " ")
    if status == AppealStatus.REVERSED.value:
        return f"appeal reversed: the case is now {case_status}"
    if status == AppealStatus.REFUSED.value:
        return "appeal refused as manifestly unfounded"
    return f"appeal upheld: the case stays {case_status}"


@router.post("/appeals/{appeal_id}/decide")
def decide(request: Request, system: System, appeal_id: AppealId,
           csrf: Annotated[Text, Form()], outcome: Annotated[Text, Form()] = "",
           reason: Annotated[Text, Form(max_length=REASON_MAX)] = "") -> Response:
    reviewer = form_sender(request, csrf)
    if reviewer is None:
        return to_login()
    back = f"{PAGE}/{appeal_id}"
    if outcome not in {o.value for o in AppealOutcome}:
        return back_to(back, error="choose upheld, reversed or refused")
    try:
        answer = system.decide_appeal(appeal_id, reviewer, AppealOutcome(outcome),
                                      reason.strip(), client_of(request))
    except TakedownError as exc:
        return back_to(back, error=exc.message)
    return back_to(back, done=outcome_notice(answer))
