"""The engine factory: URLs, SQLite pragmas and BEGIN IMMEDIATE, PostgreSQL schema, errors."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentloop.core.errors import StoreError
from agentloop.core.models import Run
from agentloop.core.types import NameSource
from agentloop.store import (
    PG_SCHEMA,
    Store,
    make_engine,
    migrate,
    translate_errors,
    url_for_data_dir,
)
from agentloop.store.notes import Notes
from agentloop.store.schema import runs
from agentloop.store.sessions import Sessions


def test_url_for_data_dir(tmp_path: Path) -> None:
    assert url_for_data_dir(tmp_path) == f"sqlite:///{tmp_path}/loopd.db"


def test_unsupported_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unsupported database URL"):
        make_engine("mysql://u:secret@host/db")


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(StoreError, match="SQLite file"):
        make_engine("sqlite://")


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'loopd.db'}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL
            "busy_timeout": 10000,
            "foreign_keys": 1,
        }
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_url_uses_psycopg_and_loopd_schema(pg_session_url: str) -> None:
    engine = make_engine(pg_session_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert engine.dialect.driver == "psycopg"
        assert "loopd_runs" in sa.inspect(engine).get_table_names(schema=PG_SCHEMA)
        assert "loopd_runs" not in sa.inspect(engine).get_table_names(schema="public")
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_run(tmp_path: Path) -> Iterator[tuple[Store, Run]]:
    """A SQLite store of the test's own (whatever the store fixture's backend) and a run."""
    engine = make_engine(f"sqlite:///{tmp_path / 'loopd.db'}")
    migrate(engine)
    store = Store(engine)
    yield store, store.create_run(
        name="n", name_source=NameSource.USER, workspace_root="/ws", spec_path="s",
        plan_path="p", config={},
    )  # fmt: skip
    engine.dispose()


def test_sqlite_read_modify_write_loses_no_update(sqlite_run: tuple[Store, Run]) -> None:
    """BEGIN IMMEDIATE serialises writers: 8 threads x 25 read-then-write increments."""
    store, run = sqlite_run

    def bump() -> None:
        for _ in range(25):
            with store.transaction() as conn:
                value = conn.execute(sa.select(runs.c.iteration).where(runs.c.id == run.id))
                current = value.scalar_one()
                conn.execute(
                    sa.update(runs).where(runs.c.id == run.id).values(iteration=current + 1)
                )

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get_run(run.id).iteration == 200


def test_sqlite_reads_do_not_wait_for_a_writer(sqlite_run: tuple[Store, Run]) -> None:
    """A step's reads (its run, the user's notes, its agent session) go on while another
    connection holds the write lock: taken with BEGIN IMMEDIATE, each would queue behind
    every writer (and here, behind the open write of the same thread, fail after the busy
    timeout)."""
    store, run = sqlite_run
    with store.transaction() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == run.id).values(iteration=7))
        assert store.get_run(run.id).iteration == 0  # the write is not committed yet
        assert Notes(store).of_run(run.id, undelivered=True) == []
        assert Sessions(store).latest(run.id, ["no-such-step"]) is None
    assert store.get_run(run.id).iteration == 7


def test_translate_errors_chains_and_pickles(engine: sa.Engine) -> None:
    with (
        pytest.raises(StoreError) as caught,
        translate_errors("read nonsense"),
        engine.connect() as conn,
    ):
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    error = caught.value
    assert isinstance(error.__cause__, sa.exc.SQLAlchemyError)
    assert error.message.startswith("read nonsense: ")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, StoreError)
    assert copy.message == error.message
    assert copy.facts == error.facts


def test_unreachable_postgres_is_a_store_error() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    try:
        with pytest.raises(StoreError, match="unavailable"):
            Store(engine).list_runs()
    finally:
        engine.dispose()
