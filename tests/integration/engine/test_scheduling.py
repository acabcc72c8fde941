"""Scheduling caps (SPEC 11): the daemon's caps, and runs that set them explicitly."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from integration.loopd import Loopd, make_workspace


def caps(daemon: Loopd) -> dict:
    return dict(daemon.request("GET", "/health").json()["caps"])


@contextlib.contextmanager
def most_running(daemon: Loopd, run_ids: list[str]) -> Iterator[list[int]]:
    """Sample how many of ``run_ids`` are RUNNING at once while the block runs; the sampler
    has ended when it exits, so it never asks a daemon the test has stopped."""
    peaks: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            runs = daemon.request("GET", "/runs?status=RUNNING&limit=100").json()["runs"]
            peaks.append(sum(1 for r in runs if r["id"] in run_ids))
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()


def test_a_run_that_sets_caps_sets_the_daemons_caps_and_they_hold(daemon: Loopd, tmp_path: Path):
    assert caps(daemon)["max_concurrency"] == 3
    workspaces = [make_workspace(tmp_path, tasks=2, name=f"w{i}") for i in range(3)]
    first = daemon.create_run(workspaces[0], model="delay=0.3", reviewer=False,
                              max_concurrency=1)  # fmt: skip
    assert caps(daemon)["max_concurrency"] == 1
    runs = [first] + [
        daemon.create_run(ws, model="delay=0.3", reviewer=False) for ws in workspaces[1:]
    ]
    assert caps(daemon)["max_concurrency"] == 1  # defaults of later runs do not count
    with most_running(daemon, [r["id"] for r in runs]) as peaks:
        for run in runs:
            daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert max(peaks) == 1
    assert runs[0]["config"]["max_concurrency"] == 1


def test_the_per_workspace_cap_holds(daemon: Loopd, tmp_path: Path):
    shared = make_workspace(tmp_path, tasks=2, name="shared")
    other = make_workspace(tmp_path, tasks=2, name="other")
    a = daemon.create_run(shared, model="delay=0.3", reviewer=False, max_runs_per_workspace=1)
    b = daemon.create_run(shared, model="delay=0.3", reviewer=False)
    c = daemon.create_run(other, model="delay=0.3", reviewer=False)
    with (
        most_running(daemon, [a["id"], b["id"]]) as same,
        most_running(daemon, [a["id"], b["id"], c["id"]]) as both_workspaces,
    ):
        for run in (a, b, c):
            daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert max(same) == 1
    assert max(both_workspaces) == 2  # the other workspace was not held back


def test_caps_survive_a_restart_and_flags_win_at_start(tmp_path: Path):
    daemon = Loopd(tmp_path / "data").start()
    try:
        run = daemon.create_run(make_workspace(tmp_path), reviewer=False, max_concurrency=2)
        daemon.wait_status(run["id"], "COMPLETED")
        daemon.restart()
        assert caps(daemon)["max_concurrency"] == 2
        daemon.stop()
        daemon.args = ["--max-concurrency", "5", "--queue-policy", "newest_first"]
        daemon.start()
        assert caps(daemon) == {
            "max_concurrency": 5, "max_runs_per_workspace": None, "queue_policy": "newest_first"
        }  # fmt: skip
    finally:
        daemon.stop()
