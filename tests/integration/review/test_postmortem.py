"""The postmortem (SPEC 2.6, 13, 14): after a run ends, on demand, and switched off."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from integration.loopd import Loopd, make_workspace
from integration.review.support import history, types


def postmortem(daemon: Loopd, run_id: str) -> dict[str, Any]:
    response = daemon.request("GET", f"/runs/{run_id}/postmortem")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_postmortem(daemon: Loopd, run_id: str, *statuses: str) -> dict[str, Any]:
    wanted = set(statuses) or {"done"}
    return dict(
        daemon.wait_for(
            lambda: (p := postmortem(daemon, run_id))["status"] in wanted and p,
            what=f"postmortem {wanted}",
        )
    )


def test_a_postmortem_follows_the_end_of_a_run(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(workspace, iterations=1, reviewer=False)
    failed = daemon.wait_status(run["id"], "FAILED")
    assert failed["reason"] == "iteration_limit"
    done = wait_postmortem(daemon, run["id"])
    run_dir = workspace / "logs" / "loop" / f"run-{run['id']}"
    path = run_dir / "analysis" / "postmortem.md"
    assert done["path"] == str(path) and path.read_text() == done["text"]
    assert done["text"].startswith("# Postmortem (scripted)")
    assert "ended FAILED, reason: iteration_limit." in done["text"]

    kinds = types(daemon, run["id"])
    end = kinds.index("RUN_FAILED")
    assert kinds[end + 1 :].count("POSTMORTEM_START") == 1
    assert kinds[end + 1 :].count("POSTMORTEM_END") == 1
    assert kinds.index("POSTMORTEM_START") < kinds.index("POSTMORTEM_END")
    finished = next(e for e in history(daemon, run["id"]) if e["event_type"] == "POSTMORTEM_END")
    assert finished["payload"]["status"] == "done"
    assert finished["payload"]["path"] == str(path)

    artifacts = daemon.request("GET", f"/runs/{run['id']}/artifacts").json()["artifacts"]
    analysis = [a for a in artifacts if a["kind"] == "analysis"]
    assert {a["location"] for a in analysis} == {"workspace", "global"}
    assert all(a["path"].endswith("analysis/postmortem.md") for a in analysis)

    # on demand: a second one, then the same status shape
    again = daemon.request("POST", f"/runs/{run['id']}/postmortem")
    assert again.status_code == 202, again.text
    body = again.json()
    assert body["run"]["id"] == run["id"]
    assert body["postmortem"]["status"] == "running" and body["postmortem"]["started"]
    daemon.wait_for(
        lambda: types(daemon, run["id"]).count("POSTMORTEM_END") == 2, what="the second one"
    )
    assert wait_postmortem(daemon, run["id"])["text"] == done["text"]


def test_postmortem_false_means_none_until_asked(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(workspace, reviewer=False, postmortem=False)
    daemon.wait_status(run["id"], "COMPLETED")
    time.sleep(1.0)
    state = postmortem(daemon, run["id"])
    assert state["status"] == "none" and state["text"] is None
    assert "POSTMORTEM_START" not in types(daemon, run["id"])

    asked = daemon.request("POST", f"/runs/{run['id']}/postmortem")
    assert asked.status_code == 202, asked.text
    done = wait_postmortem(daemon, run["id"])
    assert "ended COMPLETED." in done["text"]


def test_postmortem_is_refused_for_an_unfinished_run(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(workspace, model="delay=30")
    daemon.wait_status(run["id"], "RUNNING")
    refused = daemon.request("POST", f"/runs/{run['id']}/postmortem")
    assert refused.status_code == 409 and refused.json()["status"] == "RUNNING"
    assert postmortem(daemon, run["id"])["status"] == "none"
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    daemon.wait_status(run["id"], "CANCELED")
    time.sleep(0.5)
    assert postmortem(daemon, run["id"])["status"] == "none"  # no automatic one after cancel


def test_a_postmortem_cut_by_a_crash_finishes_after_restart(daemon: Loopd, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, tasks=1, name="crashy")
    run = daemon.create_run(workspace, reviewer=False, model="postmortem_delay=3")
    daemon.wait_status(run["id"], "COMPLETED")
    daemon.wait_for(
        lambda: postmortem(daemon, run["id"])["status"] == "running", what="the postmortem"
    )
    daemon.wait_for(lambda: "POSTMORTEM_START" in types(daemon, run["id"]), what="its start")
    daemon.kill9()
    daemon.start()
    done = wait_postmortem(daemon, run["id"])
    assert "ended COMPLETED." in done["text"]
    kinds = types(daemon, run["id"])
    assert kinds.count("POSTMORTEM_START") == 1 and kinds.count("POSTMORTEM_END") == 1
