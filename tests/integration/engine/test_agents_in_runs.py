"""Agent failures as a run sees them (SPEC 4), through the claude stand-in and the scripted
agent's knobs, on a real loopd."""

from __future__ import annotations

import time
from pathlib import Path

from integration.loopd import Loopd, make_workspace, terminal_event


def event_types(daemon: Loopd, run_id: str) -> list[str]:
    return [e["event_type"] for e in daemon.events(run_id)]


def test_claude_stand_in_carries_a_run_to_completion(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, agent="claude", model="opus", reviewer=True)
    done = daemon.wait_status(run["id"], "COMPLETED")
    assert done["tasks_done"] == 3
    assert done["tokens_in"] > 0 and done["tokens_out"] > 0 and done["cost_usd"] > 0
    run_dir = workspace / "logs" / "loop" / f"run-{run['id']}"
    raw = (run_dir / "iter-01.events.jsonl").read_text().splitlines()
    assert any('"type":"system"' in line or '"type": "system"' in line for line in raw)
    lines = [o["line"] for o in daemon.output(run["id"])]
    assert any("Completed" in line for line in lines)


def test_not_logged_in_fails_the_run_at_once_with_the_agents_message(
    daemon: Loopd, workspace: Path
):
    run = daemon.create_run(
        workspace, agent="claude", model="standin:not_logged_in", agent_retries=3
    )
    done = daemon.wait_status(run["id"], "FAILED")
    assert done["reason"] == "Not logged in · Please run /login"
    assert "AGENT_RETRY" not in event_types(daemon, run["id"])
    assert done["iteration"] == 1


def test_transient_overload_is_retried_with_backoff_then_fails(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace,
        agent="claude",
        model="standin:overloaded",
        agent_retries=0,
        agent_retry_backoff_sec=0.01,
    )
    done = daemon.wait_status(run["id"], "FAILED")
    assert done["reason"].startswith("agent_transient")
    retries = [e["payload"] for e in daemon.events(run["id"]) if e["event_type"] == "AGENT_RETRY"]
    ours = [p["backoff_ms"] for p in retries if p["reason"].startswith("transient:")]
    assert ours == [10, 20, 40, 80, 160]  # five retries even with agent_retries=0, doubling
    # the CLI's own retries (system/api_retry) are surfaced too, as progress
    assert any(p["reason"] == "529 overloaded_error" for p in retries)


def test_transient_failures_that_clear_do_not_fail_the_run(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace, model="transient=2", agent_retry_backoff_sec=0.01, reviewer=False
    )
    done = daemon.wait_status(run["id"], "COMPLETED")
    assert done["tasks_done"] == 3
    assert event_types(daemon, run["id"]).count("AGENT_RETRY") == 2


def test_a_crashing_agent_is_retried_per_policy_then_fails(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace,
        agent="claude",
        model="standin:crash",
        agent_retries=1,
        agent_retry_backoff_sec=0.01,
    )
    done = daemon.wait_status(run["id"], "FAILED")
    assert done["reason"].startswith("agent_crash")
    assert event_types(daemon, run["id"]).count("AGENT_RETRY") == 1


def test_a_hung_agent_times_out(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, agent="claude", model="standin:hang", agent_timeout_sec=1)
    started = time.monotonic()
    done = daemon.wait_status(run["id"], "FAILED", timeout=30)
    assert time.monotonic() - started < 20
    assert done["reason"].startswith("agent_timeout")
    step = next(s for s in daemon.steps(run["id"]) if s["phase"] == "implementation")
    assert step["exit_code"] == 124


def test_a_usage_limit_pauses_the_run_and_it_resumes_by_itself(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace, model="usage_limit=0", usage_limit_wait_sec=2, reviewer=False
    )
    paused = daemon.wait_status(run["id"], "PAUSED", timeout=30)
    assert paused["reason"] == "usage_limit" and paused["resume_at"] > time.time()
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["tasks_done"] == 3
    assert done["iteration"] == 3  # the limited attempt did not use up an iteration
    events = daemon.events(run["id"])
    pause = next(e for e in events if e["event_type"] == "RUN_PAUSED")
    assert pause["payload"]["reason"] == "usage_limit" and pause["payload"]["resume_at"]
    assert "RUN_RESUMED" in [e["event_type"] for e in events]
    assert terminal_event(events)["event_type"] == "RUN_COMPLETED"


def test_a_usage_limit_holds_other_runs_of_the_same_agent(daemon: Loopd, tmp_path: Path):
    first = make_workspace(tmp_path, tasks=2, name="first")
    second = make_workspace(tmp_path, tasks=2, name="second")
    limited = daemon.create_run(
        first, model="usage_limit=0", usage_limit_wait_sec=3, reviewer=False
    )
    daemon.wait_status(limited["id"], "PAUSED", timeout=30)
    other = daemon.create_run(second, reviewer=False)
    held = daemon.wait_status(other["id"], "PAUSED", timeout=30)
    assert held["reason"] == "usage_limit"
    holds = [e for e in daemon.events(other["id"]) if e["event_type"] == "AGENT_HOLD"]
    assert holds and holds[0]["payload"]["agent"] == "scripted"
    for run in (limited, other):
        assert daemon.wait_status(run["id"], "COMPLETED", timeout=60)["tasks_done"] == 2


def test_a_usage_limit_switches_to_a_fallback_agent(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace,
        agent="claude",
        model="standin:usage_limit",
        fallback_agents="scripted",
        reviewer=False,
    )
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["tasks_done"] == 3
    assert "RUN_PAUSED" not in event_types(daemon, run["id"])


def test_haiku_naming_asks_the_agent_cli_for_a_label(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, agent="claude", model="opus", reviewer=False)
    assert run["name"] == "Tidy Greeting Module" and run["name_source"] == "haiku"
    assert daemon.wait_status(run["id"], "COMPLETED")["worktree"]["run_branch"] == (
        "run/tidy-greeting-module"
    )


def test_naming_falls_back_to_the_spec_slug(tmp_path: Path):
    import os

    from standins import standin_env

    loopd = Loopd(
        tmp_path / "data", env=standin_env(base={"PATH": os.environ["PATH"]}, STANDIN_LABEL="fail")
    ).start()
    try:
        workspace = make_workspace(tmp_path)
        run = loopd.create_run(workspace, agent="claude", model="opus")
        assert run["name"] == "demo" and run["name_source"] == "spec_slug"
        loopd.request("POST", f"/runs/{run['id']}/cancel")
    finally:
        loopd.stop()


def test_claude_refusing_root_fails_the_run_at_once_with_the_hint(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace, agent="claude", model="standin:root_refusal", agent_retries=3
    )
    done = daemon.wait_status(run["id"], "FAILED")
    assert done["reason"] == (
        "--dangerously-skip-permissions cannot be used with root/sudo privileges for security"
        " reasons (loopd runs as root: set IS_SANDBOX=1 in loopd's environment, or run loopd"
        " as a normal user)"
    )
    assert "AGENT_RETRY" not in event_types(daemon, run["id"])
    assert done["iteration"] == 1
