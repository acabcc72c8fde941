"""The engine's process-wide runtime: DBOS configuration, the run queue, and the services
that durable steps reach (store, settings, caps).

DBOS steps are module-level functions decorated at import time, so they cannot take the
store as an argument; they reach it through :func:`current`. Exactly one runtime exists per
loopd process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentloop.core.errors import StoreError
from agentloop.core.types import QueuePolicy
from agentloop.engine.settings import WORKFLOW_VERSION, Caps, DaemonSettings

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from agentloop.store import Store

QUEUE_NAME = "runs"
WORKFLOW_NAME = "agentloop.run"
APP_NAME = "loopd"
_PRIORITY_EPOCH_S = 1_700_000_000
HOLDS_TTL_SEC = 1.0
STARTUP_POLL_SEC = 0.02
"""The run queue's poll from before launch until the wakeup is installed (milliseconds)."""
QUEUE_LINGER_SEC = 2.0
"""How long the run queue keeps its short poll after this host's last step or enqueue."""

_log = logging.getLogger("agentloop.engine")


@dataclass
class Runtime:
    settings: DaemonSettings
    store: Store
    started_at: float = field(default_factory=time.time)
    caps: Caps = field(default_factory=Caps)
    _caps_lock: threading.Lock = field(default_factory=threading.Lock)
    _queue: Any = None
    _client: Any = None
    _wakeup: Any = None
    shutting_down: bool = False
    _batchers: dict[str, Any] = field(default_factory=dict)
    _holds: dict[str, float] = field(default_factory=dict)
    _holds_read_at: float = -1e9
    _clean_runs: set[str] = field(default_factory=set)
    hosts: Any = None
    """The many-hosts liveness monitor (PostgreSQL only)."""
    primary_snapshots: dict[str, Any] = field(default_factory=dict)
    """Per run: the user's checkout as the last agent step left it (escape detection)."""
    _interrupts: dict[str, threading.Event] = field(default_factory=dict)
    _interrupts_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle ---------------------------------------------------------------------------
    def launch(self) -> None:
        from dbos import DBOS

        if not self.settings.is_postgres:
            _relax_sqlite_fsync()

        import agentloop.engine.workflow  # noqa: F401  (registers the workflow and its steps)

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
        self.caps = self._initial_caps()
        from agentloop.engine import host_cap

        host_cap.install(QUEUE_NAME, self.settings.worker_concurrency)
        self._declare_queue_before_launch(self.caps)
        DBOS.launch()
        self._wakeup = self._install_wakeup()
        self._queue = self._register_queue(self.caps)

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

    # -- interrupting runs ---------------------------------------------------------------------
    def cancel_event(self, run_id: str) -> threading.Event:
        """Set when the run is paused or canceled: agents and backoff sleeps watch it."""
        with self._interrupts_lock:
            event = self._interrupts.get(run_id)
            if event is None:
                event = self._interrupts[run_id] = threading.Event()
            return event

    def mark_interrupted(self, run_id: str) -> None:
        self._clean_runs.discard(run_id)
        self.cancel_event(run_id).set()

    def clear_interrupt(self, run_id: str) -> None:
        with self._interrupts_lock:
            self._interrupts.pop(run_id, None)

    def was_interrupted(self, run_id: str) -> bool:
        return self.cancel_event(run_id).is_set()

    def output_batcher(self, run_id: str) -> Any:
        """The run's output writer, kept across its steps (one writer thread per run)."""
        with self._interrupts_lock:
            batcher = self._batchers.get(run_id)
            if batcher is None:
                # 10 ms batches: live output reaches SSE clients within a frame or two,
                # at most a hundred small commits a second however fast the agent prints.
                batcher = self._batchers[run_id] = self.store.output_batcher(run_id, max_delay=0.01)
            return batcher

    def release_run(self, run_id: str) -> None:
        """Drop what this process keeps for a run that has ended."""
        self.primary_snapshots.pop(run_id, None)
        self._clean_runs.discard(run_id)
        with self._interrupts_lock:
            batcher = self._batchers.pop(run_id, None)
        if batcher is not None:
            batcher.close()

    def hold_of(self, agent: str) -> float | None:
        """The agent's usage-limit hold (epoch seconds), read from the store at most once a
        second: holds last minutes, and one set here is seen at once (:meth:`note_hold`)."""
        now = time.monotonic()
        if now - self._holds_read_at > HOLDS_TTL_SEC:
            self._holds = self.store.holds()
            self._holds_read_at = now
        return self._holds.get(agent)

    def note_hold(self, agent: str, resume_at: float) -> None:
        self.store.set_hold(agent, resume_at, "usage_limit")
        self._holds[agent] = resume_at

    def mark_clean(self, run_id: str) -> None:
        """A step of the run finished here, uninterrupted: its next step has no interrupted
        attempt to look for (until a pause, cancel or restart says otherwise)."""
        self._clean_runs.add(run_id)

    def is_clean(self, run_id: str) -> bool:
        return run_id in self._clean_runs

    def kill_run_processes(self, run_id: str) -> None:
        from agentloop.agents.process import kill_owner

        kill_owner(run_id)

    def interruptible_sleep(self, run_id: str) -> Callable[[float], bool]:
        """A sleep for retry backoff that ends early (returning False) on pause or cancel."""
        event = self.cancel_event(run_id)

        def sleep(seconds: float) -> bool:
            return not event.wait(seconds)

        return sleep

    # -- caps --------------------------------------------------------------------------------
    def _initial_caps(self) -> Caps:
        """Flags beat caps persisted by earlier runs; those beat defaults."""
        stored = self.store.get_setting("caps") or {}
        flags = self.settings.caps
        chosen = self.settings.caps_from_flags

        def pick(key: str, default: Any) -> Any:
            if key in chosen:
                return getattr(flags, key)
            return stored.get(key, default)

        caps = Caps(
            max_concurrency=int(pick("max_concurrency", flags.max_concurrency)),
            max_runs_per_workspace=pick("max_runs_per_workspace", flags.max_runs_per_workspace),
            queue_policy=QueuePolicy(pick("queue_policy", flags.queue_policy.value)),
        )
        self.store.put_setting("caps", caps.to_json())
        return caps

    def _queue_options(self, caps: Caps) -> dict[str, Any]:
        """The queue's row, shared by every host: the per-host cap is not in it (see
        :mod:`agentloop.engine.host_cap`)."""
        return {
            "global_concurrency": caps.max_concurrency,
            "worker_concurrency": None,
            "partition_concurrency": _partition_cap(caps),
            "polling_interval_sec": self.settings.poll_interval_sec,
        }

    def _register_queue(self, caps: Caps) -> Any:
        from dbos import DBOS

        return DBOS.register_queue(QUEUE_NAME, **self._queue_options(caps))

    def _declare_queue_before_launch(self, caps: Caps) -> None:
        """Have DBOS start the run queue's worker at launch, waiting only briefly at first.

        DBOS's queue thread starts a worker for each queue it finds at launch, then looks
        for new ones once a second, and a worker's first wait (begun before
        :meth:`_install_wakeup`) cannot be woken. Registered after launch only, the queue
        of a new database got its worker a second later, and on any start the first wait
        was a whole poll: a run created in loopd's first second waited for them. So the
        queue is written before launch with a short poll; :meth:`_register_queue` sets the
        real one right after the wakeup is installed.
        """
        from dbos import DBOS, DBOSClient

        url = self.settings.system_database_url
        DBOS.migrate(url)  # what launch does first; the client needs DBOS's tables
        client = DBOSClient(system_database_url=url, application_name=APP_NAME)
        try:
            client.register_queue(
                QUEUE_NAME,
                **{**self._queue_options(caps), "polling_interval_sec": STARTUP_POLL_SEC},
                on_conflict="always_update",
                application_name=APP_NAME,
            )
        finally:
            client.destroy()

    def apply_run_caps(self, explicit: dict[str, Any]) -> Caps:
        """A run that set caps explicitly sets the daemon's caps from its admission on."""
        if not explicit:
            return self.caps
        with self._caps_lock:
            current = self.caps
            caps = Caps(
                max_concurrency=int(explicit.get("max_concurrency", current.max_concurrency)),
                max_runs_per_workspace=explicit.get(
                    "max_runs_per_workspace", current.max_runs_per_workspace
                ),
                queue_policy=QueuePolicy(explicit.get("queue_policy", current.queue_policy.value)),
            )
            if caps != current:
                self._queue = self._register_queue(caps)
                self.store.put_setting("caps", caps.to_json())
                self.caps = caps
                if self._wakeup is not None:
                    # DBOS's worker claims with the options it loaded before its wait: let
                    # it load these before a run created after this one can be claimed.
                    self._wakeup.await_reload(timeout=2.0)
            return caps

    # -- queue -------------------------------------------------------------------------------
    def _install_wakeup(self) -> Any:
        from agentloop.engine import queue_wakeup
        from agentloop.engine.inflight import in_flight

        return queue_wakeup.install(
            QUEUE_NAME,
            in_flight.any_running,
            idle_sec=self.settings.idle_poll_interval_sec,
            linger_sec=QUEUE_LINGER_SEC,
        )

    def wake_queue(self) -> None:
        """Have this host's run queue poll now: call it after committing an enqueue (a new
        run, a resume, retry or reset), so the run starts in milliseconds, not on the next
        poll. The claim is DBOS's as ever: every cap still holds."""
        if self._wakeup is not None:
            self._wakeup.wake()

    def priority_for_new_run(self) -> int:
        """Lower runs first. FIFO: older is lower; newest_first: newer is lower."""
        ticks = int((time.time() - _PRIORITY_EPOCH_S) * 10)
        if self.caps.queue_policy is QueuePolicy.NEWEST_FIRST:
            return max(1, 2_000_000_000 - ticks)
        return max(1, ticks)

    def enqueue_in_transaction(self, conn: Connection, run_id: str, workspace: str) -> None:
        """Enqueue the run's workflow inside the caller's transaction (atomic with its row).

        The one place a run is enqueued: it always carries the workspace partition key, since
        an enqueue without one on a partitioned queue is accepted and then never runs. Call
        :meth:`wake_queue` once the transaction has committed.
        """
        from dbos import DBOSClient, EnqueueOptions

        if not workspace:
            raise StoreError("enqueue needs the workspace partition key")
        if self._client is None:
            self._client = DBOSClient(system_database_url=self.settings.system_database_url)
        options = EnqueueOptions(
            workflow_name=WORKFLOW_NAME,
            queue_name=QUEUE_NAME,
            workflow_id=run_id,
            queue_partition_key=workspace,
            priority=self.priority_for_new_run(),
            app_version=WORKFLOW_VERSION,
        )
        self._client.enqueue_in_transaction(conn, options, run_id)

    @property
    def uptime_s(self) -> float:
        return time.time() - self.started_at


def _partition_cap(caps: Caps) -> int:
    """The queue is always partitioned (a key on every enqueue), so switching a per-workspace
    cap on later never strands runs enqueued without a key. DBOS wants the partition cap no
    larger than the global one, so "no per-workspace cap" is the global cap itself."""
    per_workspace = caps.max_runs_per_workspace or caps.max_concurrency
    return min(per_workspace, caps.max_concurrency)


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
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
