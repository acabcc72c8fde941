"""The end-to-end check every real CLI must pass: a loopd run of three tasks with the reviewer
on, ``verify_cmds`` and a merge target, carried to COMPLETED by the real CLI against its mock
model server; then what the run must have recorded."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from integration.loopd import Loopd, git

VERIFY = "test -f task-number-1.txt"


OUR_RETRIES = ("transient:", "crash:", "timeout:")

# A run that ends FAILED asks its agent for a postmortem: a test that counts the step's
# model requests after the failure would race that request.
WITHOUT_POSTMORTEM: dict[str, Any] = {"postmortem": False}


def agent_retries(daemon: Loopd, run_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The AGENT_RETRY events: (the payloads of the CLI retrying its API on its own, the
    reasons of our loop retrying the step)."""
    payloads = [
        e["payload"] for e in daemon.stored_events(run_id) if e["event_type"] == "AGENT_RETRY"
    ]
    ours = [str(p["reason"]) for p in payloads if str(p["reason"]).startswith(OUR_RETRIES)]
    return [p for p in payloads if not str(p["reason"]).startswith(OUR_RETRIES)], ours


def run_to_completion(
    daemon: Loopd, workspace: Path, agent: str, *, timeout: float = 240, **config: Any
) -> tuple[dict[str, Any], float]:
    """Start the run, wait for COMPLETED; (the run, seconds it took)."""
    started = time.monotonic()
    run = daemon.create_run(
        workspace,
        agent=agent,
        verify_cmds=VERIFY,
        merge_target_branch="agent/demo",
        run_naming_mode="spec_slug",
        **config,
    )
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=timeout)
    return done, time.monotonic() - started


def check_completed_run(daemon: Loopd, workspace: Path, run: dict[str, Any], *, cost: bool) -> None:
    """Everything a completed real-CLI run must show (issue: real agent CLIs)."""
    assert run["tasks_done"] == run["tasks_total"] == 3
    plan = git(workspace, "show", "agent/demo:specs/planning/demo-plan.md")
    assert plan.count("- [R]") == 3 and "- [ ]" not in plan and "- [x]" not in plan
    assert run["tokens_in"] > 0 and run["tokens_out"] > 0
    if cost:
        assert run["cost_usd"] and run["cost_usd"] > 0
    else:
        assert run["cost_usd"] is None
    steps = daemon.steps(run["id"])
    agent_steps = [s for s in steps if s["phase"] in ("implementation", "review")]
    assert {s["phase"] for s in agent_steps} == {"implementation", "review"}
    assert all(s["status"] == "SUCCEEDED" for s in agent_steps)
    assert all((s.get("tokens_in") or 0) > 0 for s in agent_steps), agent_steps

    run_dir = workspace / "logs" / "loop" / f"run-{run['id']}"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["tokens_in"] == run["tokens_in"] and summary["tokens_out"] == run["tokens_out"]
    assert summary["tokens_in"] > 0
    iter_log = (run_dir / "iter-01.log").read_text()
    assert "Completed task number 1. 2 tasks remain." in iter_log
    review_log = (run_dir / "review-01.log").read_text()
    assert "Review complete. Returning to implementation." in review_log
    for step in agent_steps:
        prefix = "iter" if step["phase"] == "implementation" else "review"
        raw = run_dir / f"{prefix}-{step['iteration']:02d}.events.jsonl"
        assert raw.exists() and raw.stat().st_size > 0, raw
        for line in raw.read_text().splitlines():
            json.loads(line)
