"""The run queue: DBOS's ``runs`` queue with the daemon's caps, its wakeup, and the one place
a run's workflow is enqueued (always with its workspace as partition key)."""

from __future__ import annotations

import threading
import time
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
STARTUP_POLL_SEC = 0.02
"""The run queue's poll from before launch until the wakeup is installed (milliseconds)."""
QUEUE_LINGER_SEC = 2.0
"""How long the run queue keeps its short poll after this host's last step or enqueue."""


class RunQueue:
    def __init__(self, settings: DaemonSettings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self.caps = Caps()
        self._caps_lock = threading.Lock()
        self._queue: Any = None
        self._client: Any = None
        self._wakeup: Any = None

    # -- launch ------------------------------------------------------------------------------
    def before_launch(self) -> None:
        """Settle the caps and declare the queue, between ``DBOS(...)`` and its launch."""
        from agentloop.engine import host_cap

        self.caps = self._initial_caps()
        host_cap.install(QUEUE_NAME, self._settings.worker_concurrency)
        self._declare_before_launch(self.caps)

    def after_launch(self) -> None:
        self._wakeup = self._install_wakeup()
        self._queue = self._register(self.caps)

    def close(self) -> None:
        """Close the DBOS client an enqueue opened, if any."""
        if self._client is not None:
            self._client.destroy()
            self._client = None

    # -- caps --------------------------------------------------------------------------------
    def _initial_caps(self) -> Caps:
        """Flags beat caps persisted by earlier runs; those beat defaults."""
        stored = self._store.get_setting("caps") or {}
        flags = self._settings.caps
        chosen = self._settings.caps_from_flags

        def pick(key: str, default: Any) -> Any:
            if key in chosen:
                return getattr(flags, key)
            return stored.get(key, default)

        caps = Caps(
            max_concurrency=int(pick("max_concurrency", flags.max_concurrency)),
            max_runs_per_workspace=pick("max_runs_per_workspace", flags.max_runs_per_workspace),
            queue_policy=QueuePolicy(pick("queue_policy", flags.queue_policy.value)),
        )
        self._store.put_setting("caps", caps.to_json())
        return caps

    def _options(self, caps: Caps) -> dict[str, Any]:
        """The queue's row, shared by every host: the per-host cap is not in it (see
        :mod:`agentloop.engine.host_cap`)."""
        return {
            "global_concurrency": caps.max_concurrency,
            "worker_concurrency": None,
            "partition_concurrency": _partition_cap(caps),
            "polling_interval_sec": self._settings.poll_interval_sec,
        }

    def _register(self, caps: Caps) -> Any:
        from dbos import DBOS

        return DBOS.register_queue(QUEUE_NAME, **self._options(caps))

    def _declare_before_launch(self, caps: Caps) -> None:
        """Have DBOS start the run queue's worker at launch, waiting only briefly at first.

        DBOS's queue thread starts a worker for each queue it finds at launch, then looks
        for new ones once a second, and a worker's first wait (begun before
        :meth:`_install_wakeup`) cannot be woken. Registered after launch only, the queue
        of a new database got its worker a second later, and on any start the first wait
        was a whole poll: a run created in loopd's first second waited for them. So the
        queue is written before launch with a short poll; :meth:`_register` sets the
        real one right after the wakeup is installed.
        """
        from dbos import DBOS, DBOSClient

        url = self._settings.system_database_url
        DBOS.migrate(url)  # what launch does first; the client needs DBOS's tables
        client = DBOSClient(system_database_url=url, application_name=APP_NAME)
        try:
            client.register_queue(
                QUEUE_NAME,
                **{**self._options(caps), "polling_interval_sec": STARTUP_POLL_SEC},
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
                self._queue = self._register(caps)
                self._store.put_setting("caps", caps.to_json())
                self.caps = caps
                if self._wakeup is not None:
                    # DBOS's worker claims with the options it loaded before its wait: let
                    # it load these before a run created after this one can be claimed.
                    self._wakeup.await_reload(timeout=2.0)
            return caps

    # -- waking and enqueuing ----------------------------------------------------------------
    def _install_wakeup(self) -> Any:
        from agentloop.engine import queue_wakeup
        from agentloop.engine.inflight import in_flight

        return queue_wakeup.install(
            QUEUE_NAME,
            in_flight.any_running,
            idle_sec=self._settings.idle_poll_interval_sec,
            linger_sec=QUEUE_LINGER_SEC,
        )

    def wake(self) -> None:
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
        :meth:`wake` once the transaction has committed.
        """
        from dbos import DBOSClient, EnqueueOptions

        if not workspace:
            raise StoreError("enqueue needs the workspace partition key")
        if self._client is None:
            self._client = DBOSClient(system_database_url=self._settings.system_database_url)
        options = EnqueueOptions(
            workflow_name=WORKFLOW_NAME,
            queue_name=QUEUE_NAME,
            workflow_id=run_id,
            queue_partition_key=workspace,
            priority=self.priority_for_new_run(),
            app_version=WORKFLOW_VERSION,
        )
        self._client.enqueue_in_transaction(conn, options, run_id)


def _partition_cap(caps: Caps) -> int:
    """The queue is always partitioned (a key on every enqueue), so switching a per-workspace
    cap on later never strands runs enqueued without a key. DBOS wants the partition cap no
    larger than the global one, so "no per-workspace cap" is the global cap itself."""
    per_workspace = caps.max_runs_per_workspace or caps.max_concurrency
    return min(per_workspace, caps.max_concurrency)
