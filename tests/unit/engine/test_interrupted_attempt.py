"""An agent step run again after its attempt was interrupted starts in a worktree git can
work in: the locks the killed attempt's git left are gone (found by the control fuzzer: a
kill -9 of loopd during the agent's ``git add`` left ``index.lock``, and every later
attempt's commit failed until the run was FAILED)."""

from __future__ import annotations

from pathlib import Path

from agentloop.core.types import Phase
from agentloop.engine.context import RunContext
from agentloop.engine.phases.resume import Start, begin_attempt
from agentloop.engine.recorder import Recorder
from agentloop.engine.runtime import Runtime

from .conftest import MakeRun, git


def test_the_next_attempt_can_commit_after_an_attempt_killed_mid_git(
    make_run: MakeRun, runtime: Runtime, workspace: Path, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    git(workspace, "worktree", "add", "-q", "-b", "agent/demo", str(worktree))
    run_id = make_run(worktree=worktree, run_branch="agent/demo")
    Recorder(RunContext.load(runtime, run_id, step_key=5)).start_step(Phase.IMPLEMENTATION, 1)
    (worktree / "half-done.txt").write_text("the interrupted attempt's edit\n")
    lock = worktree / git(worktree, "rev-parse", "--git-path", "index.lock")
    lock.write_text("")  # its git was killed holding the index

    start = begin_attempt(
        RunContext.load(runtime, run_id, step_key=5), Phase.IMPLEMENTATION, 1, worktree, "scripted"
    )

    assert start == Start()  # no session to resume: it starts over, on a clean worktree
    assert not lock.exists()
    assert git(worktree, "status", "--porcelain") == ""
    saved = git(workspace, "for-each-ref", "--format=%(refname)", "refs/agentloop/wip/")
    assert git(workspace, "show", f"{saved}:half-done.txt") == "the interrupted attempt's edit"
    (worktree / "next.txt").write_text("the next attempt's work\n")
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "next attempt")
    assert git(worktree, "log", "-1", "--format=%s") == "next attempt"
