"""The :class:`Store`: typed methods over our tables, one transaction per call.

Events are the history; the run and step rows are projections changed in the same
transaction as the event that changes them (``append_event(..., run_changes=, step=)``).
Every method that writes takes ``conn=``: pass the connection of ``store.transaction()`` to
group several calls (and, in the engine, DBOS's ``enqueue_in_transaction``) into one
transaction. Committed events and output lines are handed to the :class:`Bus` after the
commit; writes made on a connection that did not come from ``store.transaction()`` are not
published (subscribers still see them on their next database re-read, within about 1 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agentloop.core.errors import InvalidInput, NotFound
from agentloop.core.models import Artifact, Event, OutputLine, Run, Step, WorktreeInfo
from agentloop.core.types import (
    ArtifactLocation,
    EventType,
    MergeStrategy,
    NameSource,
    Phase,
    RunStatus,
    StepStatus,
)
from agentloop.store import events as events_sql
from agentloop.store import output as output_sql
from agentloop.store import records
from agentloop.store import runs as runs_sql
from agentloop.store import steps as steps_sql
from agentloop.store.bus import Bus
from agentloop.store.changes import NewEvent, NewOutputLine, StepChange
from agentloop.store.db import SQLITE_BEGIN_OPTION, translate_errors
from agentloop.store.rows import clean_json, new_id, run_from_row
from agentloop.store.runs import RunCounters
from agentloop.store.steps import StepProcess

if TYPE_CHECKING:
    from agentloop.store.output_writer import OutputBatcher

log = logging.getLogger(__name__)

_Publication = tuple[str, str, Sequence[Event] | Sequence[OutputLine]]  # (kind, run id, items)


class Store:
    """Runs, steps, events, output, artifacts, holds and settings in one database."""

    def __init__(
        self, engine: Engine, *, bus: Bus | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.bus = bus
        self._clock = clock
        self._pending: dict[sa.Connection, list[_Publication]] = {}
        self._pending_lock = threading.Lock()

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self, operation: str = "database transaction") -> Iterator[sa.Connection]:
        """One write transaction; what it appended is published to the bus after commit."""
        pending: list[_Publication] = []
        with translate_errors(operation), self.engine.begin() as conn:
            with self._pending_lock:
                self._pending[conn] = pending
            try:
                yield conn
            finally:
                with self._pending_lock:
                    self._pending.pop(conn, None)
        self._publish(pending)

    @contextmanager
    def _write(self, conn: sa.Connection | None, operation: str) -> Iterator[sa.Connection]:
        if conn is None:
            with self.transaction(operation) as own:
                yield own
        else:
            with translate_errors(operation):
                yield conn

    @contextmanager
    def _read(self, conn: sa.Connection | None, operation: str) -> Iterator[sa.Connection]:
        if conn is not None:
            with translate_errors(operation):
                yield conn
            return
        with translate_errors(operation), self.engine.connect() as own:
            own.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
            yield own

    def _queue(self, conn: sa.Connection, publication: _Publication) -> None:
        with self._pending_lock:
            pending = self._pending.get(conn)
        if pending is not None:
            pending.append(publication)

    def _publish(self, pending: list[_Publication]) -> None:
        if self.bus is None:
            return
        for kind, run_id, items in pending:
            try:
                if kind == "events":
                    self.bus.publish_events(run_id, items)  # type: ignore[arg-type]
                else:
                    self.bus.publish_output(run_id, items)  # type: ignore[arg-type]
            except Exception:  # the bus must never fail a committed write
                log.exception("publishing %s of run %s failed", kind, run_id)

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        conn: sa.Connection | None = None,
        *,
        name: str,
        name_source: NameSource,
        workspace_root: str,
        spec_path: str,
        plan_path: str,
        config: Mapping[str, Any],
        run_id: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        worktree: WorktreeInfo | None = None,
        base_branch: str | None = None,
        run_branch: str | None = None,
        merge_target_branch: str | None = None,
        merge_strategy: MergeStrategy | str | None = None,
        worktree_path: str | None = None,
        worktree_provider: str | None = None,
        tasks_total: int = 0,
        tasks_done: int = 0,
        state: Mapping[str, Any] | None = None,
    ) -> Run:
        """Insert a ``PENDING`` run and its ``RUN_CREATED`` event (seq 1) atomically.

        Worktree fields come as ``worktree=WorktreeInfo(...)`` or as the flat columns
        (``base_branch=`` ...), which win. Pass ``conn`` (from ``store.transaction()``) to
        enqueue the run's workflow in the same transaction.
        """
        run_id = run_id or new_id()
        now = self.now_ms()
        tree = worktree or WorktreeInfo()
        flat = {
            "base_branch": base_branch, "run_branch": run_branch,
            "merge_target_branch": merge_target_branch, "merge_strategy": merge_strategy,
            "worktree_path": worktree_path, "provider": worktree_provider,
        }  # fmt: skip
        tree = tree.model_copy(update={k: v for k, v in flat.items() if v is not None})
        values = {
            "id": run_id, "name": name, "name_source": NameSource(name_source).value,
            "status": RunStatus.PENDING.value, "workspace_root": workspace_root,
            "spec_path": spec_path, "plan_path": plan_path, "agent": agent, "model": model,
            "base_branch": tree.base_branch, "run_branch": tree.run_branch,
            "merge_target_branch": tree.merge_target_branch,
            "merge_strategy": MergeStrategy(tree.merge_strategy).value,
            "worktree_path": tree.worktree_path,
            "worktree_provider": tree.provider, "tasks_total": tasks_total,
            "tasks_done": tasks_done, "config": clean_json(dict(config)),
            "state": clean_json(dict(state or {})), "created_at": now, "updated_at": now,
        }  # fmt: skip
        created = NewEvent(
            EventType.RUN_CREATED,
            {"name": name, "name_source": NameSource(name_source).value,
             "spec_path": spec_path, "plan_path": plan_path},
            key="run_created",
        )  # fmt: skip
        with self._write(conn, "create a run") as tx:
            runs_sql.insert_run(tx, values)
            event, _ = events_sql.append(tx, run_id, created, now)
            self._queue(tx, ("events", run_id, [event]))
            return runs_sql.get_run(tx, run_id)

    def get_run(self, run_id: str, *, conn: sa.Connection | None = None) -> Run:
        with self._read(conn, "read a run") as tx:
            return runs_sql.get_run(tx, run_id)

    def get_run_with_state(self, run_id: str) -> tuple[Run, dict[str, Any]]:
        """The run and its engine bookkeeping JSON, from one read of its row."""
        with self._read(None, "read a run") as tx:
            row = runs_sql.run_row(tx, run_id)
            return run_from_row(row), dict(row["state"] or {})

    def get_run_state(self, run_id: str, *, conn: sa.Connection | None = None) -> dict[str, Any]:
        """The engine's own bookkeeping JSON of a run (column ``state``)."""
        return self.get_run_counters(run_id, conn=conn).state

    def get_run_counters(self, run_id: str, *, conn: sa.Connection | None = None) -> RunCounters:
        """The run's counters, ``state`` and sequence counters in one read."""
        with self._read(conn, "read a run's state") as tx:
            return runs_sql.get_run_counters(tx, run_id)

    def find_runs(self, ref: str) -> list[Run]:
        """Runs matching an id, an id prefix or a name (newest first)."""
        with self._read(None, "find runs") as tx:
            return runs_sql.find_runs(tx, ref)

    def resolve_run(self, ref: str) -> Run:
        """The one run ``ref`` names; NotFound, or InvalidInput when it is ambiguous."""
        found = self.find_runs(ref)
        if not found:
            raise NotFound(f"no run matches {ref!r}", ref=ref)
        if len(found) > 1:
            ids = [run.id for run in found]
            matches = [
                {"id": run.id, "name": run.name, "status": run.status.value,
                 "created_at": run.created_at}
                for run in found
            ]  # fmt: skip
            raise InvalidInput(
                f"{ref!r} matches {len(found)} runs: {', '.join(ids)}", ref=ref, matches=matches
            )
        return found[0]

    def list_runs(
        self,
        *,
        workspace_root: str | None = None,
        status: RunStatus | str | Collection[RunStatus | str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Run], int]:
        """A page of runs, newest first, and the total matching the filters."""
        with self._read(None, "list runs") as tx:
            return runs_sql.list_runs(
                tx, workspace_root=workspace_root, status=status, limit=limit, offset=offset
            )

    def runs_by_status(
        self, *statuses: RunStatus | str, workspace_root: str | None = None
    ) -> list[Run]:
        """Runs in any of ``statuses``, oldest first."""
        with self._read(None, "list runs by status") as tx:
            return runs_sql.runs_by_status(tx, statuses, workspace_root)

    def count_by_status(self) -> dict[RunStatus, int]:
        with self._read(None, "count runs") as tx:
            return runs_sql.count_by_status(tx)

    def count_active(self) -> int:
        """Runs currently ``RUNNING`` (``/health``'s ``runs_active``)."""
        return self.count_by_status()[RunStatus.RUNNING]

    def update_run(
        self,
        run_id: str,
        changes: Mapping[str, Any] | None = None,
        *,
        expect_status: Collection[RunStatus] | None = None,
        conn: sa.Connection | None = None,
        **columns: Any,
    ) -> Run:
        """Change run columns without an event: engine bookkeeping (``state``, counters).

        Columns come as a mapping, as keywords, or both: ``update_run(id, state={...})``.
        """
        merged = {**(changes or {}), **columns}
        with self._write(conn, "update a run") as tx:
            runs_sql.update_run(tx, run_id, merged, self.now_ms(), expect_status)
            return runs_sql.get_run(tx, run_id)

    # -- events ------------------------------------------------------------------------

    def append_event(
        self,
        run_id: str,
        event_type: EventType,
        payload: Mapping[str, Any] | None = None,
        *,
        step_id: str | None = None,
        key: str | None = None,
        run_changes: Mapping[str, Any] | None = None,
        step: StepChange | Mapping[str, Any] | None = None,
        expect_status: Collection[RunStatus] | None = None,
        timestamp: int | None = None,
        conn: sa.Connection | None = None,
    ) -> Event:
        """Append one event and apply its run/step changes in one transaction.

        Idempotent with ``key``: a second append with the same key returns the first event.
        ``step`` is a :class:`StepChange` or a mapping of its fields.
        """
        new = NewEvent(event_type, payload or {}, step_id, key, run_changes, step,
                       expect_status, timestamp)  # fmt: skip
        return self.append_events(run_id, [new], conn=conn)[0]

    def append_events(
        self, run_id: str, new_events: Sequence[NewEvent], *, conn: sa.Connection | None = None
    ) -> list[Event]:
        """Append several events of one run atomically (e.g. STEP_FINISHED + RUN_COMPLETED)."""
        now = self.now_ms()
        with self._write(conn, "append events") as tx:
            appended = [events_sql.append(tx, run_id, new, now) for new in new_events]
            fresh = [event for event, created in appended if created]
            if fresh:
                self._queue(tx, ("events", run_id, fresh))
            return [event for event, _ in appended]

    def events_after(
        self, run_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[Event]:
        with self._read(None, "read events") as tx:
            return events_sql.events_after(tx, run_id, after_seq, limit)

    def last_seq(self, run_id: str) -> int:
        with self._read(None, "read the last event seq") as tx:
            return events_sql.last_seq(tx, run_id)

    def event_seq_before_time(self, run_id: str, timestamp_ms: int) -> int:
        with self._read(None, "read events by time") as tx:
            return events_sql.seq_before_time(tx, run_id, timestamp_ms)

    # -- steps -------------------------------------------------------------------------

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

    # -- output ------------------------------------------------------------------------

    def append_output(
        self,
        run_id: str,
        lines: Sequence[NewOutputLine | tuple[str | None, Phase, int, str, int]],
        *,
        conn: sa.Connection | None = None,
    ) -> list[OutputLine]:
        """Append output lines with gap-free seqs in one transaction, then publish them."""
        items = [NewOutputLine(*line) for line in lines]
        with self._write(conn, "append output") as tx:
            stored = output_sql.append_output(tx, run_id, items)
            self._queue(tx, ("output", run_id, stored))
            return stored

    def output_batcher(self, run_id: str, **options: Any) -> OutputBatcher:
        """A batching writer of ``run_id``'s output lines (see :class:`OutputBatcher`)."""
        from agentloop.store.output_writer import OutputBatcher

        return OutputBatcher(self, run_id, **options)

    def output_after(
        self, run_id: str, after_seq: int = 0, limit: int | None = 1000
    ) -> list[OutputLine]:
        with self._read(None, "read output") as tx:
            return output_sql.output_after(tx, run_id, after_seq, limit)

    def output_offset(self, run_id: str, step_id: str | None, seq: int) -> int:
        """The byte offset of output line ``seq`` within its step's output."""
        with self._read(None, "read output offsets") as tx:
            return output_sql.step_bytes_before(tx, run_id, step_id, seq)

    def output_seq_before_offset(self, run_id: str, offset: int) -> int:
        with self._read(None, "read output offsets") as tx:
            return output_sql.seq_before_offset(tx, run_id, offset)

    # -- artifacts, holds, settings ----------------------------------------------------

    def index_artifact(
        self,
        run_id: str,
        kind: str,
        location: ArtifactLocation,
        path: str,
        checksum: str,
        size: int,
        *,
        conn: sa.Connection | None = None,
    ) -> Artifact:
        """Record (or update) one file of a run; keyed by (run, location, path)."""
        with self._write(conn, "index an artifact") as tx:
            return records.index_artifact(
                tx, run_id, kind=kind, location=location, path=path, checksum=checksum,
                size=size, now=self.now_ms(),
            )  # fmt: skip

    def index_artifacts(
        self,
        run_id: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        conn: sa.Connection | None = None,
    ) -> None:
        """Record many files at once (``kind, location, path, checksum, size`` each)."""
        with self._write(conn, "index artifacts") as tx:
            records.index_artifacts(tx, run_id, rows, self.now_ms())

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        with self._read(None, "list artifacts") as tx:
            return records.list_artifacts(tx, run_id)

    def set_hold(self, agent: str, resume_at: float, reason: str | None = None) -> None:
        """Hold every run's use of ``agent`` until ``resume_at`` (epoch seconds)."""
        with self._write(None, "set an agent hold") as tx:
            records.set_hold(tx, agent, resume_at, reason, self.now_ms())

    def get_hold(self, agent: str) -> float | None:
        """When ``agent`` may be used again, or None when it is not held (or the hold expired)."""
        return self.holds().get(agent)

    def holds(self) -> dict[str, float]:
        """Every agent currently on hold, with its ``resume_at``."""
        with self._read(None, "read agent holds") as tx:
            return records.holds(tx, self._clock())

    def clear_hold(self, agent: str) -> None:
        with self._write(None, "clear an agent hold") as tx:
            records.clear_hold(tx, agent)

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._read(None, "read a setting") as tx:
            return records.get_settings(tx, [key]).get(key, default)

    def settings(self) -> dict[str, Any]:
        with self._read(None, "read settings") as tx:
            return records.get_settings(tx)

    def put_setting(self, key: str, value: Any, *, conn: sa.Connection | None = None) -> None:
        """Store a JSON value under ``key`` (daemon caps set by runs, SPEC 11)."""
        with self._write(conn, "write a setting") as tx:
            records.put_setting(tx, key, value, self.now_ms())
