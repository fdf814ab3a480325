"""The database: one engine, sessions, and migrations, on SQLite or PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL for concurrent readers, FULL sync so an acknowledged write survives a power
    cut, and BEGIN IMMEDIATE so that two writers queue on the busy timeout instead of
    one failing with 'database is locked' when it upgrades a read to a write."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below govern
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled
# back whole and may simply be run again.
TRANSIENT_SQLSTATES = {"40P01", "40001"}


def is_transient(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


T = TypeVar("T")
BATCH = 64  # writes that share one commit, at most


class _Queued:
    """One thread's write waiting for a shared commit (see Database.batched)."""

    def __init__(self, work: Callable[[Session], Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run_in_savepoint(self, session: Session) -> None:
        try:
            with session.begin_nested():
                self.result = self.work(session)
                session.flush()
        except Exception as exc:  # undone by its savepoint; raised in its own thread
            self.error = exc


class Database:
    def __init__(self, url: str, *, connect_args: dict[str, Any] | None = None) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"connect_args": connect_args or {}}
        if not self.is_sqlite:
            kwargs |= {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer: AbstractContextManager[Any] = (
            threading.RLock() if self.is_sqlite else nullcontext())
        self._queue_lock = threading.Lock()
        self._queued: list[_Queued] = []

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on error.

        On SQLite every transaction writes (BEGIN IMMEDIATE) and one runs at a time;
        this process's threads queue on a lock for their turn instead of on SQLite's
        busy handler, which sleeps in steps of up to 100 ms and so turned a burst of
        16 concurrent reports into seconds of latency for some."""
        with self._writer, self._sessions() as session, session.begin():
            yield session

    def batched(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a transaction shared with other threads' small writes: on SQLite
        the threads that queued while one transaction held the database run together,
        each in a savepoint of its own (an error undoes and raises only its own part),
        under one commit — one fsync for a burst of reports instead of one each. Returns
        when the commit is durable. On PostgreSQL, which commits concurrently and
        groups its own WAL flushes, it is simply a transaction."""
        if not self.is_sqlite:
            with self.transaction() as session:
                return work(session)
        mine = _Queued(work)
        with self._queue_lock:
            self._queued.append(mine)
        with self._writer:
            # Oldest first; a thread whose write is beyond the first BATCH runs batches
            # until its own is done (the threads of older writes may already have left).
            while not mine.done.is_set():
                with self._queue_lock:
                    batch, self._queued = self._queued[:BATCH], self._queued[BATCH:]
                self._run_batch(batch)
        mine.done.wait()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[no-any-return]

    def _run_batch(self, batch: list[_Queued]) -> None:
        try:
            with self._sessions() as session, session.begin():
                for queued in batch:
                    queued.run_in_savepoint(session)
        except BaseException as exc:  # the commit failed: nothing of the batch is kept
            for queued in batch:
                if queued.error is None:
                    queued.error, queued.result = exc, None
        finally:
            for queued in batch:
                queued.done.set()

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        with self.engine.begin() as connection:
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    location = resources.files("takedown.store").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
