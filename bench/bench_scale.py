"""Scale on one host: 50 concurrent runs x 5 tasks on one loopd.

Two scenarios, each on a fresh loopd with its own data dir, every run in its own workspace:

- ``cap 50``: ``loopd --max-concurrency 50``, an agent that takes ``--agent-delay`` seconds
  per call (scripted ``delay=``, plus ``--agent-lines`` output lines), so all 50 runs are
  live at once. Wall time, daemon CPU (utime+stime of the loopd process over the wall
  time, in % of one core; the git processes it waits for are shown apart) and peak RSS
  (VmHWM). Targets: CPU < 50% of one core, RSS < 250 MB.
- ``default cap``: the default ``max_concurrency`` (3) with the instant agent: the cap must
  hold while 50 runs queue.

"The caps held" is checked twice: the most runs RUNNING at once from each run's
RUN_STARTED / terminal event timestamps, and ``runs_active`` of ``GET /health`` sampled
every 100 ms. Prints a table and ends with one JSON line (the README quotes it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _support import CpuTimes, emit, machine_load, status_kb
from httpx_sse import connect_sse

from integration.loopd import Loopd, make_workspace

CPU_TARGET_PCT, RSS_TARGET_MB = 50.0, 250.0
TERMINAL = {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELED"}


class Sampler(threading.Thread):
    """Polls /health (runs RUNNING) and the daemon's RSS every ``period`` seconds."""

    def __init__(self, daemon: Loopd, pid: int, period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.base, self.pid, self.period = daemon.base, pid, period
        self.stop = threading.Event()
        self.max_active = 0
        self.max_rss_kb = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.stop.wait(self.period):
                try:
                    active = client.get("/health").json()["runs_active"]
                    self.max_active = max(self.max_active, int(active))
                    self.max_rss_kb = max(self.max_rss_kb, status_kb(self.pid, "VmRSS"))
                except (httpx.HTTPError, OSError, KeyError, ValueError):
                    continue


def history(daemon: Loopd, run_id: str) -> list[dict[str, Any]]:
    """The run's events stored so far."""
    with (
        daemon.client() as client,
        connect_sse(client, "GET", f"/runs/{run_id}/events?follow=false") as source,
    ):
        return [json.loads(sse.data) for sse in source.iter_sse()]


def most_at_once(spans: list[tuple[int, int]]) -> int:
    """The most overlapping (start, end) spans; an end frees its slot before a start at the
    same millisecond takes it."""
    points = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    level = peak = 0
    for _, step in points:
        level += step
        peak = max(peak, level)
    return peak


def scenario(
    root: Path, name: str, runs: int, tasks: int, model: str, cap: int | None
) -> dict[str, Any]:
    args = ["--max-concurrency", str(cap)] if cap else []
    daemon = Loopd(root / "data", args=args).start()
    assert daemon.proc is not None
    pid = daemon.proc.pid
    try:
        caps = daemon.request("GET", "/health").json().get("caps", {})
        workspaces = [make_workspace(root, tasks=tasks, name=f"ws-{i:02d}") for i in range(runs)]
        sampler = Sampler(daemon, pid)
        sampler.start()
        cpu_before = CpuTimes.of(pid)
        began = time.monotonic()
        config = {"model": model, "reviewer": False, "postmortem": False}
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = list(
                pool.map(
                    lambda ws: daemon.create_run(ws, iterations=tasks + 5, **config), workspaces
                )
            )
        admitted = time.monotonic() - began
        ids = [run["id"] for run in created]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            open_runs = daemon.request("GET", "/runs?status=PENDING,RUNNING,PAUSED&limit=1")
            if open_runs.json()["total"] == 0:
                break
            time.sleep(0.25)
        wall = time.monotonic() - began
        cpu_after = CpuTimes.of(pid)
        sampler.stop.set()
        sampler.join()
        peak_rss_mb = status_kb(pid, "VmHWM") / 1024
        statuses: dict[str, int] = {}
        spans = []
        iterations = 0
        for run_id in ids:
            run = daemon.run(run_id)
            statuses[run["status"]] = statuses.get(run["status"], 0) + 1
            iterations += run["iteration"]
            events = history(daemon, run_id)
            start = next(e["timestamp"] for e in events if e["event_type"] == "RUN_STARTED")
            end = next(e["timestamp"] for e in events if e["event_type"] in TERMINAL)
            spans.append((start, end))
    finally:
        daemon.stop()
    own, children = cpu_after.percent_since(cpu_before)
    limit = int(caps.get("max_concurrency", cap or 3))
    at_once = most_at_once(spans)
    return {
        "scenario": name,
        "runs": runs,
        "tasks": tasks,
        "agent": "scripted, instant" if model == "scripted" else f"scripted {model}",
        "max_concurrency": limit,
        "admit_s": round(admitted, 1),
        "wall_s": round(wall, 1),
        "iterations": iterations,
        "statuses": statuses,
        "cpu_pct": round(own, 1),
        "children_cpu_pct": round(children, 1),
        "cpu_ms_per_iteration": round(own / 100 * wall * 1000 / max(iterations, 1), 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "max_rss_sampled_mb": round(sampler.max_rss_kb / 1024, 1),
        "most_running_events": at_once,
        "most_running_health": sampler.max_active,
        "caps_held": at_once <= limit and sampler.max_active <= limit,
        "all_completed": statuses == {"COMPLETED": runs},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--agent-delay", type=float, default=5.0, help="seconds per agent call")
    parser.add_argument("--agent-lines", type=int, default=20, help="output lines per call")
    parser.add_argument("--no-default-cap", action="store_true", help="skip the cap-3 scenario")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        model = f"delay={args.agent_delay:g};lines={args.agent_lines}"
        results.append(
            scenario(Path(tmp) / "cap50", "cap 50", args.runs, args.tasks, model, cap=args.runs)
        )
        if not args.no_default_cap:
            results.append(
                scenario(Path(tmp) / "cap3", "default cap", args.runs, args.tasks, "scripted", None)
            )

    print(f"{args.runs} runs x {args.tasks} tasks, one loopd ({machine_load()} at the end)")
    rows = [
        ("agent", "agent"),
        ("max_concurrency", "cap"),
        ("admit_s", "all admitted after s"),
        ("wall_s", "wall s"),
        ("statuses", "outcome"),
        ("cpu_pct", "daemon CPU % of a core"),
        ("children_cpu_pct", "its git children CPU %"),
        ("cpu_ms_per_iteration", "daemon CPU ms / iter (all)"),
        ("peak_rss_mb", "peak RSS MB (VmHWM)"),
        ("most_running_events", "most RUNNING (events)"),
        ("most_running_health", "most RUNNING (/health)"),
        ("caps_held", "caps held"),
    ]
    print(f"{'':<28}" + "".join(f"{r['scenario']:>26}" for r in results))
    for key, label in rows:
        print(f"{label:<28}" + "".join(f"{r[key]!s:>26}" for r in results))
    main_run = results[0]
    cpu_ok = main_run["cpu_pct"] < CPU_TARGET_PCT
    rss_ok = max(r["peak_rss_mb"] for r in results) < RSS_TARGET_MB
    caps_ok = all(r["caps_held"] for r in results)
    print(
        f"targets: CPU < {CPU_TARGET_PCT:.0f}% {'met' if cpu_ok else 'MISSED'}; "
        f"RSS < {RSS_TARGET_MB:.0f} MB {'met' if rss_ok else 'MISSED'}; "
        f"caps held: {'yes' if caps_ok else 'NO'}; "
        f"all runs completed: {'yes' if all(r['all_completed'] for r in results) else 'NO'}"
    )
    summary: dict[str, Any] = {
        "bench": "scale_one_host",
        "runs": args.runs,
        "tasks": args.tasks,
        "agent_delay_s": args.agent_delay,
        "wall_s": main_run["wall_s"],
        "daemon_cpu_pct": main_run["cpu_pct"],
        "cpu_ms_per_iteration": main_run["cpu_ms_per_iteration"],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "most_running": main_run["most_running_events"],
        "caps_held": caps_ok,
        "targets_met": cpu_ok and rss_ok,
    }
    if len(results) > 1:
        summary["default_cap_wall_s"] = results[1]["wall_s"]
        summary["default_cap_most_running"] = results[1]["most_running_events"]
    summary["results"] = results
    emit(summary)
    return 0 if caps_ok and all(r["all_completed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
