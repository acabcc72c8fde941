"""Orchestration overhead per iteration, ours beside a peer loop's, in one run.

1. agentloop, scripted agent (in-process, instant): a real loopd carries a 20-task plan; the
   time the agent itself took (``agent_ms`` of each STEP_FINISHED) is subtracted from the
   run's wall time, and what is left, per iteration, is ours: every DBOS checkpoint, event,
   step row, log file, plan read and git HEAD check. Implementation only, and with review
   and verification.
2. The same agent for both loops: ``bench/instant_agent.sh`` (an instant shell agent that
   ticks and commits one task, like the scripted one, and times its own work) run by
   agentloop as ``agent=command`` and by the peer, ``ralphy-cli`` from npm (the leanest
   peer loop that installs here, no durability), as its ``claude`` on PATH. Both are charged
   the same agent time, measured by the agent itself; the rest is the loop's. Two figures
   per iteration: between agent calls (steady state: one call's end to the next one's
   start) and over the whole loop (ours: RUN_STARTED to RUN_COMPLETED; the peer: its
   process start to exit).

The peer is installed into ``bench/.peer`` (gitignored) on first use; without npm or the
registry it is skipped with the reason printed. Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _support import ROOT, emit, machine_load

from integration.loopd import Loopd, make_workspace

TARGET_MS = 15.0
ISSUE_FLOOR_MS = 25.0
PEER_PACKAGE, PEER_VERSION = "ralphy-cli", "4.7.2"
PEER_PREFIX = ROOT / "bench" / ".peer"
INSTANT_AGENT = ROOT / "bench" / "instant_agent.sh"
PLAN = "specs/planning/demo-plan.md"

SCENARIOS = {
    "impl only": {"reviewer": False},
    "impl+review (defaults)": {"reviewer": True},
    "impl+review+verify": {"reviewer": True, "verify_cmds": "true"},
}


# -- ours, scripted agent -----------------------------------------------------------------


def measure(daemon: Loopd, root: Path, name: str, tasks: int, config: dict) -> dict:
    workspace = make_workspace(root, tasks=tasks, name=name.replace(" ", "-").replace("+", "-"))
    run = daemon.create_run(workspace, iterations=tasks + 5, **config)
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=300)
    events = daemon.events(run["id"])
    started = next(e for e in events if e["event_type"] == "RUN_STARTED")["timestamp"]
    ended = next(e for e in events if e["event_type"] == "RUN_COMPLETED")["timestamp"]
    finished = [e["payload"] for e in events if e["event_type"] == "STEP_FINISHED"]
    agent_ms = sum(p.get("agent_ms") or 0.0 for p in finished)
    verify_ms = sum(p["duration_ms"] for p in finished if p["phase"] == "verification")
    iterations = done["iteration"]
    wall = ended - started
    overhead = (wall - agent_ms - verify_ms) / iterations
    per_step = [
        p["duration_ms"] - (p.get("agent_ms") or 0)
        for p in finished
        if p["phase"] == "implementation"
    ]
    return {
        "scenario": name,
        "iterations": iterations,
        "wall_ms": wall,
        "agent_ms": round(agent_ms, 1),
        "verify_cmd_ms": verify_ms,
        "overhead_ms_per_iteration": round(overhead, 2),
        "impl_step_overhead_median_ms": round(statistics.median(per_step), 2),
        "events": len(events),
    }


# -- the same instant agent for both loops ------------------------------------------------


def agent_calls(times_file: Path) -> list[tuple[float, float]]:
    """(start, end) of each call of the instant agent, in ms, in call order."""
    calls = [line.split() for line in times_file.read_text().splitlines() if line.strip()]
    return sorted((int(start) / 1e6, int(end) / 1e6) for start, end in calls)


def loop_figures(calls: list[tuple[float, float]], wall_ms: float, tasks: int) -> dict:
    """Per-iteration loop time: between calls, and over the whole loop, agent time removed."""
    if len(calls) != tasks:
        raise RuntimeError(f"expected {tasks} agent calls, the agent counted {len(calls)}")
    agent_ms = sum(end - start for start, end in calls)
    gaps = [calls[i + 1][0] - calls[i][1] for i in range(len(calls) - 1)]
    return {
        "iterations": tasks,
        "wall_ms": round(wall_ms, 1),
        "agent_ms": round(agent_ms, 1),
        "between_calls_ms": round(statistics.mean(gaps), 2),
        "between_calls_median_ms": round(statistics.median(gaps), 2),
        "whole_loop_ms": round((wall_ms - agent_ms) / tasks, 2),
    }


def measure_ours_command(daemon: Loopd, root: Path, tasks: int, times_dir: Path) -> dict:
    workspace = make_workspace(root, tasks=tasks, name="ours-command")
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd=f"sh {shlex.quote(str(INSTANT_AGENT))}",
        reviewer=False,
        postmortem=False,
        iterations=tasks + 5,
    )
    daemon.wait_status(run["id"], "COMPLETED", timeout=300)
    events = daemon.events(run["id"])
    started = next(e for e in events if e["event_type"] == "RUN_STARTED")["timestamp"]
    ended = next(e for e in events if e["event_type"] == "RUN_COMPLETED")["timestamp"]
    calls = agent_calls(times_dir / f"{run['id']}.times")
    return {"loop": "agentloop", **loop_figures(calls, ended - started, tasks)}


def install_peer() -> tuple[Path | None, str]:
    """The peer's binary, installing it into bench/.peer if needed; or None and why not."""
    binary = PEER_PREFIX / "node_modules" / ".bin" / "ralphy"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None, "npm is not on PATH (the peer comes from the npm registry)"
        print(f"installing {PEER_PACKAGE}@{PEER_VERSION} into {PEER_PREFIX} ...", flush=True)
        try:
            done = subprocess.run(
                [npm, "install", "--prefix", str(PEER_PREFIX), "--no-audit", "--no-fund",
                 "--loglevel=error", f"{PEER_PACKAGE}@{PEER_VERSION}"],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return None, "npm install of the peer took over 300 s (registry unreachable?)"
        if done.returncode != 0 or not binary.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, f"npm install {PEER_PACKAGE} failed (exit {done.returncode}): " + (
                " | ".join(tail) or "no output"
            )
    try:
        version = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as error:
        return None, f"the peer does not start here: {error}"
    if version.returncode != 0:
        reason = (version.stderr or version.stdout).strip().splitlines()[-1:]
        return None, f"the peer does not start here: {' '.join(reason) or version.returncode}"
    return binary, version.stdout.strip()


def measure_peer(binary: Path, root: Path, tasks: int, agent_bin: Path, times_dir: Path) -> dict:
    workspace = make_workspace(root, tasks=tasks, name="peer")
    times = times_dir / "peer.times"
    times.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{agent_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "BENCH_PLAN": str(workspace / PLAN),
        "BENCH_ANSWER": "stream-json",
        "BENCH_TIMES_DIR": str(times_dir),
    }
    began = time.perf_counter()
    done = subprocess.run(
        [str(binary), "--prd", PLAN], cwd=workspace, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    wall_ms = (time.perf_counter() - began) * 1000
    plan = (workspace / PLAN).read_text()
    if done.returncode != 0 or "- [ ]" in plan:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"the peer did not finish the plan (exit {done.returncode}): {tail}")
    return {"loop": PEER_PACKAGE, **loop_figures(agent_calls(times), wall_ms, tasks)}


def agent_on_path(root: Path) -> Path:
    """A directory holding the instant agent under the name the peer calls: ``claude``."""
    directory = root / "agent-bin"
    directory.mkdir()
    claude = directory / "claude"
    claude.write_text(f'#!/bin/sh\nexec sh {shlex.quote(str(INSTANT_AGENT))} "$@"\n')
    claude.chmod(0o755)
    return directory


# -- report --------------------------------------------------------------------------------


def median_of(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true", help="skip the peer loop")
    args = parser.parse_args()

    peer_binary, peer_note = (None, "skipped (--no-peer)") if args.no_peer else install_peer()
    if peer_binary is None:
        print(f"peer {PEER_PACKAGE}: SKIPPED: {peer_note}", flush=True)
    scripted: dict[str, list[dict]] = {name: [] for name in SCENARIOS}
    ours_same: list[dict] = []
    peer_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-iter-") as tmp:
        root = Path(tmp)
        times_dir = root / "times"
        times_dir.mkdir()
        agent_bin = agent_on_path(root)
        daemon = Loopd(root / "data", env={"BENCH_TIMES_DIR": str(times_dir)}).start()
        try:
            # Rounds interleave the loops, so a busy spell on the machine hits all of them.
            for i in range(args.repeat):
                for name, config in SCENARIOS.items():
                    scripted[name].append(measure(daemon, root / f"{i}", name, args.tasks, config))
                ours_same.append(measure_ours_command(daemon, root / f"{i}", args.tasks, times_dir))
                if peer_binary is not None:
                    peer_runs.append(
                        measure_peer(peer_binary, root / f"{i}", args.tasks, agent_bin, times_dir)
                    )
        finally:
            daemon.stop()

    results = []
    print(f"agentloop, scripted agent in-process ({machine_load()} at the end)")
    print(
        f"{'scenario':<22}{'iters':>6}{'wall ms':>9}{'agent ms':>10}"
        f"{'ours/iter ms':>14}{'median ms':>11}"
    )
    for name, runs in scripted.items():
        best = min(runs, key=lambda r: r["overhead_ms_per_iteration"])
        best["overhead_median_of_repeats"] = median_of(runs, "overhead_ms_per_iteration")
        results.append(best)
        print(
            f"{name:<22}{best['iterations']:>6}{best['wall_ms']:>9}{best['agent_ms']:>10}"
            f"{best['overhead_ms_per_iteration']:>14}{best['overhead_median_of_repeats']:>11}"
        )
    headline = results[0]["overhead_median_of_repeats"]
    worst = max(r["overhead_median_of_repeats"] for r in results)
    print(
        f"target <= {TARGET_MS} ms ({results[0]['scenario']}): "
        f"{'met' if headline <= TARGET_MS else 'MISSED'}; issue floor {ISSUE_FLOOR_MS} ms "
        f"(every scenario): {'met' if worst <= ISSUE_FLOOR_MS else 'MISSED'}"
    )

    print(f"\nthe same instant shell agent for both loops, {args.tasks} tasks, medians of "
          f"{args.repeat} runs (ms per iteration, agent time removed)")  # fmt: skip
    print(f"{'loop':<16}{'agent ms/call':>14}{'between calls':>15}{'whole loop':>12}")
    loops = {"agentloop": ours_same, PEER_PACKAGE: peer_runs}
    same: dict[str, dict[str, float]] = {}
    for loop, runs in loops.items():
        if not runs:
            print(f"{loop:<16}  skipped: {peer_note}")
            continue
        same[loop] = {
            "agent_ms_per_call": round(median_of(runs, "agent_ms") / args.tasks, 2),
            "between_calls_ms": median_of(runs, "between_calls_ms"),
            "whole_loop_ms": median_of(runs, "whole_loop_ms"),
        }
        row = same[loop]
        print(
            f"{loop:<16}{row['agent_ms_per_call']:>14}{row['between_calls_ms']:>15}"
            f"{row['whole_loop_ms']:>12}"
        )
    summary: dict[str, Any] = {
        "bench": "iteration_overhead",
        "tasks": args.tasks,
        "overhead_ms_per_iteration": headline,
        "default_config_ms_per_iteration": results[1]["overhead_median_of_repeats"],
        "full_pipeline_ms_per_iteration": results[-1]["overhead_median_of_repeats"],
        "target_ms": TARGET_MS,
        "within_target": headline <= TARGET_MS,
        "within_issue_25ms": worst <= ISSUE_FLOOR_MS,
        "same_agent_ours_ms": same["agentloop"]["between_calls_ms"],
    }
    if PEER_PACKAGE in same:
        ours, peer = same["agentloop"], same[PEER_PACKAGE]
        ratio = ours["between_calls_ms"] / peer["between_calls_ms"]
        whole_ratio = ours["whole_loop_ms"] / peer["whole_loop_ms"]
        print(
            f"agentloop / {PEER_PACKAGE} {peer_note}: {ratio:.2f}x between calls, "
            f"{whole_ratio:.2f}x over the whole loop"
        )
        summary.update(
            same_agent_peer_ms=peer["between_calls_ms"],
            ours_vs_peer=round(ratio, 2),
            peer=f"{PEER_PACKAGE} {peer_note}",
        )
    else:
        summary["peer"] = f"skipped: {peer_note}"
    summary["results"] = results
    summary["same_agent"] = {"runs": loops, "medians": same}
    emit(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
