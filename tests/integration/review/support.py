"""Helpers of the review tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from integration.loopd import Loopd, git


def history(daemon: Loopd, run_id: str) -> list[dict[str, Any]]:
    """Every event stored so far (no waiting for live ones)."""
    with daemon.client() as client:
        text = client.get(f"/runs/{run_id}/events?follow=false").text
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


def types(daemon: Loopd, run_id: str) -> list[str]:
    return [e["event_type"] for e in history(daemon, run_id)]


def completed_run(daemon: Loopd, workspace: Path, **config: Any) -> dict[str, Any]:
    """A run that completed without a merge target: it awaits review."""
    run = daemon.create_run(workspace, reviewer=False, **config)
    daemon.wait_status(run["id"], "COMPLETED")
    # the status is written first, the worktree cleanup decision just after
    done = daemon.wait_for(
        lambda: (r := daemon.run(run["id"]))["worktree_cleanup_status"] and r,
        what="the cleanup decision",
    )
    assert done["merge_commit"] is None and done["worktree_cleanup_status"] == "deferred"
    return dict(done)


def branch_tip(workspace: Path, branch: str) -> str | None:
    out = git(workspace, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
    return out or None


def commit_on(workspace: Path, branch: str, path: str, text: str, scratch: Path) -> str:
    """Commit ``path`` = ``text`` on ``branch`` (created from main when missing) without
    touching the workspace's checkout."""
    if branch_tip(workspace, branch) is None:
        git(workspace, "branch", branch, "main")
    git(workspace, "worktree", "add", "-q", str(scratch), branch)
    (scratch / path).parent.mkdir(parents=True, exist_ok=True)
    (scratch / path).write_text(text)
    git(scratch, "add", "-A")
    git(scratch, "commit", "-q", "-m", f"edit {path}")
    git(workspace, "worktree", "remove", "--force", str(scratch))
    tip = branch_tip(workspace, branch)
    assert tip is not None
    return tip
