"""Stopping process groups: timeout, kill_owner, cancel events, stragglers, the
parent-death signal and stale groups from a previous daemon life. No orphan may survive."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentloop.agents import _proc, process
from agentloop.agents.process import (
    kill_all,
    kill_owner,
    kill_stale_group,
    live_groups,
    run_process,
    watch_owner,
)

from .support import Background, alive, wait_dead

# A leader that starts a background grandchild (printing its pid) and then waits.
FAMILY = "sleep 1000 & echo $!; sleep 1000"
# The same family, deaf to SIGTERM (ignored signals stay ignored across fork and exec).
DEAF_FAMILY = "trap '' TERM; sleep 1000 & echo $!; while :; do sleep 0.05; done"


def test_timeout_kills_the_whole_group_grandchildren_included() -> None:
    lines: list[str] = []
    result = run_process(["sh", "-c", FAMILY], on_line=lines.append, timeout_sec=0.5)
    assert result.exit_code == 124 and result.timed_out
    assert wait_dead([int(lines[0]), result.pid or 0])


def test_timeout_escalates_to_sigkill_after_the_grace_period() -> None:
    lines: list[str] = []
    start = time.monotonic()
    result = run_process(
        ["sh", "-c", DEAF_FAMILY], on_line=lines.append, timeout_sec=0.3, grace_sec=0.4
    )
    elapsed = time.monotonic() - start
    assert result.exit_code == 124
    assert 0.6 <= elapsed < 3
    assert wait_dead([int(lines[0])])


def test_kill_owner_stops_every_group_of_the_run_promptly() -> None:
    first = Background(FAMILY, owner="run-k")
    second = Background(FAMILY, owner="run-k")
    other = Background(FAMILY, owner="run-other")
    assert len(live_groups("run-k")) == 2
    start = time.monotonic()
    assert kill_owner("run-k") == 2
    assert time.monotonic() - start < 0.5  # the caller is not blocked
    for bg in (first, second):
        result = bg.join()
        assert result.cancelled and not result.timed_out
        assert result.exit_code == 128 + signal.SIGTERM
    assert wait_dead([first.grandchild, second.grandchild])
    assert time.monotonic() - start < 5
    assert alive(other.grandchild)  # another run is left alone
    assert live_groups("run-k") == []
    kill_owner("run-other")
    other.join()
    assert wait_dead([other.grandchild])


def test_kill_owner_escalates_for_a_group_deaf_to_sigterm() -> None:
    bg = Background(DEAF_FAMILY, owner="run-deaf", grace_sec=0.3)
    start = time.monotonic()
    assert kill_owner("run-deaf") == 1
    assert time.monotonic() - start < 0.5
    result = bg.join()
    assert result.cancelled
    assert wait_dead([bg.grandchild, bg.leader])
    assert time.monotonic() - start < 5


def test_kill_owner_without_live_groups_is_harmless() -> None:
    assert kill_owner("nobody") == 0


def test_kill_all_stops_groups_of_every_owner() -> None:
    a = Background(FAMILY, owner="run-1")
    b = Background(FAMILY, owner=None)
    assert kill_all(grace_sec=0.5) == 2
    assert a.join().cancelled and b.join().cancelled
    assert wait_dead([a.grandchild, b.grandchild])


def test_a_stop_that_ended_the_leader_counts_whenever_the_loop_saw_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seen under load: kill_all's group came back as a plain SIGTERM exit, not cancelled.
    The supervision loop had looked at its cancel events, then the stop came and ended the
    leader, then the loop saw the exit. Here the stop comes at exactly that point."""
    armed, stopped = threading.Event(), threading.Event()
    has_exited = _proc.has_exited

    def stop_then_look(pid: int) -> bool:
        if armed.is_set() and not stopped.is_set():
            stopped.set()
            kill_owner("run-late")
            deadline = time.monotonic() + 5
            while not has_exited(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
        return has_exited(pid)

    monkeypatch.setattr(_proc, "has_exited", stop_then_look)
    bg = Background(FAMILY, owner="run-late")
    armed.set()
    result = bg.join()
    assert stopped.is_set()
    assert result.exit_code == 128 + signal.SIGTERM
    assert result.cancelled and not result.timed_out
    assert wait_dead([bg.grandchild])


def test_cancel_event_stops_the_group() -> None:
    cancel = threading.Event()
    bg = Background(FAMILY, cancel=cancel)
    cancel.set()
    result = bg.join()
    assert result.cancelled
    assert wait_dead([bg.grandchild])


def test_already_cancelled_never_starts() -> None:
    cancel = threading.Event()
    cancel.set()
    result = run_process(["sh", "-c", "echo should-not-run"], cancel=cancel)
    assert result.cancelled and result.pid is None and result.stdout_lines == 0


def test_watch_owner_events_are_set_by_kill_owner() -> None:
    with watch_owner("run-w") as killed:
        assert not killed.is_set()
        kill_owner("run-w")
        assert killed.is_set()


def test_stragglers_that_closed_their_output_are_stopped_after_a_normal_exit() -> None:
    lines: list[str] = []
    start = time.monotonic()
    result = run_process(["sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!"], on_line=lines.append)
    assert result.exit_code == 0 and not result.cancelled
    assert time.monotonic() - start < 1
    assert wait_dead([int(lines[0])])


def test_straggler_holding_the_pipe_does_not_hang_us() -> None:
    lines: list[str] = []
    start = time.monotonic()
    result = run_process(["sh", "-c", "sleep 1000 & echo $!; exit 5"], on_line=lines.append)
    assert result.exit_code == 5
    assert time.monotonic() - start < 2
    assert wait_dead([int(lines[0])])


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _spawned_by_a_thread_that_ends(
    argv: list[str], ready: Callable[[subprocess.Popen[bytes]], bool]
) -> subprocess.Popen[bytes]:
    """Spawn ``argv`` from a thread that ends once ``ready(child)`` holds (or after 5 s)."""
    spawned: list[subprocess.Popen[bytes]] = []

    def spawn() -> None:
        child = process._spawn(argv, cwd=None, env=None, stdin_piped=False, merge_stderr=True)
        spawned.append(child)
        deadline = time.monotonic() + 5
        while not ready(child) and time.monotonic() < deadline:
            time.sleep(0.001)

    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join()
    return spawned[0]


def _read_line(child: subprocess.Popen[bytes]) -> bytes:
    assert child.stdout is not None
    return child.stdout.readline()


def _reaped(child: subprocess.Popen[bytes]) -> int:
    try:
        return child.wait(timeout=5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()


def test_parent_death_signal_fires_when_the_spawning_thread_exits() -> None:
    # The signal is armed by the time the command itself runs (setpriv arms it, then execs):
    # a spawning thread that ends sooner than that (about a millisecond) is the daemon dying
    # at spawn time, which the restart's stale-group kill covers instead.
    child = _spawned_by_a_thread_that_ends(
        ["sleep", "1000"], lambda child: _comm(child.pid) == "sleep"
    )
    assert _reaped(child) == -signal.SIGTERM


def test_a_child_whose_parent_died_gets_to_save_its_work(tmp_path: Path) -> None:
    """An agent CLI writes its session file lazily and saves it on SIGTERM: a daemon crash
    must give it that chance, or the restart resumes a conversation missing its last turns."""
    saved = tmp_path / "saved"
    program = (
        "import pathlib, signal, sys, time\n"
        "def save(*_):\n"
        f"    pathlib.Path({str(saved)!r}).write_text('session')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, save)\n"
        "print('ready', flush=True)\n"
        "time.sleep(1000)\n"
    )
    child = _spawned_by_a_thread_that_ends(
        [sys.executable, "-c", program], lambda child: _read_line(child) == b"ready\n"
    )
    assert _reaped(child) == 0
    assert saved.read_text() == "session"


_DAEMON = """
import json, sys
from agentloop.agents.process import run_process

def started(h):
    print(json.dumps({"pid": h.pid, "pgid": h.pgid, "start": h.start_time}), flush=True)

run_process(["sh", "-c", sys.argv[1]], on_start=started,
            on_line=lambda line: print(json.dumps({"line": line}), flush=True))
"""


def test_kill9_of_the_daemon_then_kill_stale_group_on_restart() -> None:
    daemon = subprocess.Popen(
        [sys.executable, "-c", _DAEMON, FAMILY], stdout=subprocess.PIPE, text=True
    )
    try:
        assert daemon.stdout is not None
        handle = json.loads(daemon.stdout.readline())
        grandchild = int(json.loads(daemon.stdout.readline())["line"])
        daemon.kill()  # kill -9: no cleanup code of ours runs
        daemon.wait()
    finally:
        if daemon.poll() is None:
            daemon.kill()
        if daemon.stdout is not None:
            daemon.stdout.close()
    # The leader dies by its parent-death signal; its grandchild (no such signal) lives on.
    assert wait_dead([handle["pid"]])
    assert alive(grandchild)
    # On restart: the recorded group still has a member, so it is stopped and awaited.
    assert kill_stale_group(handle["pgid"], handle["start"], grace_sec=0.5)
    assert wait_dead([grandchild], timeout=1)
    assert not kill_stale_group(handle["pgid"], handle["start"])  # nothing left


def test_kill_stale_group_refuses_a_reused_pid() -> None:
    with subprocess.Popen(["sleep", "30"], start_new_session=True) as stranger:
        try:
            actual = process.process_start_time(stranger.pid)
            assert actual is not None
            assert not kill_stale_group(stranger.pid, actual - 3600)  # recorded an hour ago
            assert alive(stranger.pid)
            assert kill_stale_group(stranger.pid, actual, grace_sec=0.5)
            assert stranger.wait(timeout=5) == -signal.SIGTERM
        finally:
            if stranger.poll() is None:
                stranger.kill()


def test_kill_stale_group_of_a_group_that_is_gone() -> None:
    result = run_process(["true"])
    assert result.pid is not None
    assert not kill_stale_group(result.pid, time.time())
