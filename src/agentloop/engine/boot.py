"""Starting the engine: open and migrate the store, launch DBOS, reconcile run rows with
their workflows so that no run is left RUNNING with nothing running."""

from __future__ import annotations

import logging

from agentloop.core.types import EventType, RunStatus
from agentloop.engine.runtime import Runtime, install
from agentloop.engine.settings import DaemonSettings

_log = logging.getLogger("agentloop.engine")


def start_engine(settings: DaemonSettings) -> Runtime:
    from agentloop.store import Bus, Store
    from agentloop.store.db import make_engine
    from agentloop.store.migrate import migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.system_database_url)
    migrate(engine)
    store = Store(engine, bus=Bus())
    runtime = Runtime(settings=settings, store=store)
    install(runtime)
    hosts = None
    if settings.is_postgres:
        from agentloop.engine.hosts import HostLiveness

        hosts = HostLiveness(settings.system_database_url, settings.executor_id)
        hosts.claim()
    runtime.launch()
    reconcile(runtime)
    if hosts is not None:
        hosts.start(runtime)
        runtime.hosts = hosts
    return runtime


def reconcile(runtime: Runtime) -> None:
    """Bring run rows in line with their workflows after an unclean stop.

    A run row says RUNNING/PENDING while its workflow already ended (the daemon died between
    the two writes, or the workflow errored): finish it so it is not left hanging.
    """
    from dbos import DBOS

    for run in runtime.store.runs_by_status(RunStatus.PENDING, RunStatus.RUNNING):
        status = DBOS.get_workflow_status(run.id)
        if status is None:
            _fail(runtime, run.id, "internal_error: the run's workflow is missing")
        elif status.status == "CANCELLED":
            _pause(run.id)
        elif status.status in {"ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}:
            _fail(runtime, run.id, f"internal_error: workflow {status.status.lower()}")


def _pause(run_id: str) -> None:
    """The run's workflow was cancelled but its row never said so: it is PAUSED."""
    from agentloop.engine.context import RunContext
    from agentloop.engine.recorder import Recorder

    ctx = RunContext.load(run_id, step_key=0)
    Recorder(ctx).event(
        EventType.RUN_PAUSED,
        f"interrupted:{ctx.store.last_seq(run_id)}",  # a run may be interrupted again later
        run={"status": RunStatus.PAUSED.value, "reason": "interrupted"},
        reason="interrupted",
    )


def _fail(runtime: Runtime, run_id: str, reason: str) -> None:
    from agentloop.engine import finish
    from agentloop.engine.context import RunContext

    _log.warning("run %s: %s", run_id, reason)
    finish.finish_run(RunContext.load(run_id, step_key=0), RunStatus.FAILED, reason)
