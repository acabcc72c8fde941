"""The invariants a walk checks at every poll, each with the time its breach may last before
it counts (a poll can land between a control call and its last write, or in a restart).

Per run, against what the fuzzer accepted last (its expectation):
- status: cancel -> CANCELED, pause -> PAUSED; resume/retry/reset -> never CANCELED and
  never user-PAUSED again, and the call left a RUN_RESUMED behind when it had to act;
- no step IN_PROGRESS on a terminal or PAUSED run, never two at once;
- no run RUNNING with nothing running (no step open, no process, no new event);
- a step in flight when the run is paused (by a control call, not the watchdog's own
  decision), canceled or reset ends CANCELED;
- a FAILED run fails for a reason the walk can cause (iteration limit, merge conflict);
- after a reset's RUN_RESUMED nothing of the attempt before it: RUN_STARTED comes first;
- events gap-free (seq 1..n); a terminal event, or a RUN_PAUSED, is followed by nothing that
  starts work until a RUN_RESUMED; never two terminal events without a RUN_RESUMED between;
  the newest terminal event matches a terminal status;
- no process carrying the run's LOOP_RUN_ID once it is terminal or PAUSED;
- no worktree left for a CANCELED or FAILED run (or a merged one) once cleanup is due; no
  worktree missing under a running step.
Per workspace: the primary checkout stays clean, on its branch, at its HEAD; no branch
loses a commit it had (tips only move forward) or disappears.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integration.fuzz.observe import (
    CLOCK_TICK,
    SETTLED,
    TERMINAL,
    TERMINAL_EVENTS,
    RunView,
    branch_tips,
    describe_pids,
    is_ancestor,
    primary_state,
    started_at,
)
from integration.fuzz.sequence import RunSpec

# How long a breach may last before it is a violation (seconds).
GRACE = {
    "status": 1.5,
    "resume_missing": 3.0,
    "step_open_while_stopped": 5.0,
    "two_open_steps": 3.0,
    "running_idle": 6.0,
    "event_state": 2.0,
    "process_left": 5.0,
    "worktree_left": 10.0,
    "cleanup_failed": 2.0,
    "worktree_missing_under_step": 3.0,
    "primary_checkout": 1.0,
    "interrupted_step_not_canceled": 5.0,
}
# Terminal events caused by the work of an attempt (a cancel is the user's).
ENDS_WORK = frozenset({"RUN_COMPLETED", "RUN_FAILED"})
# Failure reasons a walk can cause without a bug: anything else is reported.
EXPECTED_FAILURES = ("iteration_limit", "merge_conflict")
# Events that close the steps in flight (a reset's RUN_RESUMED too).
STOPS_STEPS = frozenset({"RUN_PAUSED", "RUN_CANCELED", "RUN_RESUMED"})
# Pauses the engine decides itself: the deciding step records one before its own
# STEP_FINISHED, in the same transaction; they interrupt nothing.
OWN_PAUSES = frozenset({"needs_attention", "usage_limit"})
# Event types that start work: never between a terminal event / RUN_PAUSED and a RUN_RESUMED.
STARTS_WORK = frozenset(
    {
        "RUN_STARTED",
        "WORKTREE_PROVIDER_SELECTED",
        "WORKTREE_CREATED",
        "STEP_STARTED",
        "MERGE_COMPLETED",
    }
)


@dataclass
class Tracked:
    """One run of a walk and what the fuzzer expects of it."""

    index: int
    run_id: str
    spec: RunSpec
    workspace: Path
    expect: str = "ACTIVE"  # ACTIVE | PAUSED | CANCELED
    expect_by: str = "create"
    resumed_after_ms: int | None = None  # a RUN_RESUMED must exist at or after this time
    stopped_at: float | None = None  # boot_clock() when a pause/cancel answered, until it goes on
    resets: int = 0
    worktree_paths: set[str] = field(default_factory=set)
    last: RunView | None = None

    def label(self) -> str:
        return f"r{self.index} ({self.run_id})"


@dataclass
class Violation:
    kind: str
    run: int | None
    run_id: str | None
    message: str
    at: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def headline(self) -> str:
        who = f" r{self.run} {self.run_id}" if self.run is not None else ""
        return f"[{self.kind}]{who} at {self.at}: {self.message}"


class Monitor:
    """Times each breach from the poll that first saw it; reports it once it outlasts its
    grace, once per (kind, run)."""

    def __init__(self, evidence: Callable[[Tracked | None], dict[str, Any]]) -> None:
        self._evidence = evidence
        self._first_seen: dict[tuple[Any, ...], float] = {}
        self._seen_now: set[tuple[Any, ...]] = set()
        self._reported: set[tuple[str, str | None]] = set()
        self.violations: list[Violation] = []
        self.transient: Counter[str] = Counter()
        self._tips: dict[Path, dict[str, str]] = {}
        self._primary: dict[Path, dict[str, Any]] = {}
        self.at = "start"

    # -- bookkeeping -------------------------------------------------------------------------
    def watch_workspace(self, workspace: Path) -> None:
        self._primary[workspace] = primary_state(workspace)
        self._tips[workspace] = branch_tips(workspace)

    def report(self, kind: str, tracked: Tracked | None, message: str) -> None:
        key = (kind, tracked.run_id if tracked else None)
        if key in self._reported:
            return
        self._reported.add(key)
        self.violations.append(
            Violation(
                kind=kind,
                run=tracked.index if tracked else None,
                run_id=tracked.run_id if tracked else None,
                message=message,
                at=self.at,
                evidence=self._evidence(tracked),
            )
        )

    def _breach(self, kind: str, tracked: Tracked | None, detail: str, message: str) -> None:
        """A breach seen at this poll: reported once it lasted longer than its grace."""
        key = (kind, tracked.run_id if tracked else None, detail)
        self._seen_now.add(key)
        now = time.monotonic()
        first = self._first_seen.setdefault(key, now)
        if now - first >= GRACE[kind]:
            self.report(kind, tracked, f"{message} (for {now - first:.1f}s)")

    def pending(self) -> bool:
        """A breach is being timed and has not been reported yet."""
        return any((k[0], k[1]) not in self._reported for k in self._first_seen)

    def rebase(self) -> None:
        """After a daemon restart: its downtime does not count against any grace."""
        now = time.monotonic()
        self._first_seen = dict.fromkeys(self._first_seen, now)

    # -- one poll ----------------------------------------------------------------------------
    def check(self, runs: list[Tracked], views: dict[str, RunView]) -> None:
        self._seen_now = set()
        for tracked in runs:
            view = views.get(tracked.run_id)
            if view is not None:
                tracked.last = view
                self._check_run(tracked, view)
        for workspace in self._primary:
            self._check_git(workspace)
        for key in list(self._first_seen):
            if key not in self._seen_now:
                if (key[0], key[1]) not in self._reported:
                    self.transient[key[0]] += 1
                del self._first_seen[key]

    def _check_run(self, t: Tracked, view: RunView) -> None:
        for event in view.events:
            if event["event_type"] == "WORKTREE_CREATED":
                t.worktree_paths.add(str(event["payload"].get("worktree_path")))
        self._check_status(t, view)
        self._check_steps(t, view)
        self._check_events(t, view)
        self._check_processes(t, view)
        self._check_worktree(t, view)

    def _check_status(self, t: Tracked, view: RunView) -> None:
        status, reason = view.status, view.run.get("reason")
        if status == "FAILED" and not str(reason).startswith(EXPECTED_FAILURES):
            self.report(
                "unexpected_failure",
                t,
                f"FAILED with reason {reason!r} (stand-in agents and passing verify commands "
                f"fail only for {', '.join(EXPECTED_FAILURES)})",
            )
        if t.expect in {"PAUSED", "CANCELED"} and status != t.expect:
            self._breach(
                "status",
                t,
                status,
                f"status {status} ({reason}) after an accepted {t.expect_by}: want {t.expect}",
            )
        elif t.expect == "ACTIVE" and (
            status == "CANCELED" or (status == "PAUSED" and reason == "paused")
        ):
            self._breach(
                "status",
                t,
                status,
                f"status {status} ({reason}) though the last accepted call was {t.expect_by}",
            )
        if t.resumed_after_ms is not None:
            resumed = [
                e
                for e in view.events
                if e["event_type"] == "RUN_RESUMED" and e["timestamp"] >= t.resumed_after_ms
            ]
            if resumed:
                t.resumed_after_ms = None
            else:
                self._breach(
                    "resume_missing",
                    t,
                    "",
                    f"{t.expect_by} answered 204 on a {status} run but no RUN_RESUMED followed",
                )

    def _check_steps(self, t: Tracked, view: RunView) -> None:
        open_steps = view.open_steps
        if view.status in SETTLED:
            for step in open_steps:
                self._breach(
                    "step_open_while_stopped",
                    t,
                    step["id"],
                    f"step {step['phase']} it{step['iteration']} [{step['id'][:8]}] is "
                    f"IN_PROGRESS on a {view.status} run",
                )
        if len(open_steps) > 1:
            self._breach(
                "two_open_steps",
                t,
                ",".join(sorted(s["id"] for s in open_steps)),
                f"{len(open_steps)} steps IN_PROGRESS at once",
            )
        if view.status == "RUNNING" and not open_steps and not view.pids:
            self._breach(
                "running_idle",
                t,
                str(view.last_seq),
                "RUNNING with nothing running (no open step, no process, no new event)",
            )

    def _check_events(self, t: Tracked, view: RunView) -> None:
        seqs = [e["seq"] for e in view.events]
        if seqs != list(range(1, len(seqs) + 1)):
            self.report("event_gap", t, f"event seqs are not 1..{len(seqs)}: {seqs}")
        state, last_end = "active", None
        open_ids: set[str] = set()
        interrupted: dict[str, str] = {}  # step id -> the event that stopped the run
        for event in view.events:
            kind = event["event_type"]
            if kind == "STEP_STARTED":
                open_ids.add(str(event["payload"].get("step_id")))
            elif kind == "STEP_FINISHED":
                open_ids.discard(str(event["payload"].get("step_id")))
            elif kind in STOPS_STEPS and _stops_steps(kind, event["payload"].get("reason")):
                for step_id in open_ids:
                    interrupted.setdefault(step_id, f"{kind} (seq {event['seq']})")
                open_ids = set()
            if state == "reset" and kind != "RUN_STARTED" and kind in STARTS_WORK | ENDS_WORK:
                self.report(
                    "work_after_reset",
                    t,
                    f"{kind} (seq {event['seq']}) after a reset's RUN_RESUMED and before its "
                    "RUN_STARTED: the attempt before the reset went on",
                )
            if kind in TERMINAL_EVENTS:
                if state == "ended":
                    self.report(
                        "two_terminal_events",
                        t,
                        f"{kind} (seq {event['seq']}) after {last_end} with no RUN_RESUMED",
                    )
                state, last_end = "ended", kind
            elif kind == "RUN_PAUSED":
                if state == "ended":
                    self.report(
                        "event_after_end", t, f"RUN_PAUSED (seq {event['seq']}) after {last_end}"
                    )
                else:
                    state = "paused"
            elif kind == "RUN_RESUMED":
                state = "reset" if event["payload"].get("reason") == "reset" else "active"
            elif kind == "RUN_STARTED" and state == "reset":
                state = "active"
            elif kind in STARTS_WORK and state in {"ended", "paused"}:
                after = last_end if state == "ended" else "RUN_PAUSED"
                self.report(
                    "event_after_end" if state == "ended" else "event_after_pause",
                    t,
                    f"{kind} (seq {event['seq']}) after {after} with no RUN_RESUMED between",
                )
        self._check_interrupted(t, view, interrupted)
        want = {"PAUSED": "paused"}.get(
            view.status, "ended" if view.status in TERMINAL else "active"
        )
        state = "active" if state == "reset" else state
        if state != want or (
            state == "ended" and last_end and TERMINAL_EVENTS[last_end] != view.status
        ):
            self._breach(
                "event_state",
                t,
                f"{view.status}/{state}/{last_end}",
                f"status {view.status} but the events end {state}"
                + (f" with {last_end}" if state == "ended" else ""),
            )

    def _check_interrupted(self, t: Tracked, view: RunView, interrupted: dict[str, str]) -> None:
        """A step in flight when the run was paused, canceled or reset ends CANCELED (SPEC
        2), not with what the stop's killing looked like (a failure, exit 143...)."""
        steps = {s["id"]: s for s in view.steps}
        for step_id, by in interrupted.items():
            step = steps.get(step_id)
            if step is None or step["status"] == "CANCELED":
                continue
            self._breach(
                "interrupted_step_not_canceled",
                t,
                step_id,
                f"step {step['phase']} it{step['iteration']} [{step_id[:8]}] was in flight at "
                f"{by} but is {step['status']} (exit {step.get('exit_code')}, "
                f"{str(step.get('message') or '')[:80]!r})",
            )

    def _check_processes(self, t: Tracked, view: RunView) -> None:
        if t.stopped_at is not None and view.status in {"PAUSED", "CANCELED"}:
            # The stop killed what ran; nothing of the run may start after it answered (a
            # verify command did, and ran to its end under the paused run: seed 73018).
            late = [
                pid
                for pid in view.pids
                if (start := started_at(pid)) is not None and start > t.stopped_at + CLOCK_TICK
            ]
            if late:
                self.report(
                    "started_after_stop",
                    t,
                    f"{len(late)} process(es) of the {view.status} run started after the "
                    f"accepted {t.expect_by} answered: {describe_pids(late)}",
                )
        if view.status in SETTLED and view.pids:
            self._breach(
                "process_left",
                t,
                "",
                f"{len(view.pids)} process(es) with LOOP_RUN_ID of a {view.status} run",
            )

    def _check_worktree(self, t: Tracked, view: RunView) -> None:
        run = view.run
        path = (run.get("worktree") or {}).get("worktree_path")
        due = view.status in {"CANCELED", "FAILED"} or (
            view.status == "COMPLETED" and run.get("merge_commit")
        )
        if due and path and Path(path).exists():
            self._breach(
                "worktree_left",
                t,
                path,
                f"worktree {path} still exists for a {view.status} run"
                f" (worktree_cleanup_status={run.get('worktree_cleanup_status')})",
            )
        if run.get("worktree_cleanup_status") == "failed":
            self._breach("cleanup_failed", t, "", "worktree_cleanup_status=failed")
        if view.status == "RUNNING" and view.open_steps and path and not Path(path).exists():
            step = view.open_steps[0]
            self._breach(
                "worktree_missing_under_step",
                t,
                step["id"],
                f"worktree {path} is gone while step {step['phase']} [{step['id'][:8]}] runs",
            )

    def _check_git(self, workspace: Path) -> None:
        baseline = self._primary[workspace]
        now = primary_state(workspace)
        if now["dirty"] or now["head"] != baseline["head"] or now["branch"] != baseline["branch"]:
            self._breach(
                "primary_checkout",
                None,
                str(workspace),
                f"primary checkout {workspace} changed: {baseline} -> {now}",
            )
        seen = self._tips[workspace]
        tips = branch_tips(workspace)
        for branch, old in list(seen.items()):
            new = tips.get(branch)
            if new is None:
                self.report("branch_lost", None, f"branch {branch} (was {old[:10]}) is gone")
            elif new != old and not is_ancestor(workspace, old, new):
                self.report(
                    "branch_rewritten",
                    None,
                    f"branch {branch} moved {old[:10]} -> {new[:10]}, dropping {old[:10]}",
                )
        seen.update(tips)


def _stops_steps(kind: str, reason: object) -> bool:
    """Whether an event of ``kind`` (in STOPS_STEPS) interrupts the steps in flight."""
    if kind == "RUN_RESUMED":
        return reason == "reset"
    return not (kind == "RUN_PAUSED" and reason in OWN_PAUSES)
