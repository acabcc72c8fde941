"""No orphan processes (SPEC 4): a stop also ends what left the process group or session
(agent CLIs run their tools with setsid), found by the environment markers every child
inherits and by the leader's descendants. Real processes, found the way an operator would:
by scanning /proc for a marker in their environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from agentloop.agents import _proc
from agentloop.agents._escapees import Scope, Sweep
from agentloop.agents.process import (
    kill_all,
    kill_owner,
    kill_stale_group,
    run_process,
    wait_stopped,
)
from integration.loopd import processes_with_env

from .support import Background, alive, wait_dead

# Tools in sessions of their own: one deaf to SIGTERM (ignored signals stay ignored across
# fork and exec, so its sleep is deaf too), one plain. Their output goes elsewhere, as a
# detached tool's does; the leader then hangs.
ESCAPEES = (
    "setsid sh -c \"trap '' TERM; sleep 300\" >/dev/null 2>&1 </dev/null & "
    "setsid sleep 300 >/dev/null 2>&1 </dev/null & "
)
HANGING = ESCAPEES + "echo started; sleep 300"
# The same, but the escapees keep the leader's stdout open (run_process waits for EOF).
HANGING_HOLDING_THE_PIPE = (
    "setsid sh -c \"trap '' TERM; sleep 300\" & setsid sleep 300 & echo started; sleep 300"
)


def marked(key: str, value: str) -> list[int]:
    """Live pids whose environment carries ``key=value``: zombies have none."""
    return processes_with_env(key, value)


def wait_unmarked(key: str, value: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not marked(key, value):
            return True
        time.sleep(0.05)
    return not marked(key, value)


def wait_marked(key: str, value: str, count: int, timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = marked(key, value)
        if len(pids) >= count:
            return pids
        time.sleep(0.02)
    raise AssertionError(f"only {marked(key, value)} carry {key}={value}")


def tagged(**env: str) -> dict[str, str]:
    """Our environment plus a tag unique to the test, to find its processes by."""
    return {**os.environ, **env}


def test_kill_owner_ends_setsid_escapees_deaf_to_sigterm_within_5s() -> None:
    owner = f"run-{uuid.uuid4().hex}"
    bg = Background(HANGING, owner=owner, env=tagged(LOOP_RUN_ID=owner))
    # leader, the deaf shell and its sleep, the plain sleep, the leader's sleep
    escaped = wait_marked("LOOP_RUN_ID", owner, 5)
    start = time.monotonic()
    assert kill_owner(owner) == 1
    assert time.monotonic() - start < 0.5  # the caller is not blocked
    assert wait_unmarked("LOOP_RUN_ID", owner, timeout=5.0), marked("LOOP_RUN_ID", owner)
    assert time.monotonic() - start < 5.0
    assert not marked("AGENTLOOP_OWNER", owner)
    result = bg.join()
    assert result.cancelled
    assert wait_dead(escaped, timeout=0.5)


@pytest.mark.parametrize("stop", ["kill_owner", "cancel", "timeout"])
def test_the_agent_is_stopped_before_the_tools_that_left_its_group(
    monkeypatch: pytest.MonkeyPatch, stop: str
) -> None:
    """An agent that sees its tool end before its own stop may answer that: Claude Code,
    paused while its Bash tool ran, sent the killed tool's result to the model (and could act
    on the answer) before its SIGTERM came. Its group gets the first SIGTERM of a stop."""
    sent: list[tuple[str, int]] = []  # (group | process, pgid | pid) of each SIGTERM
    signal_group, signal_process = _proc.signal_group, _proc.signal_process

    def record_group(pgid: int, sig: int) -> bool:
        if sig == signal.SIGTERM:
            sent.append(("group", pgid))
        return signal_group(pgid, sig)

    def record_process(pid: int, ticks: int, sig: int) -> bool:
        if sig == signal.SIGTERM:
            sent.append(("process", pid))
        return signal_process(pid, ticks, sig)

    monkeypatch.setattr(_proc, "signal_group", record_group)
    monkeypatch.setattr(_proc, "signal_process", record_process)
    owner = f"run-{uuid.uuid4().hex}"
    cancel = threading.Event()
    script = "setsid sleep 300 >/dev/null 2>&1 </dev/null & echo $!; sleep 300"
    options: dict[str, object] = {"owner": owner, "env": tagged(LOOP_RUN_ID=owner)}
    if stop == "cancel":
        options["cancel"] = cancel
    if stop == "timeout":
        options["timeout_sec"] = 1.0
    bg = Background(script, **options)
    tool = int(bg.lines[0])
    wait_marked("LOOP_RUN_ID", owner, 3)  # the leader, its sleep and the tool's
    if stop == "kill_owner":
        kill_owner(owner)
    if stop == "cancel":
        cancel.set()
    result = bg.join()
    assert result.timed_out if stop == "timeout" else result.cancelled
    assert bg.handle is not None
    assert sent and sent[0] == ("group", bg.handle.pgid), sent
    assert ("process", tool) in sent
    assert wait_unmarked("LOOP_RUN_ID", owner, timeout=5.0), marked("LOOP_RUN_ID", owner)


def test_a_sweep_signals_each_process_after_its_ancestors(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a daemon kill -9, codex's native binary (its npm wrapper's child) lives on with
    its tool; the restart's sweep SIGTERMed the tool first, and codex sent the tool's end to
    the model before its own SIGTERM came. Pids say nothing of ancestry once the counter
    wrapped around: here the tool and its child have lower pids than the agent."""
    leader, agent, tool, tools_child = 5_000_010, 5_000_020, 5_000_003, 5_000_001
    parents = {leader: 1, agent: leader, tool: agent, tools_child: tool}
    stats = {pid: _proc.Stat("S", ppid, pid, pid, pid) for pid, ppid in parents.items()}
    monkeypatch.setattr(_proc, "table", lambda since_pid=None: stats)
    sweep = Sweep(Scope(roots=(leader,)), time.monotonic())
    assert list(sweep.find(by_marker=False)) == [agent, tool, tools_child]


