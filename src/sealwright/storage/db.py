"""Engine, sessions and migrations. Built on demand by the composition root, never at import."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; we want BEGIN IMMEDIATE so two
        # writers never both read the ledger head before one of them writes.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Without this, the row deletions done by INSERT OR REPLACE skip DELETE triggers, and a
    # REPLACE would silently rewrite a row of an append-only table (ledger_events, checkpoints).
    cur.execute("PRAGMA recursive_triggers=ON")
    cur.close()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("sealwright.storage") / "migrations")
    )
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        #: Called after a commit whose session set ``info["jobs_enqueued"]`` (wakes workers).
        self.on_jobs_committed: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception -- except an error
        that says it carries an audit record (``commit = True``), which commits first."""
        with self._sessions() as session:
            session.begin()
            try:
                yield session
            except BaseException as exc:
                if getattr(exc, "commit", False):
                    self._commit(session)
                else:
                    session.rollback()
                raise
            self._commit(session)

    def _commit(self, session: Session) -> None:
        session.commit()
        if session.info.pop("jobs_enqueued", False):
            for callback in self.on_jobs_committed:
                callback()
