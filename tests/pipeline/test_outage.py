"""A platform whose webhook fails for a long while: once it is back, every action
arrives exactly once, and the actions on each item in the order they were made
(a `restore` never before the `restrict` it undoes, a `remove` never before its
`restrict`), whatever back-off each one drew meanwhile."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from takedown.clock import utcnow
from takedown.store.tables import ActionRow
from takedown.system import Takedown
from tests.api.test_decisions import decide
from tests.conftest import Keys, Receiver, deliver_all
from tests.helpers import register, report


def _made(system: Takedown) -> dict[str, list[str]]:
    """Each target's action ids in the order takedown made them."""
    order: dict[str, list[str]] = {}
    with system.db.transaction() as s:
        for row in s.scalars(select(ActionRow).order_by(ActionRow.created_at)):
            order.setdefault(f"{row.target_type}:{row.target_id}", []).append(row.id)
    return order


def _arrived(receiver: Receiver) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for action in receiver.actions:
        target = f"{action['target']['type']}:{action['target']['id']}"
        order.setdefault(target, []).append(action["action_id"])
    return order


def _set_due(system: Takedown, kinds: set[str], in_s: float) -> None:
    """Give the failing actions of these kinds a next attempt `in_s` from now, as a
    back-off would."""
    with system.db.transaction() as s:
        s.execute(update(ActionRow).where(ActionRow.kind.in_(kinds),
                                          ActionRow.status != "delivered")
                  .values(next_attempt_at=utcnow() + timedelta(seconds=in_s)))


def test_after_an_outage_actions_arrive_once_and_in_order_per_item(
        client: TestClient, keys: Keys, system: Takedown, receiver: Receiver) -> None:
    register(client, keys.api, "kept", seed=1, author="innocent")
    register(client, keys.api, "kept-rp", repost_of="kept")
    register(client, keys.api, "gone", seed=2, author="abuser")
    register(client, keys.api, "gone-rp", repost_of="gone")
    report(client, content_ids=["kept"], relation="depicted_person")
    report(client, content_ids=["gone"], relation="depicted_person")
    receiver.fail_next = 10**9  # the platform is down
    deliver_all(system)  # every restrict fails and backs off
    kept_case, gone_case = (client.get(f"/v1/content/{i}", headers=keys.api).json()["case_id"]
                            for i in ("kept", "gone"))
    for who in ("specialist", "specialist2"):
        decide(client, kept_case, keys.bearer(who), "no_violation")
    decide(client, gone_case, keys.bearer("specialist"), "violation")
    # The later actions drew short back-offs, the restricts long ones.
    _set_due(system, {"restrict"}, 3600)
    _set_due(system, {"restore", "remove", "suspend"}, -1)
    receiver.fail_next = 0  # the platform is back
    deliver_all(system)
    held_back = {a["type"] for a in receiver.actions if a["target"]["type"] == "content"}
    assert held_back == set(), "a restore or remove overtook the restrict it follows"
    _set_due(system, {"restrict"}, -1)
    deliver_all(system)
    made, arrived = _made(system), _arrived(receiver)
    assert arrived == made  # every action, once, in the order made per target
    kinds = {t: [a["type"] for a in receiver.actions
                 if f"{a['target']['type']}:{a['target']['id']}" == t] for t in arrived}
    assert kinds["content:kept"] == ["restrict", "restore"]
    assert kinds["content:gone"] == ["restrict", "remove"]
