"""Alembic migrations of our tables; applied programmatically by :func:`agentloop.store.migrate`.

New revision (from the repo root)::

    .venv/bin/python -m agentloop.store.migrate revision "add a column"
"""
