"""The :class:`Store`: typed methods over our tables, one transaction per call.

Events are the history; the run and step rows are projections changed in the same
transaction as the event that changes them (``append_event(..., run_changes=, step=)``).
Every method that writes takes ``conn=`` (see :mod:`.transactions`). Runs and events are
here; steps, output lines and the records beside the history (artifacts, holds, settings)
are in :mod:`.step_methods`, :mod:`.output_methods` and :mod:`.record_methods`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from agentloop.core.clock import new_id
from agentloop.core.errors import InvalidInput, NotFound
from agentloop.core.models import Event, Run, WorktreeInfo
from agentloop.core.types import EventType, MergeStrategy, NameSource, RunStatus
from agentloop.store import events as events_sql
from agentloop.store import runs as runs_sql
from agentloop.store.changes import NewEvent, StepChange
from agentloop.store.output_methods import OutputMethods
from agentloop.store.record_methods import RecordMethods
from agentloop.store.rows import clean_json, run_from_row
from agentloop.store.runs import RunCounters
from agentloop.store.step_methods import StepMethods

__all__ = ["Store"]


class Store(StepMethods, OutputMethods, RecordMethods):
    """Runs, steps, events, output, artifacts, holds and settings in one database."""

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
        expect_epoch: int | None = None,
        conn: sa.Connection | None = None,
        **columns: Any,
    ) -> Run:
        """Change run columns without an event: engine bookkeeping (``state``, counters).

        Columns come as a mapping, as keywords, or both: ``update_run(id, state={...})``.
        ``expect_status`` and ``expect_epoch`` guard it as they guard an event
        (:class:`~agentloop.store.changes.NewEvent`).
        """
        merged = {**(changes or {}), **columns}
        with self._write(conn, "update a run") as tx:
            runs_sql.update_run(tx, run_id, merged, self.now_ms(), expect_status, expect_epoch)
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

    def resumed_after(self, run_id: str, after_seq: int) -> bool:
        """Whether the run was resumed (retried, reset, failed over) after event ``after_seq``."""
        with self._read(None, "read the run's resumes") as tx:
            return events_sql.resumed_after(tx, run_id, after_seq)

    def event_seq_before_time(self, run_id: str, timestamp_ms: int) -> int:
        with self._read(None, "read events by time") as tx:
            return events_sql.seq_before_time(tx, run_id, timestamp_ms)
