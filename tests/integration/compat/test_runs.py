"""Runs and steps as the reference's loopctl and dashboard decode them (SPEC 20)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from integration.compat.conftest import compat_workspace, reference_request
from integration.compat.reference import (
    CreateRunResponse,
    DashboardStep,
    ErrorResponse,
    GetRunResponse,
    ListRunsResponse,
    ListStepsResponse,
)
from integration.loopd import TERMINAL, Loopd


def test_a_run_decodes_at_every_stage_of_its_life(daemon: Loopd, places: dict[str, Path]) -> None:
    workspace = compat_workspace(places["root"], "life", iterations=5)
    created = daemon.request("POST", "/runs", json=reference_request(workspace))
    assert created.status_code == 201, created.text
    run = CreateRunResponse.model_validate_json(created.text).run
    assert run.status == "PENDING" and run.worktree is None  # not set up yet
    assert run.review_status == "pending"  # and name_source is haiku or spec_slug

    seen: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = daemon.request("GET", f"/runs/{run.id}")
        now = GetRunResponse.model_validate_json(answer.text).run  # every poll decodes
        seen.setdefault(now.status, now)
        if now.status in TERMINAL:
            break
        time.sleep(0.02)
    done = seen["COMPLETED"]
    assert done.worktree is not None and done.worktree.provider == "git"
    assert done.worktree.run_branch.startswith("run/") and done.review_status == "pending"
    raw = daemon.run(run.id)
    assert raw["config"]["iterations"] == 5  # from the config file the path named
    assert raw["name_given"] is False


def test_steps_decode_and_carry_ended_at(daemon: Loopd, finished: dict[str, Any]) -> None:
    answer = daemon.request("GET", f"/runs/{finished['id']}/steps")
    steps = ListStepsResponse.model_validate_json(answer.text).steps
    assert {s.phase for s in steps} >= {"implementation", "review"}
    assert all(s.status == "SUCCEEDED" and s.ended_at and s.attempt >= 1 for s in steps)
    for raw in answer.json()["steps"]:
        assert raw["ended_at"] == raw["finished_at"]  # ours stays
        DashboardStep.model_validate(raw)


def test_a_given_name_is_spec_slug_with_name_given(daemon: Loopd, workspace: Path) -> None:
    body = reference_request(workspace, name="compat-named")
    created = daemon.request("POST", "/runs", json=body)
    run = CreateRunResponse.model_validate_json(created.text).run
    raw = created.json()["run"]
    assert run.name == "compat-named" and run.name_source == "spec_slug" and raw["name_given"]
    sluggish = daemon.request(
        "POST", "/runs", json=reference_request(workspace, name_source="spec_slug")
    )
    slug = CreateRunResponse.model_validate_json(sluggish.text).run
    assert slug.name == "demo" and sluggish.json()["run"]["name_given"] is False
    for run_id in (run.id, slug.id):
        daemon.request("POST", f"/runs/{run_id}/cancel")
        daemon.wait_status(run_id, "CANCELED", "COMPLETED")


def test_config_override_as_a_path_stays_inside_the_workspace(
    daemon: Loopd, workspace: Path, places: dict[str, Path]
) -> None:
    outside = places["root"] / "outside.cfg"
    outside.write_text("agent=scripted\n")
    before = len(daemon.request("GET", "/runs", params={"limit": 1000}).json()["runs"])
    for path in (str(outside), "../outside.cfg", "../../outside.cfg"):
        refused = daemon.request(
            "POST", "/runs", json=reference_request(workspace, config_override=path)
        )
        assert refused.status_code == 400, refused.text
        assert "outside" in ErrorResponse.model_validate_json(refused.text).error
    missing = daemon.request(
        "POST", "/runs", json=reference_request(workspace, config_override="nope.cfg")
    )
    assert missing.status_code == 400
    assert len(daemon.request("GET", "/runs", params={"limit": 1000}).json()["runs"]) == before
    relative = daemon.request(
        "POST",
        "/runs",
        json=reference_request(workspace, config_override=".loop/compat.cfg", name="rel"),
    )
    assert relative.status_code == 201, relative.text
    run_id = relative.json()["run"]["id"]
    assert relative.json()["run"]["config"]["agent"] == "scripted"
    daemon.request("POST", f"/runs/{run_id}/cancel")
    daemon.wait_status(run_id, "CANCELED", "COMPLETED")


def test_every_listed_run_decodes_whatever_its_status(
    daemon: Loopd, workspace: Path, finished: dict[str, Any], places: dict[str, Path]
) -> None:
    stuck = compat_workspace(places["root"], "stuck", model="hang=1")
    created = daemon.request("POST", "/runs", json=reference_request(stuck)).json()["run"]
    daemon.wait_for(
        lambda: daemon.request("GET", f"/runs/{created['id']}/steps").json()["steps"],
        what="the hanging step",
    )
    running = daemon.request("GET", f"/runs/{created['id']}")
    assert GetRunResponse.model_validate_json(running.text).run.worktree is not None
    assert GetRunResponse.model_validate_json(running.text).run.status == "RUNNING"
    assert daemon.request("POST", f"/runs/{created['id']}/cancel").status_code == 204
    daemon.wait_status(created["id"], "CANCELED")
    steps = daemon.request("GET", f"/runs/{created['id']}/steps")
    assert "CANCELED" in {s.status for s in ListStepsResponse.model_validate_json(steps.text).steps}

    everything = ListRunsResponse.model_validate_json(daemon.request("GET", "/runs").text).runs
    assert {"COMPLETED", "CANCELED"} <= {r.status for r in everything}
    filtered = daemon.request(
        "GET", "/runs", params={"status": "COMPLETED", "workspace_root": str(workspace)}
    )
    runs = ListRunsResponse.model_validate_json(filtered.text).runs
    assert finished["id"] in {r.id for r in runs}
    assert all(r.status == "COMPLETED" and r.workspace_root == str(workspace) for r in runs)
    assert daemon.request("GET", "/runs/no-such-run").status_code == 404
