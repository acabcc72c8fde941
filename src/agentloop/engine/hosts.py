"""Many hosts on one PostgreSQL database (SPEC 11, ENGINE-NOTES "Many hosts").

Open-source DBOS never takes over a dead executor's runs, so each loopd proves it is alive
by holding a session advisory lock named after its executor id, on a connection of its own
with TCP keepalives. A monitor thread, once a second:

- recovers the runs of any executor whose lock it can take (that owner's session is gone),
- stops the agents of local runs whose workflow another host canceled or paused,
- and, if this daemon's own lock connection broke, kills its agents and exits: otherwise two
  hosts could run the same step at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from typing import Any

from agentloop.core.errors import AgentloopError
from agentloop.engine.runtime import Runtime

LOCK_CLASS = 0x4C4F  # "LO": advisory locks of loopd executors
MONITOR_INTERVAL_SEC = 1.0
_log = logging.getLogger("agentloop.engine")

_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 20000,
}


def lock_key(executor_id: str) -> int:
    """A stable signed 32-bit key for ``pg_advisory_lock(classid, key)``."""
    value = int.from_bytes(hashlib.sha256(executor_id.encode()).digest()[:4], "big")
    return value - (1 << 32) if value >= 1 << 31 else value


def _connect(url: str) -> Any:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return psycopg.connect(plain, autocommit=True, **_KEEPALIVES)


class HostLiveness:
    """This daemon's liveness lock and the monitor of the other hosts."""

    def __init__(self, database_url: str, executor_id: str) -> None:
        self.url = database_url
        self.executor_id = executor_id
        self._lock_conn: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self) -> None:
        """Take our executor lock before DBOS launches; refuse a twin that holds it."""
        self._lock_conn = _connect(self.url)
        row = self._lock_conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, lock_key(self.executor_id))
        ).fetchone()
        if not row or not row[0]:
            self._lock_conn.close()
            raise AgentloopError(
                f"another loopd is running as executor {self.executor_id!r} on this database; "
                "give this one another --addr port or DBOS__VMID"
            )

    def start(self, runtime: Runtime) -> None:
        self._thread = threading.Thread(
            target=self._monitor, args=(runtime,), name="loopd-hosts", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._lock_conn is not None:
            with contextlib.suppress(Exception):  # closing on the way out
                self._lock_conn.close()

    # -- monitor ------------------------------------------------------------------------------
    def _monitor(self, runtime: Runtime) -> None:
        probe = None
        while not self._stop.wait(MONITOR_INTERVAL_SEC):
            try:
                self._check_own_lock(runtime)
                if probe is None or probe.closed:
                    probe = _connect(self.url)
                self._recover_dead_hosts(runtime, probe)
            except _LostLock:
                return
            except Exception:  # the monitor must keep running
                _log.exception("host monitor pass failed")
                probe = None
            stop_remotely_interrupted(runtime)

    def _check_own_lock(self, runtime: Runtime) -> None:
        try:
            self._lock_conn.execute("SELECT 1")
        except Exception:  # any failure means the lock may be gone
            if self._stop.is_set():
                raise _LostLock from None
            _log.critical(
                "lost the liveness lock connection to the database: stopping agents and "
                "exiting so that another host can safely take over this daemon's runs"
            )
            runtime.begin_shutdown()
            os._exit(70)

    def _recover_dead_hosts(self, runtime: Runtime, probe: Any) -> None:
        from dbos import DBOS

        from agentloop.engine.control import requeue_after_host_death

        runs_of: dict[str, list[str]] = {}
        for w in DBOS.list_workflows(status="PENDING", load_input=False, load_output=False):
            if w.executor_id and w.executor_id != self.executor_id:
                runs_of.setdefault(w.executor_id, []).append(w.workflow_id)
        for owner in sorted(runs_of):
            key = lock_key(owner)
            taken = probe.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, key)
            ).fetchone()
            if not taken or not taken[0]:
                continue
            try:
                for run_id in runs_of[owner]:
                    try:
                        requeue_after_host_death(runtime, run_id, owner)
                    except AgentloopError:  # not a run of ours (e.g. a postmortem)
                        _log.debug("workflow %s: not requeued as a run", run_id)
                recovered = DBOS._recover_pending_workflows([owner])
                if recovered:
                    _log.warning("executor %s is gone: took over %d run(s)", owner, len(recovered))
                    runtime.queue.wake()  # they are enqueued again: claim them now
            finally:
                probe.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, key))


class _LostLock(Exception):
    pass


def stop_remotely_interrupted(runtime: Runtime) -> None:
    """Kill local agents of runs whose workflow was canceled (pause/cancel on another host)."""
    from dbos import DBOS

    from agentloop.agents.process import live_groups

    owners = {group.owner for group in live_groups() if group.owner}
    for run_id in owners:
        try:
            # Read before the status: a resume between the two then shows the mark stale.
            fence = runtime.store.last_seq(run_id)
            status = DBOS.get_workflow_status(run_id)
        except Exception:  # not a run (a postmortem), or the database is unreachable
            continue
        if status is not None and status.status == "CANCELLED":
            runtime.interrupts.mark(run_id, fence)
            runtime.interrupts.wake(run_id)
            runtime.interrupts.kill_processes(run_id)
