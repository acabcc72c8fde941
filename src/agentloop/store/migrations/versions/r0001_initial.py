"""Create every loopd_* table.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "loopd" if op.get_bind().dialect.name == "postgresql" else None


def _ms(name: str, nullable: bool = True) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def _run_fk(table: str, schema: str | None) -> sa.ForeignKeyConstraint:
    target = f"{schema}.loopd_runs.id" if schema else "loopd_runs.id"
    return sa.ForeignKeyConstraint(
        ["run_id"], [target], name=f"fk_{table}_run_id_loopd_runs", ondelete="CASCADE"
    )


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "loopd_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(32)),
        sa.Column("workspace_root", sa.Text, nullable=False),
        sa.Column("spec_path", sa.Text, nullable=False),
        sa.Column("plan_path", sa.Text, nullable=False),
        _count("iteration"),
        _count("tasks_done"),
        _count("tasks_total"),
        sa.Column("tokens_in", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("tokens_out", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text),
        sa.Column("resume_at", sa.Float),
        sa.Column("agent", sa.String(64)),
        sa.Column("model", sa.Text),
        sa.Column("base_branch", sa.Text),
        sa.Column("run_branch", sa.Text),
        sa.Column("merge_target_branch", sa.Text),
        sa.Column("merge_strategy", sa.String(16)),
        sa.Column("worktree_path", sa.Text),
        sa.Column("worktree_provider", sa.String(32)),
        sa.Column("worktree_cleanup_status", sa.String(16)),
        sa.Column("review_status", sa.String(32)),
        sa.Column("pr_url", sa.Text),
        sa.Column("merge_commit", sa.String(64)),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        _count("consecutive_verification_failures"),
        _count("consecutive_review_failures"),
        _count("rewrites_used"),
        _count("last_seq"),
        sa.Column("last_output_seq", sa.BigInteger, nullable=False, server_default="0"),
        _ms("created_at", nullable=False),
        _ms("updated_at", nullable=False),
        _ms("started_at"),
        _ms("finished_at"),
        sa.PrimaryKeyConstraint("id", name="pk_loopd_runs"),
        schema=schema,
    )
    for columns in (
        ["workspace_root", "created_at"],
        ["status", "created_at"],
        ["created_at"],
        ["name"],
    ):
        op.create_index(f"ix_loopd_runs_{'_'.join(columns)}", "loopd_runs", columns, schema=schema)

    op.create_table(
        "loopd_steps",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step_key", sa.String(255)),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("iteration", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False),
        _ms("started_at"),
        _ms("finished_at"),
        sa.Column("duration_ms", sa.BigInteger),
        sa.Column("exit_code", sa.Integer),
        sa.Column("output_path", sa.Text),
        sa.Column("tokens_in", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("tokens_out", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.Column("pgid", sa.Integer),
        sa.Column("proc_start_time", sa.Float),
        _ms("created_at", nullable=False),
        _ms("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_loopd_steps"),
        _run_fk("loopd_steps", schema),
        sa.UniqueConstraint("run_id", "step_key", name="uq_loopd_steps_run_id_step_key"),
        schema=schema,
    )
    op.create_index("ix_loopd_steps_run_id_seq", "loopd_steps", ["run_id", "seq"], schema=schema)

    op.create_table(
        "loopd_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("step_id", sa.String(64)),
        sa.Column("event_type", sa.String(64), nullable=False),
        _ms("timestamp", nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("event_key", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_loopd_events"),
        _run_fk("loopd_events", schema),
        sa.UniqueConstraint("run_id", "seq", name="uq_loopd_events_run_id_seq"),
        sa.UniqueConstraint("run_id", "event_key", name="uq_loopd_events_run_id_event_key"),
        schema=schema,
    )

    op.create_table(
        "loopd_artifacts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        _ms("created_at", nullable=False),
        _ms("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_loopd_artifacts"),
        _run_fk("loopd_artifacts", schema),
        sa.UniqueConstraint(
            "run_id", "location", "path", name="uq_loopd_artifacts_run_id_location_path"
        ),
        schema=schema,
    )

    op.create_table(
        "loopd_output",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("step_id", sa.String(64)),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("iteration", sa.Integer, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        _ms("timestamp", nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seq", name="pk_loopd_output"),
        _run_fk("loopd_output", schema),
        schema=schema,
    )

    op.create_table(
        "loopd_agent_holds",
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("resume_at", sa.Float, nullable=False),
        sa.Column("reason", sa.Text),
        _ms("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("agent", name="pk_loopd_agent_holds"),
        schema=schema,
    )

    op.create_table(
        "loopd_settings",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        _ms("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_loopd_settings"),
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    for table in (
        "loopd_settings",
        "loopd_agent_holds",
        "loopd_output",
        "loopd_artifacts",
        "loopd_events",
        "loopd_steps",
        "loopd_runs",
    ):
        op.drop_table(table, schema=schema)
