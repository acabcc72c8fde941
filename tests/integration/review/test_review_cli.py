"""The real ``loopctl merge|scrap|create-pr|postmortem`` against these endpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

from integration.cli.cli_support import make_ctl
from integration.loopd import Loopd, git
from integration.review.support import branch_tip, completed_run


def test_loopctl_review_commands(daemon: Loopd, bare_daemon: Loopd, workspace: Path) -> None:
    ctl = make_ctl(daemon.addr, workspace)
    done = completed_run(daemon, workspace)
    run_id, branch = done["id"], done["worktree"]["run_branch"]

    shown = daemon.wait_for(
        lambda: (
            (r := ctl("postmortem", "--show", run_id)).code == 0 and "# Postmortem" in r.out and r
        ),
        what="the postmortem",
    )
    assert "  status: done" in shown.out and "ended COMPLETED." in shown.out
    started = ctl("--json", "postmortem", run_id)
    assert started.code == 0, started.err
    assert started.json()["data"]["result"]["postmortem"]["status"] == "running"

    merged = ctl("merge", run_id[:13])
    assert merged.code == 0, merged.err
    assert merged.out.startswith(f"merged {done['name']} ({run_id}):")
    assert "  review_status: merged" in merged.out
    assert branch_tip(workspace, "agent/demo") is not None

    unpushed = ctl("create-pr", run_id)
    assert unpushed.code == 1 and "never pushes" in unpushed.err

    scrapped = ctl("--json", "scrap", run_id)
    assert scrapped.code == 0, scrapped.err
    assert scrapped.json()["data"]["result"]["run"]["review_status"] == "merged"  # kept
    assert branch_tip(workspace, branch) is None
    assert git(workspace, "branch", "--show-current") == "main"

    if shutil.which("gh") is None:
        other = make_ctl(bare_daemon.addr, workspace)
        run = completed_run(bare_daemon, workspace)
        missing = other("create-pr", run["id"])
        assert missing.code == 1 and "gh is not installed" in missing.err
