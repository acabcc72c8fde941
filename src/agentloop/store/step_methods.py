"""The store's steps: the rows of each phase an iteration went through, and the agent process
groups recorded on them (what a restart kills before a step runs again)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from agentloop.core.models import Step
from agentloop.core.types import Phase, StepStatus
from agentloop.store import events as events_sql
from agentloop.store import runs as runs_sql
from agentloop.store import steps as steps_sql
from agentloop.store.changes import StepChange
from agentloop.store.steps import StepProcess
from agentloop.store.transactions import StoreBase

__all__ = ["StepMethods"]


class StepMethods(StoreBase):
    """Steps of a run, written without an event (events write them with theirs)."""

    def record_step(
        self, run_id: str, change: StepChange, *, conn: sa.Connection | None = None
    ) -> Step:
        """Insert or update a step without an event (e.g. its agent's pgid once started)."""
        with self._write(conn, "record a step") as tx:
            seq = events_sql.last_seq(tx, run_id)
            step_id = steps_sql.apply_step(tx, run_id, change, seq, self.now_ms())
            return steps_sql.get_step(tx, step_id)

    def update_step(
        self, step_id: str, *, conn: sa.Connection | None = None, **fields: Any
    ) -> Step:
        """Change fields of an existing step without an event (``pgid=``, ``message=``...)."""
        with self._write(conn, "update a step") as tx:
            run_id = steps_sql.get_step(tx, step_id).run_id
            steps_sql.apply_step(tx, run_id, StepChange(id=step_id, **fields), 0, self.now_ms())
            return steps_sql.get_step(tx, step_id)

    def cancel_open_steps(
        self, run_id: str, *, message: str | None = None, conn: sa.Connection | None = None
    ) -> list[str]:
        """Mark the run's queued/in-progress/retrying steps CANCELED (pause, cancel)."""
        with self._write(conn, "cancel open steps") as tx:
            return steps_sql.cancel_open_steps(tx, run_id, self.now_ms(), message)

    def steps_of(
        self, run_id: str, phase: Phase, iteration: int, statuses: Collection[StepStatus]
    ) -> list[Step]:
        """The run's steps of one phase and iteration in ``statuses`` (one indexed query)."""
        with self._read(None, "read steps") as tx:
            return steps_sql.steps_of(tx, run_id, phase, iteration, statuses)

    def list_steps(self, run_id: str) -> list[Step]:
        with self._read(None, "list steps") as tx:
            found = steps_sql.list_steps(tx, run_id)
            if not found:
                runs_sql.run_row(tx, run_id)  # NotFound for an unknown run
            return found

    def get_step(self, step_id: str) -> Step:
        with self._read(None, "read a step") as tx:
            return steps_sql.get_step(tx, step_id)

    def step_processes(self, run_id: str) -> list[StepProcess]:
        """Agent process groups recorded on the run's steps (leftovers to kill)."""
        with self._read(None, "read step processes") as tx:
            return steps_sql.step_processes(tx, run_id)

    def step_process(self, step_id: str) -> StepProcess | None:
        """The process group recorded on one step, or None (no such step, or no pgid)."""
        with self._read(None, "read a step process") as tx:
            return steps_sql.step_process(tx, step_id)
