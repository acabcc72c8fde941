"""Notes from the user to a run's agent (SPEC 18).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "loopd" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    runs = f"{schema}.loopd_runs.id" if schema else "loopd_runs.id"
    op.create_table(
        "loopd_notes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("file", sa.Text),
        sa.Column("line", sa.Integer),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("delivered_step_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_loopd_notes"),
        sa.ForeignKeyConstraint(
            ["run_id"], [runs], name="fk_loopd_notes_run_id_loopd_runs", ondelete="CASCADE"
        ),
        schema=schema,
    )
    op.create_index(
        "ix_loopd_notes_run_id_delivered_step_id",
        "loopd_notes",
        ["run_id", "delivered_step_id"],
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_index("ix_loopd_notes_run_id_delivered_step_id", "loopd_notes", schema=schema)
    op.drop_table("loopd_notes", schema=schema)
