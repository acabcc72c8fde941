"""An agent step remembers its CLI's own session (SPEC 18): ``session_id`` and the agent
(``session_agent``) that reported it, so an interrupted step can resume it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Nullable columns added in place (``ALTER TABLE ... ADD COLUMN`` on both SQLite and
PostgreSQL): no table is rebuilt, existing rows read NULL (no session known).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (("session_id", 255), ("session_agent", 64))


def _schema() -> str | None:
    return "loopd" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("loopd_steps", sa.Column(name, sa.String(length)), schema=_schema())


def downgrade() -> None:
    for name, _length in reversed(COLUMNS):
        op.drop_column("loopd_steps", name, schema=_schema())