def test_kill_owner_ends_escapees_that_hold_the_output_pipe() -> None:
    owner = f"run-{uuid.uuid4().hex}"
    bg = Background(HANGING_HOLDING_THE_PIPE, owner=owner)  # no LOOP_RUN_ID: our own marker
    wait_marked("AGENTLOOP_OWNER", owner, 5)
    start = time.monotonic()
    kill_owner(owner)
    result = bg.join()
    assert result.cancelled
    assert time.monotonic() - start < 5.0  # run_process returned: the pipe is closed
    assert wait_unmarked("AGENTLOOP_OWNER", owner, timeout=5.0 - (time.monotonic() - start))


def test_timeout_ends_setsid_escapees_within_5s() -> None:
    tag = uuid.uuid4().hex
    start = time.monotonic()
    result = run_process(["sh", "-c", HANGING], env=tagged(ORPHAN_TEST=tag), timeout_sec=0.5)
    assert result.timed_out and result.exit_code == 124
    assert wait_unmarked("ORPHAN_TEST", tag, timeout=5.0), marked("ORPHAN_TEST", tag)
    assert time.monotonic() - start < 0.5 + 5.0


def test_a_setsid_child_left_by_a_leader_that_exited_normally_is_ended() -> None:
    tag = uuid.uuid4().hex
    # (the pause lets the escapees set up their trap before the leader exits)
    script = ESCAPEES + "sleep 0.2; echo done"
    result = run_process(["sh", "-c", script], env=tagged(ORPHAN_TEST=tag))
    returned = time.monotonic()
    assert result.exit_code == 0 and not result.cancelled and not result.timed_out
    assert result.tail == ("done",)
    assert wait_unmarked("ORPHAN_TEST", tag, timeout=5.0), marked("ORPHAN_TEST", tag)
    assert time.monotonic() - returned < 5.0


