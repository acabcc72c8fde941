"""The one database engine factory, and the one place database errors become ours.

SQLite (one host, the default) and PostgreSQL (several hosts) go through the same code.
Our tables share the database with DBOS's own, so they are named ``loopd_*`` on both, and
on PostgreSQL they live in schema ``loopd`` (DBOS uses ``dbos``): the engine maps
schema-less tables there with a ``schema_translate_map``, which DBOS leaves alone when it
enqueues on one of our connections.

SQLite facts that shape this (ENGINE-NOTES.md): WAL, ``busy_timeout``, and every write
transaction opened with ``BEGIN IMMEDIATE`` so that read-modify-write updates are never lost.
Read-only work opts into a deferred ``BEGIN`` with the execution option
``sqlite_begin="DEFERRED"`` so that readers never take the write lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url

from agentloop.core.errors import StoreError

PG_SCHEMA = "loopd"
"""PostgreSQL schema holding our tables (DBOS keeps its own in ``dbos``)."""

TABLE_PREFIX = "loopd_"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_BEGIN_OPTION = "sqlite_begin"
"""Execution option naming the ``BEGIN`` mode on SQLite: ``IMMEDIATE`` (default) or ``DEFERRED``."""

_SQLITE_BEGIN_MODES = frozenset({"IMMEDIATE", "DEFERRED", "EXCLUSIVE"})


def url_for_data_dir(data_dir: str | Path) -> str:
    """The SQLite URL of the daemon's database inside ``data_dir``."""
    return f"sqlite:///{Path(data_dir).expanduser().absolute() / 'loopd.db'}"


def is_postgres(engine_or_conn: Engine | sa.Connection) -> bool:
    return engine_or_conn.dialect.name == "postgresql"


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``), ready for threads.

    DBOS steps run on a thread pool, so the pool is sized for several concurrent writers.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, pool_size=pool_size, max_overflow=max_overflow)
    if backend in ("postgresql", "postgres"):
        return _postgres_engine(parsed, pool_size=pool_size, max_overflow=max_overflow)
    raise StoreError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://",
        url=parsed.render_as_string(hide_password=True),
    )


def _sqlite_engine(url: sa.URL, *, pool_size: int, max_overflow: int) -> Engine:
    if url.database in (None, "", ":memory:"):
        raise StoreError("loopd needs a SQLite file, not an in-memory database", url=str(url))
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=pool_size,
        max_overflow=max_overflow,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would BEGIN lazily (DEFERRED) and lose updates;
    # switch it off and let the "begin" event below emit the BEGIN we want.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    # Switching a fresh file to WAL needs an exclusive lock and SQLite answers "database is
    # locked" at once, without its busy handler, while another connection writes: retry.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_on_begin(conn: sa.Connection) -> None:
    mode = str(conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")).upper()
    if mode not in _SQLITE_BEGIN_MODES:
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _postgres_engine(url: sa.URL, *, pool_size: int, max_overflow: int) -> Engine:
    return sa.create_engine(
        url.set(drivername="postgresql+psycopg"),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        execution_options={"schema_translate_map": {None: PG_SCHEMA}},
    )


@contextmanager
def translate_errors(operation: str) -> Iterator[None]:
    """Turn SQLAlchemy and driver errors raised inside into :class:`StoreError` (chained)."""
    try:
        yield
    except exc.IntegrityError as error:
        raise StoreError(
            f"{operation}: constraint violated: {_driver_message(error)}",
            operation=operation,
            kind="integrity",
        ) from error
    except exc.OperationalError as error:
        raise StoreError(
            f"{operation}: database unavailable or busy: {_driver_message(error)}",
            operation=operation,
            kind="operational",
        ) from error
    except exc.SQLAlchemyError as error:
        raise StoreError(
            f"{operation}: database error: {_driver_message(error)}",
            operation=operation,
            kind="database",
        ) from error


def _driver_message(error: exc.SQLAlchemyError) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
