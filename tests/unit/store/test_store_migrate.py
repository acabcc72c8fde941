"""Migrations: idempotent, concurrent-safe, matching schema.py, coexisting with DBOS."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from agentloop.core.types import NameSource
from agentloop.store import (
    PG_SCHEMA,
    Store,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from agentloop.store.migrate import MIGRATIONS_DIR
from agentloop.store.schema import ALEMBIC_VERSION_TABLE, metadata


def _fresh_url(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _our_tables(engine: sa.Engine) -> list[str]:
    schema = PG_SCHEMA if engine.dialect.name == "postgresql" else None
    return sorted(sa.inspect(engine).get_table_names(schema=schema))


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_is_idempotent(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    engine = make_engine(_fresh_url(request, tmp_path, backend))
    try:
        assert current_revision(engine) is None
        assert migrate(engine) == head_revision()
        tables = _our_tables(engine)
        assert migrate(engine) == head_revision()
        assert _our_tables(engine) == tables
        assert current_revision(engine) == head_revision()
        assert set(tables) == {t.name for t in metadata.sorted_tables} | {ALEMBIC_VERSION_TABLE}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_daemons_migrating_at_once(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = _fresh_url(request, tmp_path, backend)
    engines = [make_engine(url) for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def start(engine: sa.Engine) -> None:
        barrier.wait()
        try:
            migrate(engine)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()


def test_migrations_match_schema_module(engine: sa.Engine) -> None:
    """The migrated database is exactly what schema.py declares (no autogenerate diff)."""
    with engine.connect() as conn:
        opts = {"compare_type": True}
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET search_path TO {PG_SCHEMA}")
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, metadata)
    ignorable = {ALEMBIC_VERSION_TABLE}
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name in ignorable)]
    assert diff == []


def test_every_table_and_index_is_prefixed(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    schema = PG_SCHEMA if engine.dialect.name == "postgresql" else None
    for table in inspector.get_table_names(schema=schema):
        assert table.startswith("loopd_")
        for index in inspector.get_indexes(table, schema=schema):
            assert index["name"] is not None and "loopd_" in index["name"]
        for unique in inspector.get_unique_constraints(table, schema=schema):
            assert unique["name"] is not None and "loopd_" in unique["name"]


def test_migration_scripts_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert any(MIGRATIONS_DIR.joinpath("versions").glob("r0001_*.py"))
    assert "src/agentloop/store/migrations" in MIGRATIONS_DIR.as_posix()


def test_dbos_tables_coexist_and_enqueue_shares_our_transaction(db_url: str, engine) -> None:
    """DBOS's system tables live beside ours; a rolled-back admission leaves neither."""
    from dbos import DBOSClient, EnqueueOptions

    client = DBOSClient(system_database_url=db_url)
    try:
        client._sys_db.run_migrations()
        store = Store(engine)
        fields = {
            "name_source": NameSource.USER, "workspace_root": "/ws", "spec_path": "s",
            "plan_path": "p", "config": {},
        }  # fmt: skip

        def options(run_id: str) -> EnqueueOptions:
            return EnqueueOptions(
                queue_name="runs", workflow_name="run_workflow", workflow_id=run_id,
                queue_partition_key="/ws",
            )  # fmt: skip

        with store.transaction() as conn:
            kept = store.create_run(conn, name="kept", **fields)
            client.enqueue_in_transaction(conn, options(kept.id), kept.id)
        with pytest.raises(RuntimeError), store.transaction() as conn:
            lost = store.create_run(conn, name="lost", **fields)
            client.enqueue_in_transaction(conn, options(lost.id), lost.id)
            raise RuntimeError("admission failed after the enqueue")
        assert [w.workflow_id for w in client.list_workflows()] == [kept.id]
        assert [run.id for run in store.list_runs()[0]] == [kept.id]
        assert {t.name for t in metadata.sorted_tables} <= set(_our_tables(engine))
    finally:
        client.destroy()


@pytest.mark.parametrize("backend", BACKENDS)
def test_cost_becomes_nullable_and_every_row_stays(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """0003: SQLite cannot rebuild loopd_runs (ON DELETE CASCADE would empty every table
    under it), so its CREATE statement is edited in place; nothing is lost either way."""
    from alembic import command
    from sqlalchemy.schema import CreateSchema

    from agentloop.core.types import EventType, Phase
    from agentloop.store.migrate import alembic_config

    engine = make_engine(_fresh_url(request, tmp_path, backend))
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(CreateSchema(PG_SCHEMA, if_not_exists=True))
            command.upgrade(alembic_config(conn), "0002")
        store = Store(engine)
        fields = {
            "name_source": NameSource.USER, "workspace_root": "/ws", "spec_path": "s",
            "plan_path": "p", "config": {},
        }  # fmt: skip
        old = store.create_run(name="old", **fields)
        step = {"id": "s1", "phase": Phase.IMPLEMENTATION, "iteration": 1, "status": "SUCCEEDED",
                "cost_usd": 0.25}  # fmt: skip
        store.append_event(old.id, EventType.RUN_STARTED, {"worker_id": "w"},
                           run_changes={"cost_usd": 0.25}, step=step)  # fmt: skip
        assert migrate(engine) == head_revision()

        kept = store.get_run(old.id)
        assert kept.cost_usd == 0.25 and [s.cost_usd for s in store.list_steps(old.id)] == [0.25]
        types = [e.event_type for e in store.events_after(old.id)]
        assert types == [EventType.RUN_CREATED, EventType.RUN_STARTED]
        new = store.create_run(name="new", **fields)
        store.append_event(new.id, EventType.RUN_STARTED, {"worker_id": "w"},
                           step={**step, "id": "s2", "cost_usd": None})  # fmt: skip
        assert store.get_run(new.id).cost_usd is None  # no agent reported a cost
        assert [s.cost_usd for s in store.list_steps(new.id)] == [None]
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()
