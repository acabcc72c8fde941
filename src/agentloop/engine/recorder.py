"""The engine's one writer of history: events with their run/step projection changes.

Every write goes through :class:`Recorder`, so each event carries an idempotency key (a
crash-replayed step writes nothing twice) and the run and step rows change in the same
transaction as the event that explains the change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from agentloop.core.clock import now_ms
from agentloop.core.events import payload_for
from agentloop.core.models import Event
from agentloop.core.types import EventType, Phase, RunStatus, StepStatus
from agentloop.engine.context import RunContext
from agentloop.store.changes import NewEvent

if TYPE_CHECKING:
    from sqlalchemy import Connection

ACTIVE_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
_TASK_COUNTS = ("tasks_done", "tasks_total")


@dataclass
class StepHandle:
    step_id: str
    phase: Phase
    iteration: int
    attempt: int
    started_ms: int
    output_path: str | None = None


class Recorder:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._batch: list[NewEvent] | None = None
        self._batch_artifacts: list[dict[str, Any]] = []
        self._batch_state = False

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write every event recorded inside the block, and the artifact rows of the steps
        it finishes, in one transaction at its end (for work with nothing slow between its
        events, such as a step's finish and the watchdog's decision). When any of them asks
        to save the engine state, the state as it is at the end of the block is saved."""
        self._batch, self._batch_artifacts, self._batch_state = [], [], False
        try:
            yield
            self._write_batch()
        finally:
            self._batch, self._batch_artifacts, self._batch_state = None, [], False

    def _write_batch(self) -> None:
        queued = self._batch
        if not queued:
            if self._batch_state:
                self.ctx.store.update_run(
                    self.ctx.run_id, state=self.ctx.state.to_json(), expect_epoch=self.ctx.attempt
                )
            return
        if self._batch_state:
            last = queued[-1]
            state = self.ctx.state.to_json()
            queued[-1] = replace(last, run_changes={**(last.run_changes or {}), "state": state})
        with self._transaction(bool(self._batch_artifacts)) as conn:
            self.ctx.store.append_events(self.ctx.run_id, queued, conn=conn)
            if self._batch_artifacts:
                self.ctx.store.index_artifacts(self.ctx.run_id, self._batch_artifacts, conn=conn)

    def event(
        self,
        event_type: EventType,
        suffix: str,
        *,
        of_step: str | None = None,
        run: dict[str, Any] | None = None,
        step: dict[str, Any] | None = None,
        state: bool = False,
        expect: frozenset[RunStatus] | None = None,
        conn: Connection | None = None,
        **payload: Any,
    ) -> Event | None:
        """Append one event of ``of_step``; ``run``/``step`` are the projection changes it
        explains. Inside :meth:`batch` the event is queued and None returned.

        ``state=True`` saves the context's engine state in the same transaction. A fenced
        context's events are refused (Conflict) once its attempt was superseded.
        """
        self._unless_draining()
        changes = dict(run or {})
        if state and self._batch is not None:
            self._batch_state = True
        elif state:
            changes["state"] = self.ctx.state.to_json()
        new = NewEvent(
            event_type=event_type,
            payload=payload_for(event_type, **payload),
            step_id=of_step,
            key=self.ctx.key(suffix),
            run_changes=changes or None,
            step=step,
            expect_status=expect,
            expect_epoch=self.ctx.attempt,
        )
        if self._batch is not None:
            self._batch.append(new)
            return None
        event: Event = self.ctx.store.append_events(self.ctx.run_id, [new], conn=conn)[0]
        return event

    def save_state(self, **run: Any) -> None:
        """Persist the engine state (and run columns) without an event. Inside
        :meth:`batch`, the state alone is saved with the batch, at its end."""
        self._unless_draining()
        if self._batch is not None and not run:
            self._batch_state = True
            return
        self.ctx.store.update_run(
            self.ctx.run_id,
            state=self.ctx.state.to_json(),
            expect_epoch=self.ctx.attempt,
            **run,
        )

    def set_run(self, **columns: Any) -> None:
        """Change run columns that no event explains (a pull request's URL), leaving the
        engine state alone. Not a step's outcome, so it is written while draining too."""
        self.ctx.store.update_run(self.ctx.run_id, **columns)

    def _unless_draining(self) -> None:
        """Once the daemon drains (SIGTERM), a step's outcome is the drain's doing: its agent
        or command was killed. Recording it would stick: the step runs again on the next
        start, but its replayed events carry the same idempotency keys, so a false
        STEP_FINISHED (CANCELED, exit 143) or VERIFICATION_FAILED would stand in for the real
        ones. So nothing is written from here on; the thread waits for the process to exit,
        leaving the step unfinished (as ``phases.guard`` does once the step returns)."""
        if self.ctx.runtime.shutting_down:
            threading.Event().wait()

    # -- steps ------------------------------------------------------------------------------
    def start_step(
        self,
        phase: Phase,
        iteration: int,
        attempt: int = 1,
        output_path: str | None = None,
        **extra: Any,
    ) -> StepHandle:
        """Open the step's row with its STEP_STARTED (``extra`` adds payload fields). A
        later attempt of the same DBOS step (one resuming the agent's session after a crash)
        is a step of its own: its id and event keys carry the attempt number."""
        step_id = self.ctx.step_id(phase.value, iteration, attempt)
        structlog.contextvars.bind_contextvars(step_id=step_id, iteration=iteration)
        handle = StepHandle(step_id, phase, iteration, attempt, now_ms(), output_path)
        run_changes: dict[str, Any] = {"phase": phase.value, "status": RunStatus.RUNNING.value}
        if phase in (Phase.IMPLEMENTATION, Phase.REVIEW, Phase.VERIFICATION):
            run_changes["iteration"] = iteration
        self.event(
            EventType.STEP_STARTED,
            f"start:{phase.value}:{iteration}{_attempt_suffix(attempt)}",
            of_step=step_id,
            run=run_changes,
            step={
                "id": step_id,
                "phase": phase.value,
                "iteration": iteration,
                "attempt": attempt,
                "status": StepStatus.IN_PROGRESS.value,
                "started_at": handle.started_ms,
                "output_path": output_path,
            },
            step_id=step_id,
            phase=phase.value,
            attempt=attempt,
            iteration=iteration,
            # A run paused or canceled since this step loaded it must not become RUNNING
            # again: the store refuses (Conflict) and the step stops.
            expect=ACTIVE_STATUSES,
            **extra,
        )
        return handle

    def finish_step(
        self,
        handle: StepHandle,
        status: StepStatus,
        *,
        exit_code: int | None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost_usd: float | None = None,
        message: str | None = None,
        run: dict[str, Any] | None = None,
        state: bool = False,
        artifacts: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> Event | None:
        """Close the step; ``artifacts`` are index rows of its logs, written in the same
        transaction; ``extra`` adds fields to the STEP_FINISHED payload. ``cost_usd`` None:
        no cost reported (the step's cost stays NULL). The payload carries the plan's task
        counts as this step leaves them (report.tsv shows each step's own)."""
        finished = now_ms()
        duration = max(0, finished - handle.started_ms)
        counts = {key: (run or {}).get(key, getattr(self.ctx.run, key)) for key in _TASK_COUNTS}
        key = f"finish:{handle.phase.value}:{handle.iteration}{_attempt_suffix(handle.attempt)}"
        with self._transaction(bool(artifacts) and self._batch is None) as conn:
            event = self.event(
                EventType.STEP_FINISHED,
                key,
                of_step=handle.step_id,
                run=run,
                state=state,
                conn=conn,
                step={
                    "id": handle.step_id,
                    "status": status.value,
                    "finished_at": finished,
                    "duration_ms": duration,
                    "exit_code": exit_code,
                    "tokens_in": tokens_in,
                    "tokens_out": tokens_out,
                    "cost_usd": cost_usd,
                    "message": message,
                    "output_path": handle.output_path,
                },
                step_id=handle.step_id,
                phase=handle.phase.value,
                exit_code=exit_code,
                duration_ms=duration,
                output_path=handle.output_path,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost_usd=cost_usd,
                **counts,
                **extra,
            )
            if artifacts and self._batch is not None:
                self._batch_artifacts.extend(artifacts)
            elif artifacts:
                self.ctx.store.index_artifacts(self.ctx.run_id, artifacts, conn=conn)
        return event

    @contextmanager
    def _transaction(self, needed: bool) -> Iterator[Connection | None]:
        """One transaction around several writes, or none for a single write."""
        if not needed:
            yield None
            return
        with self.ctx.store.transaction() as conn:
            yield conn


def _attempt_suffix(attempt: int) -> str:
    """What an attempt after the first adds to its step's event keys."""
    return f":a{attempt}" if attempt > 1 else ""
