"""The agent CLI's own session of each agent step (SPEC 18), on ``loopd_steps``.

An agent step records the session id its CLI reports as soon as it reports it (Claude's
``system/init``, Codex's ``thread.started``...), with the agent that reported it: a step
interrupted mid-way (loopd killed, its host dead, the run paused) then resumes that session
instead of starting over. No event goes with it: the session is a fact about the step,
shown with it, and the decision to resume it is recorded by the next ``STEP_STARTED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from agentloop.core.types import EventType
from agentloop.store.repository import Store
from agentloop.store.schema import events, steps

__all__ = ["AgentSession", "Sessions"]


@dataclass(frozen=True)
class AgentSession:
    """The session ``agent``'s CLI reported for step ``step_id``."""

    step_id: str
    agent: str
    session_id: str


class Sessions:
    """The sessions of agent steps, over the store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, step_id: str, agent: str, session_id: str) -> None:
        """Step ``step_id`` runs in ``agent``'s session ``session_id`` (replaces any older)."""
        with self.store.transaction("record an agent session") as conn:
            conn.execute(
                sa.update(steps)
                .where(steps.c.id == step_id)
                .values(
                    session_id=session_id,
                    session_agent=agent,
                    updated_at=self.store.now_ms(),
                )
            )

    def latest(self, run_id: str, step_ids: Sequence[str]) -> AgentSession | None:
        """The session of the last of ``step_ids`` (steps of ``run_id``, oldest first) that
        recorded one since the run's worktree was created: after a reset, whose worktree is
        a new one, no older session is resumed."""
        if not step_ids:
            return None
        worktree_created = (
            sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))
            .where(
                events.c.run_id == run_id,
                events.c.event_type == EventType.WORKTREE_CREATED.value,
            )
            .scalar_subquery()
        )
        query = sa.select(steps.c.id, steps.c.session_agent, steps.c.session_id).where(
            steps.c.run_id == run_id,
            steps.c.id.in_(list(step_ids)),
            steps.c.session_id.is_not(None),
            steps.c.seq > worktree_created,
        )
        with self.store.reading("read agent sessions") as conn:
            found = {row.id: row for row in conn.execute(query)}
        for step_id in reversed(step_ids):
            row = found.get(step_id)
            if row is not None:
                return AgentSession(step_id, str(row.session_agent or ""), str(row.session_id))
        return None
