"""Database.batched: many threads' small writes share commits; each write that fails is
undone alone and raised in its own thread; every caller returns only once its write
is committed, however long the queue (more than one batch)."""

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takedown.clock import utcnow
from takedown.store.db import BATCH
from takedown.store.tables import IdempotencyRow
from takedown.system import Takedown

WRITERS = BATCH * 3 + 5


def _insert(key: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.add(IdempotencyRow(scope="batched", key=key, request_hash="h",
                                   status_code=202, response={}, created_at=utcnow()))
        return key
    return work


def test_concurrent_writes_commit_together_and_fail_alone(system: Takedown) -> None:
    system.db.batched(_insert("taken"))
    start = threading.Barrier(WRITERS)
    results: dict[int, object] = {}

    def write(n: int) -> None:
        start.wait()
        try:
            results[n] = system.db.batched(_insert("taken" if n == 7 else f"k{n}"))
        except IntegrityError as exc:
            results[n] = exc

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer never returned"
    assert isinstance(results[7], IntegrityError)
    assert {results[n] for n in range(WRITERS) if n != 7} == {
        f"k{n}" for n in range(WRITERS) if n != 7}
    with system.db.transaction() as s:
        stored = s.scalar(select(func.count()).select_from(IdempotencyRow)
                          .where(IdempotencyRow.scope == "batched"))
    assert stored == WRITERS  # every write but the failing one, and the first


def test_a_failed_write_raises_in_its_caller(system: Takedown) -> None:
    def broken(session: Session) -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        system.db.batched(broken)
