"""Database fixtures: a migrated store on a SQLite file and on the real local PostgreSQL.

Import them into a conftest (``from dbfixtures import *``; tests/ must be on sys.path).

* ``db_url``: parametrised ``sqlite`` (a fresh file per test) and ``postgresql`` (one
  database ``agentloop_test_<random>`` per session, created through the ``postgres``
  maintenance database and dropped at the end; our tables are truncated before each test).
* ``engine``, ``store`` (with a ``Bus``): migrated, on ``db_url``; ``make_run(**fields)``
  creates a PENDING run in it.
* ``pg_admin_url``, ``fresh_pg_url``: for tests that need a database of their own.

PostgreSQL is expected on 127.0.0.1:5432 with trust auth (``AGENTLOOP_TEST_PG_ADMIN_URL``
overrides). If it is down, the fixtures try to start it with ``pg_ctlcluster``; if it is
still unreachable the PostgreSQL tests are skipped with the reason, or fail when ``CI`` is
set: CI must run them.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from agentloop.core.models import Run
from agentloop.core.types import NameSource
from agentloop.store import PG_SCHEMA, Bus, Store, make_engine, migrate
from agentloop.store.schema import metadata

__all__ = [
    "db_url",
    "engine",
    "fresh_pg_url",
    "make_run",
    "pg_admin_url",
    "pg_session_url",
    "store",
]

PG_HOST, PG_PORT = "127.0.0.1", 5432


def _candidate_admin_urls() -> list[str]:
    override = os.environ.get("AGENTLOOP_TEST_PG_ADMIN_URL")
    if override:
        return [override]
    users = dict.fromkeys(["postgres", "root", getpass.getuser()])
    return [f"postgresql://{user}@{PG_HOST}:{PG_PORT}/postgres" for user in users]


def _first_reachable() -> tuple[str | None, str]:
    last_error = "no candidate URL"
    for url in _candidate_admin_urls():
        try:
            with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
                return url, ""
        except psycopg.Error as error:
            last_error = f"{url}: {str(error).strip().splitlines()[0]}"
    return None, last_error


def _start_postgres() -> str:
    """Try to start the local cluster; returns what happened (for the skip reason)."""
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return "pg_ctlcluster not available"
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions:
        return "no cluster in /etc/postgresql"
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    if os.geteuid() != 0 and shutil.which("sudo"):
        command = ["sudo", "-n", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    for _ in range(40):
        if _first_reachable()[0]:
            break
        time.sleep(0.5)
    return f"{' '.join(command)} -> {done.returncode} {done.stderr.strip()}"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url, error = _first_reachable()
    if url is None:
        attempt = _start_postgres()
        url, error = _first_reachable()
        if url is None:
            reason = (
                f"PostgreSQL on {PG_HOST}:{PG_PORT} is unreachable even after trying to "
                f"start it ({attempt}); last error: {error}"
            )
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(f"!!! POSTGRESQL TESTS SKIPPED: {reason}")
    return url


def _with_database(admin_url: str, name: str) -> str:
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _create_database(admin_url: str) -> str:
    name = f"agentloop_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def pg_session_url(pg_admin_url: str) -> Iterator[str]:
    """A database for this test session, migrated; dropped at the end."""
    name = _create_database(pg_admin_url)
    url = _with_database(pg_admin_url, name)
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    yield url
    _drop_database(pg_admin_url, name)


@pytest.fixture
def fresh_pg_url(pg_admin_url: str) -> Iterator[str]:
    """An empty database of this test's own (not migrated)."""
    name = _create_database(pg_admin_url)
    yield _with_database(pg_admin_url, name)
    _drop_database(pg_admin_url, name)


def _truncate_pg(engine: sa.Engine) -> None:
    tables = ", ".join(f"{PG_SCHEMA}.{table.name}" for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'loopd.db'}"
    url: str = request.getfixturevalue("pg_session_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    if engine.dialect.name == "postgresql":
        _truncate_pg(engine)
    else:
        migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> Store:
    return Store(engine, bus=Bus())


@pytest.fixture
def make_run(store: Store) -> Callable[..., Run]:
    def make(**overrides: Any) -> Run:
        fields: dict[str, Any] = {
            "name": "demo",
            "name_source": NameSource.USER,
            "workspace_root": "/ws",
            "spec_path": "/ws/specs/demo.md",
            "plan_path": "/ws/specs/planning/demo-plan.md",
            "config": {"model": "opus", "completion_mode": "trailing"},
        }
        fields.update(overrides)
        return store.create_run(**fields)

    return make
