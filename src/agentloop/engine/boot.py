"""Starting the engine: open and migrate the store, launch DBOS, reconcile run rows with
their workflows so that no run is left RUNNING with nothing running.

Runs recorded under another ``WORKFLOW_VERSION`` (a loopd before an upgrade that changed
the workflow's steps or what they return): DBOS recovers and dequeues only workflows of
this version, so theirs would stay PENDING or ENQUEUED forever, holding their queue and
workspace slots, and their recorded steps cannot replay here. Boot cancels such a workflow;
its run, when RUNNING or PENDING, ends FAILED (reason ``outdated_workflow: ...``), when
PAUSED (a usage-limit wait) stays so. A retry, or a resume, then runs the workflow again
from its first step as this version's (``control.workflow_outdated``): the run's branch,
worktree and iteration stand.
"""

from __future__ import annotations

import logging

from agentloop.core.types import EventType, RunStatus
from agentloop.engine.runtime import Runtime, install
from agentloop.engine.settings import WORKFLOW_VERSION, DaemonSettings

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

    _retire_outdated(runtime)
    for run in runtime.store.runs_by_status(RunStatus.PENDING, RunStatus.RUNNING):
        status = DBOS.get_workflow_status(run.id)
        if status is None:
            _fail(runtime, run.id, "internal_error: the run's workflow is missing")
        elif status.status == "CANCELLED":
            _pause(runtime, run.id)
        elif status.status in {"ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}:
            _fail(runtime, run.id, f"internal_error: workflow {status.status.lower()}")


def _retire_outdated(runtime: Runtime) -> None:
    """Cancel the active workflows of another version (module docstring) and fail their
    runs that were RUNNING or PENDING, saying how to go on."""
    from dbos import DBOS

    from agentloop.engine.control import workflow_outdated

    settings = runtime.settings
    active = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.PAUSED)
    for run in runtime.store.runs_by_status(*active):
        status = DBOS.get_workflow_status(run.id)
        if status is None or not workflow_outdated(run.id):
            continue
        # What this host would have recovered or dequeued at that version (on PostgreSQL
        # another host's runs are its own, or the failover's); an ended workflow is
        # reconciled as any other, and a resume or retry rewinds it.
        ours = status.status == "PENDING" and status.executor_id == settings.executor_id
        queued = status.status == "ENQUEUED" and not settings.is_postgres
        if not (ours or queued):
            continue
        DBOS.cancel_workflow(run.id)
        if run.status is not RunStatus.PAUSED:
            _fail(
                runtime,
                run.id,
                f"outdated_workflow: started by {status.app_version}, this loopd runs "
                f"{WORKFLOW_VERSION}; retry the run to go on from where it is",
            )


def _pause(runtime: Runtime, run_id: str) -> None:
    """The run's workflow was cancelled but its row never said so: it is PAUSED."""
    from agentloop.engine.context import RunContext
    from agentloop.engine.recorder import Recorder

    ctx = RunContext.load(runtime, run_id, step_key=0)
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
    finish.finish_run(RunContext.load(runtime, run_id, step_key=0), RunStatus.FAILED, reason)
