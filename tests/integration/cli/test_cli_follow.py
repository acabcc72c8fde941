"""Following a run live: ``tail -f`` / ``events -f`` across a daemon restart, and Ctrl-C on
``run --follow``."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cli_support import LOOPCTL, cli_env, make_ctl, make_workspace

from integration.loopd import Loopd


@contextlib.contextmanager
def ctrl_c_as_at_a_terminal() -> Iterator[None]:
    """Children started inside this block take SIGINT as a terminal's Ctrl-C does.

    A test run started in the background by a shell without job control inherits SIGINT
    ignored, passes that on to its children, and Python then never raises KeyboardInterrupt.
    exec resets a caught signal to its default, so catch SIGINT while the child starts."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Follower:
    """A ``loopctl`` process whose stdout lines are collected as they come."""

    def __init__(self, addr: str, cwd: Path, *args: str) -> None:
        with ctrl_c_as_at_a_terminal():
            self.proc = subprocess.Popen(
                [str(LOOPCTL), *args],
                cwd=cwd,
                env=cli_env(addr),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        self.lines: list[str] = []
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_lines(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            assert self.proc.poll() is None or len(self.lines) >= count, self.finish(1)
            assert time.monotonic() < deadline, f"only {len(self.lines)} lines: {self.lines}"
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(5)
        assert self.proc.stderr is not None
        self.err = self.proc.stderr.read()
        return code


def test_tail_and_events_follow_survive_a_daemon_restart(
    loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> None:
    daemon = loopd_factory()
    workspace = make_workspace(tmp_path, tasks=("a", "b", "c"))
    ctl = make_ctl(daemon.addr, workspace)
    started = ctl("--json", "run", "specs/demo.md", "--agent", "scripted",
                  "--model", "delay=0.7;lines=4")  # fmt: skip
    assert started.code == 0, started.err
    run_id = started.json()["data"]["run"]["id"]

    tail = Follower(daemon.addr, workspace, "tail", "-f", run_id)
    tail_json = Follower(daemon.addr, workspace, "--json", "tail", "-f", run_id)
    events = Follower(daemon.addr, workspace, "events", "-f", run_id)
    tail.wait_lines(3)
    events.wait_lines(6)
    daemon.restart()

    assert tail.finish() == 0, tail.err
    assert tail_json.finish() == 0, tail_json.err
    assert events.finish() == 0, events.err
    final = ctl("--json", "inspect", run_id).json()["data"]["run"]
    assert final["status"] == "COMPLETED", final
    assert "reconnecting to loopd" in tail.err + tail_json.err + events.err

    # What the followers printed is exactly the stored history: nothing twice, nothing lost.
    snapshot = ctl("tail", run_id)
    assert tail.lines == snapshot.out.splitlines()
    items = [json.loads(line)["data"] for line in tail_json.lines]
    seqs = [item["seq"] for item in items]
    assert seqs == sorted(set(seqs))
    stored = [json.loads(line)["data"] for line in ctl("--json", "tail", run_id).out.splitlines()]
    assert items == stored
    assert events.lines == ctl("events", run_id).out.splitlines()
    event_seqs = [int(line.split()[0]) for line in events.lines]
    assert event_seqs == list(range(1, len(event_seqs) + 1))
    assert events.lines[-1].split()[2] == "RUN_COMPLETED"


def test_ctrl_c_on_run_follow_leaves_the_run_running(loopd: Loopd, workspace: Path) -> None:
    follower = Follower(
        loopd.addr, workspace, "run", "specs/demo.md", "--agent", "scripted",
        "--model", "delay=30", "--follow",
    )  # fmt: skip
    follower.wait_lines(5)  # RUN_CREATED ... STEP_STARTED
    follower.proc.send_signal(signal.SIGINT)
    assert follower.finish(30) == 130
    assert "goes on in loopd" in follower.err
    assert "reattach with: loopctl tail -f " in follower.err
    run_id = follower.err.split("reattach with: loopctl tail -f ")[1].split()[0]
    ctl = make_ctl(loopd.addr, workspace)
    status = ctl("--json", "inspect", run_id).json()["data"]["run"]["status"]
    assert status in ("RUNNING", "PENDING")
    assert ctl("cancel", run_id).code == 0
