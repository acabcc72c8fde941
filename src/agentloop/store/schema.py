"""Our tables, as SQLAlchemy Core ``Table``s on one ``MetaData`` (alembic compares against it).

Every table is named ``loopd_*`` because it shares the database with DBOS's tables; on
PostgreSQL the engine also maps them into schema ``loopd``. Timestamps are epoch
milliseconds (``BigInteger``); ``resume_at`` is epoch seconds as the API shows it.

Events are the history; ``loopd_runs`` and ``loopd_steps`` are projections that the store
updates in the same transaction as the event that changes them. ``loopd_runs.last_seq`` and
``last_output_seq`` are the per-run counters that make event and output sequence numbers
gap-free.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

ALEMBIC_VERSION_TABLE = "loopd_alembic_version"


def _ms(name: str, nullable: bool = True) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("loopd_runs.id", ondelete="CASCADE")


runs = sa.Table(
    "loopd_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
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
    sa.Column("cost_usd", sa.Float),  # NULL: no agent reported a cost
    sa.Column("reason", sa.Text),
    sa.Column("resume_at", sa.Float),
    sa.Column("agent", sa.String(64)),
    sa.Column("model", sa.Text),
    # worktree
    sa.Column("base_branch", sa.Text),
    sa.Column("run_branch", sa.Text),
    sa.Column("merge_target_branch", sa.Text),
    sa.Column("merge_strategy", sa.String(16)),
    sa.Column("worktree_path", sa.Text),
    sa.Column("worktree_provider", sa.String(32)),
    sa.Column("worktree_cleanup_status", sa.String(16)),
    # review
    sa.Column("review_status", sa.String(32)),
    sa.Column("pr_url", sa.Text),
    sa.Column("merge_commit", sa.String(64)),
    # the fully resolved config snapshot, and free-form engine bookkeeping
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    _count("consecutive_verification_failures"),
    _count("consecutive_review_failures"),
    _count("rewrites_used"),
    # counters allocating gap-free sequence numbers
    _count("last_seq"),
    sa.Column("last_output_seq", sa.BigInteger, nullable=False, server_default="0"),
    _ms("created_at", nullable=False),
    _ms("updated_at", nullable=False),
    _ms("started_at"),
    _ms("finished_at"),
    sa.Index(None, "workspace_root", "created_at"),
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "created_at"),
    sa.Index(None, "name"),
)

steps = sa.Table(
    "loopd_steps",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), _run_fk(), nullable=False),
    # idempotency key, e.g. "<workflow id>:<function id>": a step re-run after a crash
    # updates its row instead of adding one
    sa.Column("step_key", sa.String(255)),
    sa.Column("seq", sa.Integer, nullable=False),  # seq of the event that created it
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
    sa.Column("cost_usd", sa.Float),  # NULL: no agent reported a cost
    sa.Column("message", sa.Text),
    sa.Column("pgid", sa.Integer),
    sa.Column("proc_start_time", sa.Float),
    # the agent CLI's own session (SPEC 18), kept to resume it after an interruption
    sa.Column("session_id", sa.String(255)),
    sa.Column("session_agent", sa.String(64)),
    _ms("created_at", nullable=False),
    _ms("updated_at", nullable=False),
    sa.UniqueConstraint("run_id", "step_key"),
    sa.Index(None, "run_id", "seq"),
)

events = sa.Table(
    "loopd_events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), _run_fk(), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("step_id", sa.String(64)),
    sa.Column("event_type", sa.String(64), nullable=False),
    _ms("timestamp", nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    # idempotency key: the same logical event appended twice (a step replayed after a
    # crash) is stored once
    sa.Column("event_key", sa.String(255)),
    sa.UniqueConstraint("run_id", "seq"),
    sa.UniqueConstraint("run_id", "event_key"),
)

artifacts = sa.Table(
    "loopd_artifacts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), _run_fk(), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("location", sa.String(16), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    _ms("created_at", nullable=False),
    _ms("updated_at", nullable=False),
    sa.UniqueConstraint("run_id", "location", "path"),
)

output = sa.Table(
    "loopd_output",
    metadata,
    sa.Column("run_id", sa.String(64), _run_fk(), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("step_id", sa.String(64)),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("iteration", sa.Integer, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    _ms("timestamp", nullable=False),
)

agent_holds = sa.Table(
    "loopd_agent_holds",
    metadata,
    sa.Column("agent", sa.String(64), primary_key=True),
    sa.Column("resume_at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("reason", sa.Text),
    _ms("updated_at", nullable=False),
)

settings = sa.Table(
    "loopd_settings",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    _ms("updated_at", nullable=False),
)

notes = sa.Table(
    "loopd_notes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), _run_fk(), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("file", sa.Text),
    sa.Column("line", sa.Integer),
    sa.Column("source", sa.String(16), nullable=False),
    _ms("created_at", nullable=False),
    sa.Column("delivered_step_id", sa.String(64)),
    sa.Index(None, "run_id", "delivered_step_id"),
)

RUN_COLUMNS = frozenset(runs.c.keys())
STEP_COLUMNS = frozenset(steps.c.keys())
