"""Everything one step needs to know about its run, loaded fresh at the step's start.

Steps may run twice (after a crash) and on another host, so nothing is cached between them:
the run row, its config snapshot and the engine state are read from the store each time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentloop.core.config import Config
from agentloop.core.models import Run
from agentloop.engine.history import RunState
from agentloop.engine.runtime import Runtime

if TYPE_CHECKING:
    from agentloop.store import Store

_STEP_NAMESPACE = uuid.UUID("9a0c5e4e-2f55-4a4b-8f0e-6f1f6d3c2b10")


@dataclass(frozen=True)
class RunContext:
    """Frozen: a step that changes what it knows of the run makes a new context
    (``dataclasses.replace``); ``state`` is the engine state the step's recorder saves."""

    runtime: Runtime
    run: Run
    config: Config
    state: RunState
    step_key: int
    """The DBOS function id of the executing step (0 outside a workflow step)."""
    attempt: int | None = None
    """The epoch whose attempt a workflow step's writes belong to (:meth:`load` with
    ``fenced=True``): once a pause, retry or reset has started another, the store refuses
    them (Conflict). None for control calls, which start attempts themselves."""

    @classmethod
    def load(
        cls, runtime: Runtime, run_id: str, step_key: int | None = None, *, fenced: bool = False
    ) -> RunContext:
        run, state_json = runtime.store.get_run_with_state(run_id)
        state = RunState.from_json(state_json)
        if step_key is None:
            step_key = _current_step_id()
        return cls(
            runtime=runtime,
            run=run,
            config=Config.from_json(run.config),
            state=state,
            step_key=step_key,
            attempt=state.epoch if fenced else None,
        )

    @property
    def run_id(self) -> str:
        return self.run.id

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def workspace(self) -> Path:
        return Path(self.run.workspace_root)

    @property
    def worktree(self) -> Path | None:
        path = self.run.worktree.worktree_path
        return Path(path) if path else None

    @property
    def global_log_dir(self) -> Path:
        configured = self.config.global_log_dir
        return Path(configured) if configured else self.runtime.settings.global_log_dir

    def key(self, suffix: str) -> str:
        """Idempotency key of an event written by this step: the same after a crash-replay of
        the step, different after a retry or reset (which bump the epoch)."""
        return f"e{self.state.epoch}:s{self.step_key}:{suffix}"

    def step_id(self, phase: str, iteration: int, attempt: int = 1) -> str:
        """A step row's id: stable when the same DBOS step runs again after a crash; a
        later ``attempt`` of it (resuming the agent's session) is a row of its own."""
        name = f"{self.run.id}:{self.state.epoch}:{self.step_key}:{phase}:{iteration}"
        if attempt > 1:
            name += f":{attempt}"
        return str(uuid.uuid5(_STEP_NAMESPACE, name))


def _current_step_id() -> int:
    try:
        from dbos import DBOS

        step = DBOS.step_id
    except Exception:
        return 0
    return int(step) if step is not None else 0