def test_descendants_that_cleaned_their_environment_are_ended_too() -> None:
    # env -i: no marker to find it by; it is still the leader's descendant when stopped.
    cleaned = "env -i setsid sh -c \"trap '' TERM; sleep 300\" >/dev/null 2>&1 & echo $!; sleep 300"
    owner = f"run-{uuid.uuid4().hex}"
    bg = Background(cleaned, owner=owner)
    pid = int(bg.lines[0])
    deadline = time.monotonic() + 5
    while not _children(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    family = [pid, *_children(pid)]
    assert len(family) == 2 and all(alive(p) for p in family)
    start = time.monotonic()
    kill_owner(owner)
    assert wait_dead(family, timeout=5.0)
    assert time.monotonic() - start < 5.0
    assert bg.join().cancelled


def test_a_run_resumed_during_the_sweep_keeps_its_new_agent() -> None:
    owner, tag = f"run-{uuid.uuid4().hex}", uuid.uuid4().hex
    old = Background(HANGING, owner=owner, env=tagged(LOOP_RUN_ID=owner, ORPHAN_TEST=tag))
    wait_marked("ORPHAN_TEST", tag, 5)
    kill_owner(owner)
    assert old.join().cancelled  # the leader is gone, its deaf escapees not yet
    assert marked("ORPHAN_TEST", tag)
    new = Background("echo again; sleep 300", owner=owner, env=tagged(LOOP_RUN_ID=owner))
    assert new.handle is not None
    assert wait_unmarked("ORPHAN_TEST", tag, timeout=5.0)
    assert wait_stopped(5.0)
    family = marked("LOOP_RUN_ID", owner)
    # the sweep of the pause spared the resumed step's agent and its child
    assert new.handle.pid in family and len(family) >= 2 and all(alive(p) for p in family)
    kill_owner(owner)
    assert new.join().cancelled
    assert wait_unmarked("LOOP_RUN_ID", owner, timeout=5.0)


def test_wait_stopped_holds_until_what_kill_all_stopped_is_gone() -> None:
    tag = uuid.uuid4().hex
    bg = Background(HANGING, owner=None, env=tagged(ORPHAN_TEST=tag))
    wait_marked("ORPHAN_TEST", tag, 5)
    start = time.monotonic()
    assert kill_all() == 1
    assert wait_stopped(6.0)
    assert time.monotonic() - start < 5.0
    assert not marked("ORPHAN_TEST", tag)  # nothing left to outlive a daemon's exit
    assert bg.join().cancelled


def test_kill_stale_group_ends_the_marked_processes_of_a_previous_life() -> None:
    owner = f"run-{uuid.uuid4().hex}"
    daemon = subprocess.Popen(
        [sys.executable, "-c", _DAEMON, HANGING, owner], stdout=subprocess.PIPE, text=True
    )
    try:
        assert daemon.stdout is not None
        handle = json.loads(daemon.stdout.readline())
        assert json.loads(daemon.stdout.readline())["line"] == "started"
        wait_marked("LOOP_RUN_ID", owner, 5)
        daemon.kill()  # kill -9: no cleanup code of ours runs
        daemon.wait()
    finally:
        if daemon.poll() is None:
            daemon.kill()
        if daemon.stdout is not None:
            daemon.stdout.close()
    # The leader dies by its parent-death signal; its sleep and the setsid'ed tools live on.
    assert wait_dead([handle["pid"]])
    time.sleep(0.2)
    assert len(marked("LOOP_RUN_ID", owner)) == 4
    assert kill_stale_group(handle["pgid"], handle["start"], grace_sec=1.0)  # the group alone
    survivors = marked("LOOP_RUN_ID", owner)
    assert len(survivors) == 3, survivors  # what left the group lives on without the owner
    start = time.monotonic()
    assert kill_stale_group(handle["pgid"], handle["start"], owner=owner, grace_sec=1.0)
    assert time.monotonic() - start < 3.0  # it waited for the deaf one: SIGKILL at 1 s
    assert not marked("LOOP_RUN_ID", owner)
    assert not kill_stale_group(handle["pgid"], handle["start"], owner=owner)


def test_subreaper_reaps_adopted_orphans_and_never_a_popen_child(tmp_path: Path) -> None:
    script = tmp_path / "daemon.py"
    script.write_text(_SUBREAPER)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["subreaper"] is True
    assert report["adopted_seen"] >= 2  # orphans did re-parent to us
    assert report["run_process_codes"] == [3] * 6
    assert report["popen_codes"] == [7] * 40 + [5]
    assert report["stopped"] is True and report["tagged_left"] == []
    assert report["zombies"] == []


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            if int(raw[raw.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


_DAEMON = """
import json, os, sys
from agentloop.agents.process import run_process

def started(h):
    print(json.dumps({"pid": h.pid, "pgid": h.pgid, "start": h.start_time}), flush=True)

run_process(["sh", "-c", sys.argv[1]], owner=sys.argv[2],
            env={**os.environ, "LOOP_RUN_ID": sys.argv[2]}, on_start=started,
            on_line=lambda line: print(json.dumps({"line": line}), flush=True))
"""

# A daemon in miniature: a subreaper whose agents leave orphans behind (some in the agent's
# session, some leading their own) while other threads wait on plain Popen children, one
# of them only after its child has been a zombie for a while.
_SUBREAPER = r"""
import json, os, subprocess, threading, time
from agentloop.agents import _subreaper
from agentloop.agents.process import become_subreaper, run_process, wait_stopped

_subreaper.SETTLE_SEC = 1.5
ok = become_subreaper()
own = os.getpid()

def our_children(state=None):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                raw = open(f"/proc/{name}/stat").read()
            except OSError:
                continue
            fields = raw[raw.rfind(")") + 2:].split()
            if int(fields[1]) == own and (state is None or fields[0] == state):
                found.append(int(name))
    return found

popen_codes = []
def plain():
    for _ in range(40):
        popen_codes.append(subprocess.run(["sh", "-c", "exit 7"]).returncode)
    late = subprocess.Popen(["sh", "-c", "exit 5"], start_new_session=True)
    time.sleep(0.8)  # a zombie for 0.8 s, shorter than the settle time: still ours to wait
    popen_codes.append(late.wait())
worker = threading.Thread(target=plain)
worker.start()

adopted_seen = 0
codes = []
for _ in range(5):
    # orphans in the leader's session (foreign to us) and one leading its own session,
    # all outliving the leader briefly and exiting by themselves.
    result = run_process(["sh", "-c",
        "(sleep 0.3 >/dev/null 2>&1 &); setsid sleep 0.3 >/dev/null 2>&1 & exit 3"])
    codes.append(result.exit_code)
# Long-lived ones, one deaf to SIGTERM: as subreaper the sweep looks among our children.
tag = "ORPHAN_TEST=subreaper-%d" % own
codes.append(run_process(["sh", "-c",
    "setsid sh -c \"trap '' TERM; sleep 300\" >/dev/null 2>&1 & "
    "(sleep 300 >/dev/null 2>&1 &); sleep 0.2; exit 3"],
    env={**os.environ, "ORPHAN_TEST": tag.split("=")[1]}).exit_code)
# Orphans of a plain Popen child (no marker: nobody stops them), exiting on their own.
subprocess.run(["sh", "-c", "(sleep 0.4 &); setsid sleep 0.4 & exit 0"],
               start_new_session=True)
time.sleep(0.2)
adopted_seen = len(our_children())
worker.join()
stopped = wait_stopped(6.0)
def tagged():
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                env = open(f"/proc/{name}/environ", "rb").read().split(b"\0")
            except OSError:
                continue
            if tag.encode() in env:
                found.append(int(name))
    return found
left = tagged()
time.sleep(_subreaper.SETTLE_SEC + 2.5)
print(json.dumps({"subreaper": ok, "adopted_seen": adopted_seen, "run_process_codes": codes,
                  "popen_codes": popen_codes, "zombies": our_children("Z"),
                  "stopped": stopped, "tagged_left": left}))
"""
