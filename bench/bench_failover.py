"""Failover between hosts (issue "robustness", SPEC 11): how long after a host dies its runs
go back to PENDING, and how long until one of them runs its next agent step on a survivor
that has a free slot; the survivor at ``--worker-concurrency`` 1 and 3.

Two loopds share a fresh PostgreSQL database. Per trial: the survivor is stopped, a run
(stand-in claude that hangs, so its step is in progress) is created on the other host, the
survivor starts again, then the run's host is killed with SIGKILL. Measured from the kill:
``pending`` (the survivor's RUN_RESUMED ``host_failover``, the run set back to PENDING) and
``step`` (the survivor's STEP_STARTED of the taken-over run). The dead host starts again
for the next trial. Median and max per cap; the goal is <= 2 s to the step. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _support import emit, machine_load

from dbfixtures import _create_database, _drop_database, _first_reachable, _with_database
from integration.loopd import Loopd, make_workspace
from standins import standin_env

GOAL_SEC = 2.0


def trial(dying: Loopd, survivor: Loopd, workspace: Path) -> tuple[float, float]:
    """(seconds to PENDING, seconds to the survivor's step) after ``dying`` is killed."""
    survivor.stop()
    run = dying.create_run(workspace, agent="claude", model="standin:hang", reviewer=False)
    dying.wait_for(
        lambda: any(e["event_type"] == "STEP_STARTED" for e in dying.stored_events(run["id"])),
        what="the run's first step",
    )
    survivor.start()
    killed_ms = time.time() * 1000
    dying.kill9()

    def taken_over() -> tuple[float, float] | None:
        events = survivor.stored_events(run["id"])
        back = [
            e
            for e in events
            if e["event_type"] == "RUN_RESUMED" and e["payload"].get("reason") == "host_failover"
        ]
        if not back:
            return None
        steps = [
            e for e in events if e["event_type"] == "STEP_STARTED" and e["seq"] > back[0]["seq"]
        ]
        if not steps:
            return None
        return back[0]["timestamp"] - killed_ms, steps[0]["timestamp"] - killed_ms

    pending_ms, step_ms = survivor.wait_for(taken_over, timeout=60, what="the takeover")
    assert survivor.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    survivor.wait_status(run["id"], "CANCELED")
    dying.start()
    return pending_ms / 1000, step_ms / 1000


def measure(cap: int, trials: int, root: Path, database_url: str) -> dict[str, list[float]]:
    env = standin_env(base={"PATH": os.environ["PATH"]})
    dying, survivor = (
        Loopd(
            root / f"cap{cap}-{name}",
            env=env,
            args=["--database-url", database_url, "--worker-concurrency", str(worker_cap)],
        )
        for name, worker_cap in (("dying", 1), ("survivor", cap))
    )
    dying.start()
    survivor.start()
    figures: dict[str, list[float]] = {"pending": [], "step": []}
    try:
        for n in range(trials):
            workspace = make_workspace(root, tasks=2, name=f"cap{cap}-ws{n}")
            pending, step = trial(dying, survivor, workspace)
            figures["pending"].append(pending)
            figures["step"].append(step)
            print(f"  cap {cap} trial {n + 1}: pending {pending:.2f} s, step {step:.2f} s")
    finally:
        for daemon in (dying, survivor):
            if daemon.proc is not None:
                daemon.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    admin, error = _first_reachable()
    if admin is None:
        print(f"PostgreSQL unreachable: {error}", file=sys.stderr)
        return 1
    print(f"failover, {args.trials} trials per survivor cap ({machine_load()})")
    summary: dict[str, Any] = {"bench": "failover", "goal_sec": GOAL_SEC}
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        for cap in (1, 3):
            name = _create_database(admin)
            try:
                figures = measure(cap, args.trials, Path(tmp), _with_database(admin, name))
            finally:
                _drop_database(admin, name)
            for key, values in figures.items():
                median, worst = statistics.median(values), max(values)
                print(f"cap {cap} {key:>7}: median {median:.2f} s, max {worst:.2f} s")
                summary[f"cap{cap}_{key}_median_s"] = round(median, 2)
                summary[f"cap{cap}_{key}_max_s"] = round(worst, 2)
    worst_step = max(summary["cap1_step_max_s"], summary["cap3_step_max_s"])
    summary["within_goal"] = worst_step <= GOAL_SEC
    emit(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
