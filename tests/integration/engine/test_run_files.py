"""A run's own files as a real loopd leaves them (SPEC 13, 20): summary.json, report.tsv
and run.log for every ending; and a cost only where an agent reported one (SPEC 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentloop.artifacts import parse_report
from integration.loopd import Loopd

INSTANT_AGENT = Path(__file__).resolve().parents[3] / "bench" / "instant_agent.sh"


def run_dir(workspace: Path, run_id: str) -> Path:
    return workspace / "logs" / "loop" / f"run-{run_id}"


def run_log_copies(daemon: Loopd, run_id: str) -> list[list[str]]:
    """The lines of run.log as indexed, in every location."""
    artifacts = daemon.request("GET", f"/runs/{run_id}/artifacts").json()["artifacts"]
    copies = [a for a in artifacts if a["kind"] == "run_log"]
    assert {a["location"] for a in copies} == {"workspace", "global"}
    return [Path(a["path"]).read_text().splitlines() for a in copies]


def assert_run_log_tells_the_life(daemon: Loopd, run_id: str, ending: str) -> list[str]:
    """One line per event up to and including the terminal one, in order, nothing twice,
    alike in both locations (once the finish step wrote it again after the terminal event:
    a cancel may record the interrupted step's end meanwhile)."""
    types = [e["event_type"] for e in daemon.stored_events(run_id)]
    lived = types[: types.index(ending) + 1]

    def told() -> list[str] | None:
        copies = run_log_copies(daemon, run_id)
        alike = all(copy == copies[0] for copy in copies)
        same = [line.split()[1] for line in copies[0]] == lived
        return copies[0] if alike and same else None

    lines: list[str] = daemon.wait_for(told, timeout=10, what=f"run.log to tell {lived}")
    assert lines[0].split()[0].endswith("Z")  # an RFC 3339 UTC timestamp first
    return lines


def test_a_completed_run_has_its_iteration_reference_words_counts_of_the_moment_and_run_log(
    daemon: Loopd, workspace: Path
) -> None:
    run = daemon.create_run(workspace, model="cost=0.25", reviewer=False)
    done = daemon.wait_status(run["id"], "COMPLETED")
    files = run_dir(workspace, run["id"])

    summary = json.loads((files / "summary.json").read_text())
    assert summary["completed_iteration"] == summary["iterations_run"] == 3
    assert summary["exit_reason"] == "complete_plan" and summary["reason"] is None
    assert summary["cost_usd"] == done["cost_usd"] == 0.75  # three priced agent steps

    steps = daemon.steps(run["id"])
    assert [s["cost_usd"] for s in steps if s["phase"] == "implementation"] == [0.25] * 3
    assert [s["cost_usd"] for s in steps if s["phase"] == "watchdog"] == [None] * 3  # no agent

    rows = parse_report((files / "report.tsv").read_text())
    counts = [(r.kind, r.iteration, r.tasks_done, r.tasks_total) for r in rows]
    assert counts == [
        (kind, iteration, iteration, 3)
        for iteration in (1, 2, 3)
        for kind in ("implementation", "watchdog")
    ]

    lines = assert_run_log_tells_the_life(daemon, run["id"], "RUN_COMPLETED")
    assert "RUN_COMPLETED" in lines[-1] and "mode=trailing" in lines[-1]
    assert any("STEP_FINISHED  implementation #3" in line for line in lines)
    assert summary["run_log"] == str(files / "run.log")


def test_a_run_no_agent_priced_has_no_cost(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(
        workspace, agent="command", agent_cmd=f"sh {INSTANT_AGENT}", reviewer=False
    )
    done = daemon.wait_status(run["id"], "COMPLETED")
    assert done["tasks_done"] == 3
    assert "cost_usd" in done and done["cost_usd"] is None
    assert {s["cost_usd"] for s in daemon.steps(run["id"])} == {None}
    summary = json.loads((run_dir(workspace, run["id"]) / "summary.json").read_text())
    assert summary["cost_usd"] is None


def test_failed_and_canceled_runs_have_their_run_log(daemon: Loopd, workspace: Path) -> None:
    failed = daemon.create_run(workspace, model="permanent=1", name="fails")
    done = daemon.wait_status(failed["id"], "FAILED")
    lines = assert_run_log_tells_the_life(daemon, failed["id"], "RUN_FAILED")
    assert "RUN_FAILED" in lines[-1] and "Not logged in" in lines[-1]
    summary = json.loads((run_dir(workspace, failed["id"]) / "summary.json").read_text())
    assert summary["exit_reason"] == summary["reason"] == done["reason"]
    assert summary["completed_iteration"] is None

    canceled = daemon.create_run(workspace, model="delay=60", name="canceled")

    def agent_started() -> Any:
        return [s for s in daemon.steps(canceled["id"]) if s["phase"] == "implementation"]

    daemon.wait_for(agent_started, what="the agent step to start")
    assert daemon.request("POST", f"/runs/{canceled['id']}/cancel").status_code in (200, 204)
    daemon.wait_status(canceled["id"], "CANCELED")
    lines = assert_run_log_tells_the_life(daemon, canceled["id"], "RUN_CANCELED")
    assert "RUN_CANCELED" in lines[-1]


def test_run_log_after_a_kill9_tells_each_event_once(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(workspace, model="delay=0.6", reviewer=False)
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 2, what="iteration 2")
    daemon.kill9()
    daemon.start()
    daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    lines = assert_run_log_tells_the_life(daemon, run["id"], "RUN_COMPLETED")
    assert len(lines) == len(set(lines))
    rows = parse_report((run_dir(workspace, run["id"]) / "report.tsv").read_text())
    done = [r.tasks_done for r in rows if r.kind == "implementation" and r.exit_code == 0]
    assert done == sorted(done) and done[-1] == 3
