"""Where an agent's output goes while it runs: the iteration's log files (every run-dir
location at once), the live output stream (batched into the store, then published), retry
notices as events, and the CLI's session id onto the step's row (SPEC 18)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from agentloop.artifacts import layout
from agentloop.artifacts.tee import TeeLog
from agentloop.core.errors import Conflict
from agentloop.core.types import EventType, Phase
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.recorder import Recorder, StepHandle
from agentloop.store.sessions import Sessions


class EngineSink:
    """Implements the agents' ``AgentSink`` for one step of one run."""

    def __init__(
        self,
        ctx: RunContext,
        handle: StepHandle,
        log_name: str,
        events_name: str | None = None,
        agent: str = "",
    ) -> None:
        self.ctx = ctx
        self.handle = handle
        self.agent = agent
        self.files = RunFiles(ctx)
        self.log = TeeLog(self.files.run_dir, log_name)
        self.events_log = (
            TeeLog(self.files.run_dir, events_name, lazy=True) if events_name else None
        )
        self._lock = threading.Lock()
        self._batcher = ctx.runtime.outputs.of(ctx.run_id)
        self._retries = 0

    def output(self, line: str) -> None:
        with self._lock:
            self.log.write_line(line)
        # A run canceled while its agent is being stopped has closed its live stream: the
        # line is in the log file all the same.
        with contextlib.suppress(RuntimeError):
            self._batcher.add(
                line,
                step_id=self.handle.step_id,
                phase=self.handle.phase,
                iteration=self.handle.iteration,
            )

    def raw_event(self, line: str) -> None:
        if self.events_log is not None:
            with self._lock:
                self.events_log.write_line(line)

    def retry(
        self, attempt: int, max_retries: int | None, reason: str, delay_ms: float | None
    ) -> None:
        """The agent CLI retrying internally (claude ``system/api_retry``): show progress."""
        self._retries += 1
        shown = f"{attempt}/{max_retries}" if max_retries else str(attempt)
        self.output(f"[agentloop] agent retrying the API, attempt {shown}: {reason}")
        # Refused once a pause or reset superseded the step: its agent is being stopped.
        with contextlib.suppress(Conflict):
            Recorder(self.ctx).event(
                EventType.AGENT_RETRY,
                f"cli_retry:{self.handle.phase.value}:{self.handle.iteration}:{self._retries}",
                of_step=self.handle.step_id,
                attempt=attempt,
                reason=reason,
                backoff_ms=int(delay_ms or 0),
            )

    def started(self, pid: int, pgid: int, start_time: float) -> None:
        self.ctx.store.update_step(self.handle.step_id, pgid=pgid, proc_start_time=start_time)

    def session(self, session_id: str) -> None:
        """Recorded at once: the step may be interrupted before it ends, then resumed."""
        Sessions(self.ctx.store).record(self.handle.step_id, self.agent, session_id)

    def close(self, *, index_now: bool = True) -> list[dict[str, Any]]:
        """Commit the step's output (a step boundary is a durable checkpoint), close the
        logs and write the iteration's tail. Their index rows are written now, or (with
        ``index_now=False``) returned for the transaction that finishes the step."""
        self._batcher.flush()
        with self._lock:
            rows = self.files.finish_logs(self.log, self.events_log)
        if index_now:
            self.ctx.store.index_artifacts(self.ctx.run_id, rows)
            return []
        return rows


def log_names(phase: Phase, iteration: int) -> tuple[str, str | None]:
    """The step's output log and raw-event log (agent steps only) in the run dir."""
    if phase is Phase.REVIEW:
        return layout.review_log(iteration), layout.review_events(iteration)
    if phase is Phase.VERIFICATION:
        return layout.verify_log(iteration), None
    return layout.iter_log(iteration), layout.iter_events(iteration)
