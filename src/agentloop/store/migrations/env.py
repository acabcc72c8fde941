"""Alembic environment: runs on the connection handed over by ``agentloop.store.migrate``.

No ``alembic.ini`` exists at runtime; ``migrate()`` builds the Config in code and passes
its open connection (already inside a transaction, holding the migration lock) in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from agentloop.store.db import PG_SCHEMA
from agentloop.store.schema import ALEMBIC_VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through agentloop.store.migrate(), it opens the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=ALEMBIC_VERSION_TABLE,
    version_table_schema=PG_SCHEMA if connection.dialect.name == "postgresql" else None,
    include_schemas=False,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
