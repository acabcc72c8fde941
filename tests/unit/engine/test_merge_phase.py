"""The merge phase moves the target only while the run still runs (found by the control
fuzzer: a cancel during the merge's slow part let it move the target and record
MERGE_COMPLETED after RUN_CANCELED)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentloop.core.errors import Conflict, GitError
from agentloop.core.types import EventType, Phase, RunStatus, StepStatus
from agentloop.engine import control
from agentloop.engine.context import RunContext
from agentloop.engine.outcome import Kind
from agentloop.engine.runtime import Runtime
from agentloop.store import Store

from .conftest import FakeDbos, MakeRun, event_types, git

# The module itself: the package exports its merge() under the same name.
merge_phase = importlib.import_module("agentloop.engine.phases.merge")


def run_in_merge(make_run: MakeRun, workspace: Path, tmp_path: Path, **config: Any) -> str:
    worktree = tmp_path / "wt"
    git(workspace, "worktree", "add", "-q", "-b", "agent/demo", str(worktree))
    (worktree / "feature.txt").write_text("the run's work\n")
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "work")
    return make_run(
        worktree=worktree, run_branch="agent/demo", merge_target_branch="shipped", **config
    )


def stop_while_merging(
    monkeypatch: pytest.MonkeyPatch,
    runtime: Runtime,
    run_id: str,
    stop: Callable[[Runtime, str], None] = control.cancel,
) -> None:
    """The run is stopped (canceled, or paused) as the merge phase's merge begins."""
    merging = merge_phase.merge_run

    def stopped_meanwhile(*args: Any, **kwargs: Any) -> Any:
        stop(runtime, run_id)  # before the merged tree is made and verified
        return merging(*args, **kwargs)

    monkeypatch.setattr(merge_phase, "merge_run", stopped_meanwhile)


def assert_canceled_without_a_merge(store: Store, run_id: str) -> None:
    assert store.get_run(run_id).status is RunStatus.CANCELED
    assert store.get_run(run_id).merge_commit is None
    assert EventType.MERGE_COMPLETED not in event_types(store, run_id)


def test_a_cancel_before_the_target_moves_leaves_the_target_and_history_alone(
    make_run: MakeRun,
    runtime: Runtime,
    store: Store,
    workspace: Path,
    tmp_path: Path,
    fake_dbos: FakeDbos,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = run_in_merge(make_run, workspace, tmp_path)
    stop_while_merging(monkeypatch, runtime, run_id)

    with pytest.raises(Conflict):
        merge_phase.merge(RunContext.load(runtime, run_id, step_key=20))

    assert git(workspace, "branch", "--list", "shipped") == ""
    assert_canceled_without_a_merge(store, run_id)


def test_a_merge_of_a_running_run_moves_the_target_and_records_it(
    make_run: MakeRun, runtime: Runtime, store: Store, workspace: Path, tmp_path: Path
) -> None:
    run_id = run_in_merge(make_run, workspace, tmp_path)

    merge_phase.merge(RunContext.load(runtime, run_id, step_key=20))

    commit = store.get_run(run_id).merge_commit
    assert commit and git(workspace, "rev-parse", "shipped") == commit
    assert git(workspace, "show", "shipped:feature.txt") == "the run's work"
    assert EventType.MERGE_COMPLETED in event_types(store, run_id)
    assert not control.run_lock(run_id).locked()  # released once the merge was recorded


def test_a_cancel_during_a_merge_that_finds_its_work_merged_records_nothing(
    make_run: MakeRun,
    runtime: Runtime,
    store: Store,
    workspace: Path,
    tmp_path: Path,
    fake_dbos: FakeDbos,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target already has the run's merge (the step runs again after a crash that
    followed the move): the target does not move, but the merge is recorded only while the
    run still runs (fuzz seed 2126: MERGE_COMPLETED after RUN_CANCELED)."""
    run_id = run_in_merge(make_run, workspace, tmp_path)
    merge_phase.merge_run(
        workspace, "agent/demo", "shipped", "main", "squash", "merged before the crash", None,
        tmp_path / "merge-tmp", run_id=run_id,
    )  # fmt: skip
    merged = git(workspace, "rev-parse", "shipped")
    stop_while_merging(monkeypatch, runtime, run_id)

    with pytest.raises(Conflict):
        merge_phase.merge(RunContext.load(runtime, run_id, step_key=20))

    assert git(workspace, "rev-parse", "shipped") == merged
    assert_canceled_without_a_merge(store, run_id)
    assert not control.run_lock(run_id).locked()


def test_a_merge_that_git_fails_closes_its_step(
    make_run: MakeRun,
    runtime: Runtime,
    store: Store,
    workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """git failing under the merge (fuzz seed 56145: another run's `git worktree add` in the
    same repository) fails the run; its merge step must not stay IN_PROGRESS on it."""
    run_id = run_in_merge(make_run, workspace, tmp_path)

    def git_fails(*args: Any, **kwargs: Any) -> Any:
        raise GitError("git worktree add failed (exit 128)", args=["worktree", "add"])

    monkeypatch.setattr(merge_phase, "merge_run", git_fails)

    with pytest.raises(GitError):
        merge_phase.merge(RunContext.load(runtime, run_id, step_key=20))

    [step] = [s for s in store.list_steps(run_id) if s.phase is Phase.MERGE]
    assert step.status is StepStatus.FAILED
    assert "worktree add failed" in (step.message or "")


def test_the_merged_tree_is_not_verified_once_the_run_was_stopped(
    make_run: MakeRun,
    runtime: Runtime,
    store: Store,
    workspace: Path,
    tmp_path: Path,
    fake_dbos: FakeDbos,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pause that stopped the run just before the merge's verification started: the
    verification does not run (fuzz seed 73018: it ran for its full second under the paused
    run, and the merge's temporary worktree stood meanwhile)."""
    ran = tmp_path / "verified"
    run_id = run_in_merge(
        make_run, workspace, tmp_path, verify_cmds=(f"touch {ran}",), verify_merge=True
    )
    stop_while_merging(monkeypatch, runtime, run_id, control.pause)

    outcome = merge_phase.merge(RunContext.load(runtime, run_id, step_key=20))

    assert outcome.kind is Kind.STOPPED, outcome
    assert not ran.exists()
    assert git(workspace, "branch", "--list", "shipped") == ""
    assert store.get_run(run_id).status is RunStatus.PAUSED
    assert git(workspace, "worktree", "list", "--porcelain").count("worktree ") == 2
