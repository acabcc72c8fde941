"""kill -9 of loopd while a run is in review, in verification and in merge, then a restart
(issue 6); and SIGTERM (the drain) in verification and in merge. test_durability.py covers
both in the implementation phase; these cover the others.

Each time the run ends COMPLETED, its event stream is gap-free (seq 1..N), no step started
twice for one (phase, iteration), and a merge lands exactly one commit on the target: the
merge step, run again from its start, finds its own `Agentloop-Run: <id>` trailer or merges
afresh, never twice. After a drain, the history also holds no trace of what the drain's
killing looked like (a failed verification, a canceled or failed step).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from integration.engine.test_durability import assert_history_consistent
from integration.loopd import Loopd, git, make_workspace


def step_in_progress(daemon: Loopd, run_id: str, phase: str) -> dict[str, Any] | None:
    for step in daemon.steps(run_id):
        if step["phase"] == phase and step["status"] == "IN_PROGRESS":
            return step
    return None


def crash_during(daemon: Loopd, run_id: str, phase: str) -> dict[str, Any]:
    """Wait until a ``phase`` step runs, kill -9 loopd, start it again; that step's row."""
    step = daemon.wait_for(
        lambda: step_in_progress(daemon, run_id, phase), timeout=60, what=f"a {phase} step"
    )
    daemon.kill9()
    daemon.start()
    return dict(step)


def test_kill9_during_review_then_restart_completes(daemon: Loopd, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, tasks=2, name="review-crash")
    run = daemon.create_run(workspace, model="delay=0.8", reviewer=True)
    crashed = crash_during(daemon, run["id"], "review")
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert done["tasks_done"] == 2
    assert_history_consistent(daemon, run["id"])
    again = next(s for s in daemon.steps(run["id"]) if s["id"] == crashed["id"])
    assert again["status"] == "SUCCEEDED"
    plan = git(workspace, "show", f"{done['worktree']['run_branch']}:specs/planning/demo-plan.md")
    assert plan.count("- [R]") == 2


def test_kill9_during_verification_then_restart_completes(daemon: Loopd, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, tasks=2, name="verify-crash")
    run = daemon.create_run(workspace, reviewer=False, verify_cmds="sleep 2")
    crashed = crash_during(daemon, run["id"], "verification")
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert done["tasks_done"] == 2
    assert_history_consistent(daemon, run["id"])
    again = next(s for s in daemon.steps(run["id"]) if s["id"] == crashed["id"])
    assert again["status"] == "SUCCEEDED"


def test_kill9_during_merge_then_restart_merges_exactly_once(daemon: Loopd, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, tasks=1, name="merge-crash")
    # The merged tree is verified inside the merge step, in a temporary worktree under the
    # daemon's data dir: slow only there, so the merge step has a window to die in.
    slow_in_merge = 'case "$PWD" in */data/tmp/*) sleep 1.5;; esac'
    run = daemon.create_run(
        workspace,
        reviewer=False,
        verify_cmds=slow_in_merge,
        merge_target_branch="agent/merged",
    )
    crash_during(daemon, run["id"], "merge")
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert_history_consistent(daemon, run["id"])
    trailers = git(workspace, "log", "--format=%B", "main..agent/merged")
    assert trailers.count(f"Agentloop-Run: {run['id']}") == 1
    assert git(workspace, "rev-list", "--count", "main..agent/merged") == "1"
    assert done["merge_commit"] == git(workspace, "rev-parse", "agent/merged")
    events = daemon.events(run["id"])
    merges = [e for e in events if e["event_type"] == "MERGE_COMPLETED"]
    assert len(merges) == 1 and merges[0]["payload"]["commit"] == done["merge_commit"]
    # the interrupted merge's temporary worktree is gone
    assert not [p for p in git(workspace, "worktree", "list").splitlines() if "/data/tmp/" in p]


def assert_all_steps_succeeded(daemon: Loopd, run_id: str) -> None:
    """Steps and their STEP_FINISHED events say what the run really did, not what the
    drain's killing of a command looked like (FAILED, CANCELED, exit 143)."""
    steps = daemon.steps(run_id)
    assert {s["status"] for s in steps} == {"SUCCEEDED"}, steps
    finished = [e["payload"] for e in daemon.events(run_id) if e["event_type"] == "STEP_FINISHED"]
    assert {p["exit_code"] for p in finished} == {0}, finished


def drain_during(daemon: Loopd, run_id: str, phase: str) -> None:
    """Wait until a ``phase`` step runs, SIGTERM loopd (it must exit promptly), restart."""
    daemon.wait_for(
        lambda: step_in_progress(daemon, run_id, phase), timeout=60, what=f"a {phase} step"
    )
    started = time.monotonic()
    assert daemon.stop(timeout=15) == 0
    assert time.monotonic() - started < 10
    daemon.start()


def test_sigterm_during_verification_resumes_without_a_false_failure(
    daemon: Loopd, tmp_path: Path
) -> None:
    workspace = make_workspace(tmp_path, tasks=2, name="verify-drain")
    run = daemon.create_run(workspace, reviewer=False, verify_cmds="sleep 2")
    drain_during(daemon, run["id"], "verification")
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    events = assert_history_consistent(daemon, run["id"])
    # the command stopped by the drain is not a verification failure
    assert not [e for e in events if e["event_type"] == "VERIFICATION_FAILED"]
    assert_all_steps_succeeded(daemon, run["id"])
    assert done["tasks_done"] == 2


def test_sigterm_during_merge_resumes_and_merges_once(daemon: Loopd, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, tasks=1, name="merge-drain")
    slow_in_merge = 'case "$PWD" in */data/tmp/*) sleep 1.5;; esac'
    run = daemon.create_run(
        workspace, reviewer=False, verify_cmds=slow_in_merge, merge_target_branch="agent/drained"
    )
    drain_during(daemon, run["id"], "merge")
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert_history_consistent(daemon, run["id"])
    # the verification the drain killed is not a failed merge
    assert_all_steps_succeeded(daemon, run["id"])
    assert git(workspace, "rev-list", "--count", "main..agent/drained") == "1"
    assert done["merge_commit"] == git(workspace, "rev-parse", "agent/drained")
