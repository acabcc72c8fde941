"""A run's and a step's ``cost_usd`` may be NULL: no agent reported a cost (SPEC 4).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

PostgreSQL drops the NOT NULL and the default. SQLite has no ALTER COLUMN, and the usual
rebuild (copy the table, drop the old one) cannot be used for ``loopd_runs``: with foreign
keys on (they are, and the pragma cannot change inside the migration's transaction)
dropping it deletes every step, event and artifact row by ON DELETE CASCADE. Removing a
NOT NULL constraint or a default does not change how rows are stored, so SQLite's own
procedure for that case applies (https://sqlite.org/lang_altertable.html, "making other
kinds of table schema changes"): edit the table's CREATE statement in ``sqlite_schema``
and bump ``schema_version``, in this transaction. Existing rows keep their numbers.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("loopd_runs", "loopd_steps")
_REQUIRED = re.compile(r"(\bcost_usd\s+FLOAT)\s+DEFAULT\s+'0'\s+NOT\s+NULL", re.IGNORECASE)
_OPTIONAL = re.compile(r"(\bcost_usd\s+FLOAT)(?=\s*,)", re.IGNORECASE)


def _schema() -> str | None:
    return "loopd" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_sqlite_tables(_REQUIRED, r"\1")
        return
    for table in TABLES:
        op.alter_column(
            table,
            "cost_usd",
            existing_type=sa.Float(),
            nullable=True,
            server_default=None,
            schema=_schema(),
        )


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        name = f"{_schema()}.{table}" if _schema() else table
        bind.exec_driver_sql(f"UPDATE {name} SET cost_usd = 0 WHERE cost_usd IS NULL")
    if bind.dialect.name == "sqlite":
        _rewrite_sqlite_tables(_OPTIONAL, r"\1 DEFAULT '0' NOT NULL")
        return
    for table in TABLES:
        op.alter_column(
            table,
            "cost_usd",
            existing_type=sa.Float(),
            nullable=False,
            server_default="0",
            schema=_schema(),
        )


def _rewrite_sqlite_tables(column: re.Pattern[str], replacement: str) -> None:
    """Change the ``cost_usd`` definition in each table's stored CREATE statement."""
    bind = op.get_bind()
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table in TABLES:
            sql = bind.exec_driver_sql(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)
            ).scalar_one()
            changed, count = column.subn(replacement, sql)
            if count != 1:
                raise RuntimeError(f"{table}: cost_usd column not found as expected in {sql!r}")
            bind.exec_driver_sql(
                "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
                (changed, table),
            )
        bind.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")
