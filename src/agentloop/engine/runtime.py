"""The engine's process-wide runtime: DBOS configuration and launch, and the services that
durable steps reach, each a small object of its own: the run queue (caps, wakeup, enqueue),
interrupts, usage holds, output writers, the agent factory and, on PostgreSQL, the other
hosts' liveness.

DBOS steps are module-level functions decorated at import time, so they cannot take the
store as an argument; they reach it through :func:`current`. Exactly one runtime exists per
loopd process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentloop.agents.registry import get_agent
from agentloop.engine.interrupts import Interrupts
from agentloop.engine.output_writers import OutputWriters
from agentloop.engine.run_queue import APP_NAME, RunQueue
from agentloop.engine.settings import WORKFLOW_VERSION, DaemonSettings
from agentloop.engine.usage_holds import UsageHolds

if TYPE_CHECKING:
    from agentloop.agents.base import Agent
    from agentloop.engine.hosts import HostLiveness
    from agentloop.store import Store
    from agentloop.vcs.escape import PrimarySnapshot

AgentFactory = Callable[[str], "Agent"]
"""The agent for a name (an ``agent=`` config value)."""

_log = logging.getLogger("agentloop.engine")


@dataclass
class Runtime:
    settings: DaemonSettings
    store: Store
    agents: AgentFactory = get_agent
    """The engine resolves every agent through it; a test hands in one that returns a
    function agent."""
    started_at: float = field(default_factory=time.time)
    shutting_down: bool = False
    queue: RunQueue = field(init=False)
    interrupts: Interrupts = field(default_factory=Interrupts)
    holds: UsageHolds = field(init=False)
    outputs: OutputWriters = field(init=False)
    hosts: HostLiveness | None = None
    """The many-hosts liveness monitor (PostgreSQL only)."""
    primary_snapshots: dict[str, PrimarySnapshot] = field(default_factory=dict)
    """Per run: the user's checkout as the last agent step left it (escape detection)."""

    def __post_init__(self) -> None:
        self.queue = RunQueue(self.settings, self.store)
        self.holds = UsageHolds(self.store)
        self.outputs = OutputWriters(self.store)

    # -- lifecycle ---------------------------------------------------------------------------
    def launch(self) -> None:
        from dbos import DBOS

        if not self.settings.is_postgres:
            _relax_sqlite_fsync()

        # Registers the workflows (a run's, and the cleanup after a cancel) and their steps.
        import agentloop.engine.cleanup
        import agentloop.engine.workflow  # noqa: F401

        DBOS(
            config={
                "name": APP_NAME,
                "system_database_url": self.settings.system_database_url,
                "application_version": WORKFLOW_VERSION,
                "executor_id": self.settings.executor_id,
                "log_level": "WARNING",
            }
        )
        _quiet_dbos_logs()
        self.queue.before_launch()
        DBOS.launch()
        self.queue.after_launch()

    def begin_shutdown(self) -> None:
        """SIGTERM: stop every agent; their steps stay unfinished and resume on next start."""
        self.shutting_down = True
        from agentloop.agents.process import kill_all

        kill_all()

    def finish_shutdown(self) -> None:
        from dbos import DBOS

        if self.hosts is not None:
            self.hosts.stop()
        try:
            DBOS.destroy(workflow_completion_timeout_sec=0)
        except Exception:
            _log.exception("DBOS.destroy failed during shutdown")

    def release_run(self, run_id: str) -> None:
        """Drop what this process keeps for a run that has ended."""
        self.primary_snapshots.pop(run_id, None)
        self.interrupts.forget(run_id)
        self.outputs.close(run_id)

    @property
    def uptime_s(self) -> float:
        return time.time() - self.started_at


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    """The installed runtime, for DBOS step entry points only: a step's arguments are
    checkpointed, so it cannot be handed the runtime; everything below them is."""
    if _current is None:
        raise RuntimeError("the engine runtime is not installed (loopd not started)")
    return _current


def _relax_sqlite_fsync() -> None:
    """``synchronous=NORMAL`` on every SQLite connection, DBOS's own engine included (it
    opens with FULL). In WAL mode a killed process loses nothing; a power cut may drop the
    newest commits, and since DBOS's checkpoints and our events share one WAL they drop
    together, leaving a consistent prefix that recovery carries on from."""
    import sqlite3

    import sqlalchemy as sa
    from sqlalchemy import event

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    if not event.contains(sa.engine.Engine, "connect", on_connect):
        event.listen(sa.engine.Engine, "connect", on_connect)


class _DropCancelNoise(logging.Filter):
    """DBOS logs a pause or cancel (a ``cancel_workflow``) as trouble (ENGINE-NOTES): an
    ERROR traceback of the cancelled workflow, and warnings that the execution it stopped
    waits for the outcome or no longer owns the workflow (once a resume gave it a new
    owner). They are a control call's expected echo, which loopd logs itself as one INFO
    line: demoted to DEBUG here, and shown only when DEBUG is on."""

    _ECHOES = ("was cancelled", "no longer owned by this execution")

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._is_cancel_echo(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)

    def _is_cancel_echo(self, record: logging.LogRecord) -> bool:
        from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (DBOSWorkflowCancelledError, DBOSAwaitedWorkflowCancelledError)):
            return True
        text = record.getMessage()
        return "DBOSWorkflowCancelledError" in text or any(echo in text for echo in self._ECHOES)


def _quiet_dbos_logs() -> None:
    """DBOS gives its logger a plain-text console handler of its own (``dbos._logger``):
    drop it, so its lines reach the root handler of :mod:`agentloop.logs` (JSON with
    ``--log-format json``) like everyone else's; and drop its cancel noise."""
    logger = logging.getLogger("dbos")
    logger.setLevel(logging.WARNING)
    for handler in list(logger.handlers):
        if handler.name == "__dbos_console_log_handler__":
            logger.removeHandler(handler)
    logger.propagate = True
    for existing in logger.filters:
        if isinstance(existing, _DropCancelNoise):
            return
    logger.addFilter(_DropCancelNoise())
