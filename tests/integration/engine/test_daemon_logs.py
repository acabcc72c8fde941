"""What loopd writes (SPEC 17): with ``--log-format json`` every line is one JSON object, its
start banner included; a pause or a cancel is one INFO line naming the run, never DBOS's
ERROR traceback of the cancelled workflow (filtered in both formats)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integration.loopd import Loopd, make_workspace

LOUD = {"warning", "error", "critical", "exception"}


def pause_resume_cancel(tmp_path: Path, log_format: str) -> tuple[str, list[str]]:
    """Run a loop through pause, resume and cancel, each while an agent step runs; return
    the run id and the lines the daemon wrote, up to its exit."""
    daemon = Loopd(tmp_path / "data", args=["--log-format", log_format]).start()
    try:
        workspace = make_workspace(tmp_path, tasks=3)
        run_id = daemon.create_run(workspace, model="delay=5", reviewer=False)["id"]

        def agent_running() -> bool:
            return any(
                s["phase"] == "implementation" and s["status"] == "IN_PROGRESS"
                for s in daemon.steps(run_id)
            )

        daemon.wait_for(agent_running, what="the agent step")
        assert daemon.request("POST", f"/runs/{run_id}/pause").status_code == 204
        daemon.wait_status(run_id, "PAUSED")
        assert daemon.request("POST", f"/runs/{run_id}/resume").status_code == 204
        daemon.wait_for(agent_running, what="the agent step after resume")
        assert daemon.request("POST", f"/runs/{run_id}/cancel").status_code == 204
        daemon.wait_status(run_id, "CANCELED")
    finally:
        daemon.stop()
    text = daemon.log_path.read_text()
    written = text.split("===== start 1 =====\n", 1)[1]  # the marker is the harness's
    return run_id, [line for line in written.splitlines() if line.strip()]


def test_json_every_line_is_an_object_and_a_control_call_is_one_info_line(
    tmp_path: Path,
) -> None:
    run_id, lines = pause_resume_cancel(tmp_path, "json")
    records: list[dict[str, Any]] = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(record, dict), line
        records.append(record)
    assert any(r["event"].startswith("loopd listening on http://") for r in records), lines
    loud = [r for r in records if r.get("level") in LOUD]
    assert not loud, loud

    def control_lines(event: str) -> list[dict[str, Any]]:
        return [r for r in records if r["event"] == event and r.get("run_id") == run_id]

    for event in ("run paused", "run resumed", "run canceled"):
        found = control_lines(event)
        assert len(found) == 1, (event, records)
        assert found[0]["level"] == "info"


def test_text_a_control_call_is_one_info_line_without_traceback(tmp_path: Path) -> None:
    run_id, lines = pause_resume_cancel(tmp_path, "text")
    assert any("loopd listening on http://" in line for line in lines), lines
    assert not [line for line in lines if "Traceback" in line or "Error" in line], lines
    assert not [line for line in lines if any(f"[{level}" in line for level in LOUD)], lines
    for event in ("run paused", "run canceled"):
        found = [line for line in lines if event in line and f"run_id={run_id}" in line]
        assert len(found) == 1, (event, lines)
        assert "[info" in found[0]


def test_control_calls_on_runs_recovered_at_startup_log_no_traceback(tmp_path: Path) -> None:
    """loopd is killed with agent steps running and one run paused; at the next start DBOS
    recovers the runs while the user pauses, resets, resumes and cancels them: each call is
    its INFO line, and nothing of the cancelled workflows' echo (an awaited workflow was
    cancelled) is logged as trouble."""
    daemon = Loopd(tmp_path / "data", args=["--log-format", "json"]).start()
    try:
        workspace = make_workspace(tmp_path, tasks=3)
        runs = [
            daemon.create_run(workspace, model="delay=5", reviewer=False)["id"] for _ in range(3)
        ]
        for run_id in runs:
            daemon.wait_for(
                lambda run_id=run_id: any(
                    s["status"] == "IN_PROGRESS" for s in daemon.steps(run_id)
                ),
                what="an agent step",
            )
        assert daemon.request("POST", f"/runs/{runs[0]}/pause").status_code == 204
        daemon.kill9()
        daemon.start()
        for action, run_id in (("pause", runs[1]), ("reset", runs[2]), ("resume", runs[0])):
            assert daemon.request("POST", f"/runs/{run_id}/{action}").status_code == 204
        daemon.wait_status(runs[1], "PAUSED")
        for run_id in runs:
            assert daemon.request("POST", f"/runs/{run_id}/cancel").status_code == 204
            daemon.wait_status(run_id, "CANCELED")
    finally:
        daemon.stop()
    written = daemon.log_path.read_text().split("===== start 2 =====\n", 1)[1]
    records = [json.loads(line) for line in written.splitlines() if line.strip()]
    assert not [r for r in records if r.get("level") in LOUD], records
    assert len([r for r in records if r["event"] == "run canceled"]) == 3
