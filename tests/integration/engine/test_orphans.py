"""No orphan processes (SPEC 4) against a real loopd: an agent whose tools run in sessions
of their own (as Claude Code's Bash tool does), one of them deaf to SIGTERM, is ended with
all its tools within 5 s by cancel, pause, the agent timeout and a loopd SIGTERM; after a
kill -9 of loopd the restart ends the tools the old agent left."""

from __future__ import annotations

import time
from pathlib import Path

from integration.loopd import Loopd, processes_with_env

# Reads its prompt, starts two tools with setsid (the first ignores SIGTERM, and so does
# its sleep), writes every pid it started to the file named by $1, then hangs.
HANGING_AGENT = """\
cat >/dev/null
pids="$1"
setsid sh -c 'trap "" TERM; sleep 300 & echo $! >> "$0"; echo $$ >> "$0"; wait' "$pids" \\
    >/dev/null 2>&1 </dev/null &
setsid sleep 300 >/dev/null 2>&1 </dev/null &
echo $! >> "$pids"
echo $$ >> "$pids"
echo "tools started"
exec sleep 300
"""


def start_hanging_run(
    daemon: Loopd, workspace: Path, tmp_path: Path, **config: object
) -> tuple[str, list[int]]:
    """A run whose agent hangs with its escaped tools; its id and the first attempt's pids."""
    script = tmp_path / "hanging-agent.sh"
    script.write_text(HANGING_AGENT)
    pids_file = tmp_path / "agent-pids.txt"
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd=f"sh {script} {pids_file}",
        reviewer=False,
        agent_retries=0,
        **config,
    )

    def first_attempt() -> list[int]:
        lines = pids_file.read_text().split() if pids_file.exists() else []
        return [int(pid) for pid in lines[:4]] if len(lines) >= 4 else []

    pids = daemon.wait_for(first_attempt, timeout=30, what="the agent's tools")
    return str(run["id"]), pids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return False
    return raw[raw.rfind(")") + 2] not in "ZX"


def wait_gone(daemon: Loopd, run_id: str, since: float, pids: list[int]) -> float:
    """Seconds from ``since`` until no process of the run (nor any of ``pids``) is left;
    fails past 5 s."""
    deadline = since + 5.0
    while time.monotonic() < deadline:
        if not processes_with_env("LOOP_RUN_ID", run_id) and not any(map(alive, pids)):
            return time.monotonic() - since
        time.sleep(0.05)
    left = processes_with_env("LOOP_RUN_ID", run_id)
    raise AssertionError(f"still running 5 s later: {left} {[p for p in pids if alive(p)]}")


def test_cancel_ends_the_agent_and_its_escaped_tools_within_5s(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    run_id, pids = start_hanging_run(daemon, workspace, tmp_path)
    assert len(processes_with_env("LOOP_RUN_ID", run_id)) >= 5
    started = time.monotonic()
    assert daemon.request("POST", f"/runs/{run_id}/cancel").status_code == 204
    wait_gone(daemon, run_id, started, pids)
    assert daemon.wait_status(run_id, "CANCELED")["reason"] == "canceled"


def test_pause_ends_the_agent_and_its_escaped_tools_within_5s(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    run_id, pids = start_hanging_run(daemon, workspace, tmp_path)
    started = time.monotonic()
    assert daemon.request("POST", f"/runs/{run_id}/pause").status_code == 204
    wait_gone(daemon, run_id, started, pids)
    daemon.wait_status(run_id, "PAUSED")
    time.sleep(0.5)
    assert not processes_with_env("LOOP_RUN_ID", run_id)


def test_agent_timeout_ends_the_agent_and_its_escaped_tools_within_5s(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    run_id, pids = start_hanging_run(daemon, workspace, tmp_path, agent_timeout_sec=1, iterations=1)
    timed_out = time.monotonic() + 1.0  # at the latest: the tools started after the agent
    deadline = timed_out + 5.0
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(alive, pids)), [p for p in pids if alive(p)]
    # With one iteration the run ends (its postmortem agent times out the same way).
    daemon.wait_status(run_id, timeout=30)
    wait_gone(daemon, run_id, time.monotonic(), [])


def test_loopd_sigterm_ends_the_agent_and_its_escaped_tools_within_5s(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    run_id, pids = start_hanging_run(daemon, workspace, tmp_path)
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 5.0  # loopd waited for the SIGKILLs, then exited
    assert not processes_with_env("LOOP_RUN_ID", run_id)
    assert not any(map(alive, pids))


def test_restart_after_kill9_ends_the_tools_the_old_agent_left(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    run_id, pids = start_hanging_run(daemon, workspace, tmp_path)
    daemon.kill9()
    time.sleep(0.5)
    # The agent's leader died by its parent-death signal; the tools it ran with setsid did not.
    assert all(map(alive, pids[:3]))
    daemon.start()
    daemon.wait_for(lambda: not any(map(alive, pids)), timeout=30, what="the old tools to end")
    assert daemon.request("POST", f"/runs/{run_id}/cancel").status_code == 204
    started = time.monotonic()
    daemon.wait_status(run_id, "CANCELED")
    wait_gone(daemon, run_id, started, [])
