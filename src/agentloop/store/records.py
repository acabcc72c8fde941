"""SQL on the small keyed tables: the artifact index, agent holds, daemon settings.

Each is an upsert on its natural key (``INSERT ... ON CONFLICT DO UPDATE``, spelled the
same on SQLite and PostgreSQL), so writing the same thing twice is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from agentloop.core.clock import new_id
from agentloop.core.models import Artifact
from agentloop.core.types import ArtifactLocation
from agentloop.store.rows import artifact_from_row, clean_json, clean_text
from agentloop.store.schema import agent_holds, artifacts, settings


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str],
    update: Sequence[str],
) -> sa.CursorResult[Any]:
    """Insert ``values`` or, on a conflict on ``keys``, update the ``update`` columns."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[key] for key in keys],
        set_={column: statement.excluded[column] for column in update},
    )
    return conn.execute(statement.returning(*table.c))


def index_artifact(
    conn: sa.Connection,
    run_id: str,
    *,
    kind: str,
    location: ArtifactLocation,
    path: str,
    checksum: str,
    size: int,
    now: int,
) -> Artifact:
    row = (
        upsert(
            conn,
            artifacts,
            {
                "id": new_id(),
                "run_id": run_id,
                "kind": kind,
                "location": ArtifactLocation(location).value,
                "path": clean_text(path),
                "checksum": checksum,
                "size": size,
                "created_at": now,
                "updated_at": now,
            },
            keys=("run_id", "location", "path"),
            update=("kind", "checksum", "size", "updated_at"),
        )
        .mappings()
        .one()
    )
    return artifact_from_row(row)


def index_artifacts(
    conn: sa.Connection, run_id: str, rows: Sequence[Mapping[str, Any]], now: int
) -> None:
    """Index many copies at once: one upsert statement, executed for every row."""
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(artifacts)
    statement = statement.on_conflict_do_update(
        index_elements=[artifacts.c.run_id, artifacts.c.location, artifacts.c.path],
        set_={c: statement.excluded[c] for c in ("kind", "checksum", "size", "updated_at")},
    )
    conn.execute(
        statement,
        [
            {
                "id": new_id(),
                "run_id": run_id,
                "kind": row["kind"],
                "location": ArtifactLocation(row["location"]).value,
                "path": clean_text(str(row["path"])),
                "checksum": row["checksum"],
                "size": row["size"],
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
        ],
    )


def list_artifacts(conn: sa.Connection, run_id: str) -> list[Artifact]:
    query = (
        sa.select(artifacts)
        .where(artifacts.c.run_id == run_id)
        .order_by(artifacts.c.created_at, artifacts.c.location, artifacts.c.path)
    )
    return [artifact_from_row(row) for row in conn.execute(query).mappings()]


def set_hold(
    conn: sa.Connection, agent: str, resume_at: float, reason: str | None, now: int
) -> None:
    upsert(
        conn,
        agent_holds,
        {"agent": agent, "resume_at": resume_at, "reason": reason, "updated_at": now},
        keys=("agent",),
        update=("resume_at", "reason", "updated_at"),
    )


def holds(conn: sa.Connection, after: float) -> dict[str, float]:
    """Agents on hold until a time later than ``after`` (epoch seconds)."""
    query = sa.select(agent_holds.c.agent, agent_holds.c.resume_at).where(
        agent_holds.c.resume_at > after
    )
    return {agent: float(resume_at) for agent, resume_at in conn.execute(query)}


def clear_hold(conn: sa.Connection, agent: str) -> None:
    conn.execute(sa.delete(agent_holds).where(agent_holds.c.agent == agent))


def put_setting(conn: sa.Connection, key: str, value: Any, now: int) -> None:
    upsert(
        conn,
        settings,
        {"key": key, "value": clean_json(value), "updated_at": now},
        keys=("key",),
        update=("value", "updated_at"),
    )


def get_settings(conn: sa.Connection, keys: Sequence[str] | None = None) -> dict[str, Any]:
    query = sa.select(settings.c.key, settings.c.value)
    if keys is not None:
        query = query.where(settings.c.key.in_(list(keys)))
    return {key: value for key, value in conn.execute(query)}
