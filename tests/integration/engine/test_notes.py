"""Notes from the user (SPEC 18): added over the API or `loopctl say`, delivered once to the
next agent step's prompt and runner notes, surviving a restart; a paused run that needs
attention takes a note and goes on with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from integration.loopd import Loopd

LOOPCTL = Path(sys.executable).with_name("loopctl")
# Records each prompt it gets, then claims progress it did not make.
RECORDER = (
    'cat >> "$LOOP_RUN_DIR/prompts.txt"; echo "=== end of prompt" >> "$LOOP_RUN_DIR/prompts.txt"; '
    "sleep {sleep}; echo 'Completed nothing. 3 tasks remain.'"
)


def prompts(workspace: Path, run_id: str) -> list[str]:
    text = (workspace / "logs" / "loop" / f"run-{run_id}" / "prompts.txt").read_text()
    return text.split("=== end of prompt\n")[:-1]


def say(daemon: Loopd, run_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOOPCTL), "--addr", daemon.addr, "say", run_id, *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_a_note_reaches_the_next_agent_step_once(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd=RECORDER.format(sleep=1.5),
        reviewer=False,
        iterations=3,
        watchdog_exhausted="fail",
        watchdog_max_rewrites=5,
        postmortem=False,  # its prompt would go to the same recording agent
    )
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 1, what="iteration 1")
    answer = daemon.request(
        "POST",
        f"/runs/{run['id']}/notes",
        json={"text": "Use tabs, not spaces.", "file": "src/app.py", "line": 12},
    )
    assert answer.status_code == 201, answer.text
    note = answer.json()["note"]
    assert note["source"] == "api" and note["delivered_step_id"] is None
    daemon.wait_status(run["id"], "FAILED", timeout=60)  # iteration_limit
    seen = prompts(workspace, run["id"])
    assert len(seen) == 3
    assert "Notes from the user" not in seen[0]
    assert (
        "## Notes from the user" in seen[1] and "- [src/app.py:12] Use tabs, not spaces." in seen[1]
    )
    assert "Notes from the user" not in seen[2]  # delivered once
    listed = daemon.request("GET", f"/runs/{run['id']}/notes").json()["notes"]
    assert listed[0]["id"] == note["id"] and listed[0]["delivered_step_id"]
    events = daemon.stored_events(run["id"])
    added = [e for e in events if e["event_type"] == "NOTE_ADDED"]
    delivered = [e for e in events if e["event_type"] == "NOTE_DELIVERED"]
    assert added[0]["payload"]["text"] == "Use tabs, not spaces."
    assert delivered[0]["payload"] == {
        "note_id": note["id"],
        "step_id": listed[0]["delivered_step_id"],
    }
    notes_file = workspace / "logs" / "loop" / f"run-{run['id']}" / "runner-notes.txt"
    assert "Use tabs, not spaces." in notes_file.read_text()  # no verification resets it


def test_needs_attention_then_say_and_resume_continues_with_the_note(
    daemon: Loopd, workspace: Path
):
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd=RECORDER.format(sleep=0),
        reviewer=False,
        watchdog_max_rewrites=0,
    )
    paused = daemon.wait_status(run["id"], "PAUSED", timeout=60)
    assert paused["reason"] == "needs_attention"
    shown = subprocess.run(
        [str(LOOPCTL), "--addr", daemon.addr, "inspect", run["id"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "needs attention:" in shown and "no_progress:" in shown
    assert f"loopctl resume {run['id'][:13]}" in shown
    told = say(daemon, run["id"], "Tick the task in the plan, then commit.")
    assert told.returncode == 0, told.stderr
    assert "the run is paused" in told.stdout and "loopctl resume" in told.stdout
    before = len(prompts(workspace, run["id"]))
    assert daemon.request("POST", f"/runs/{run['id']}/resume").status_code == 204
    daemon.wait_for(lambda: len(prompts(workspace, run["id"])) > before, what="the next step")
    resumed = prompts(workspace, run["id"])[before]
    assert "Tick the task in the plan, then commit." in resumed
    note = daemon.request("GET", f"/runs/{run['id']}/notes").json()["notes"][0]
    assert note["source"] == "cli"
    daemon.request("POST", f"/runs/{run['id']}/cancel")


def test_an_undelivered_note_survives_a_restart(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, model="delay=30", reviewer=False)
    daemon.wait_status(run["id"], "RUNNING")
    assert daemon.request("POST", f"/runs/{run['id']}/pause").status_code == 204
    daemon.wait_status(run["id"], "PAUSED")
    assert say(daemon, run["id"], "Remember me.").returncode == 0
    daemon.restart()
    notes = daemon.request("GET", f"/runs/{run['id']}/notes").json()["notes"]
    assert [(n["text"], n["delivered_step_id"]) for n in notes] == [("Remember me.", None)]
    daemon.request("POST", f"/runs/{run['id']}/cancel")


def test_bad_notes_are_refused(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, reviewer=False)
    post = lambda body, rid=run["id"]: daemon.request("POST", f"/runs/{rid}/notes", json=body)  # noqa: E731
    assert post({"text": "   "}).status_code == 400
    assert post({"text": "x" * 20_001}).status_code == 400
    assert post({"text": "ok", "line": 3}).status_code == 400  # a line needs a file
    assert post({"text": "ok"}, "no-such-run").status_code == 404
    daemon.wait_status(run["id"], "COMPLETED")
    refused = post({"text": "too late"})
    assert refused.status_code == 409 and "COMPLETED" in refused.json()["error"]
    assert daemon.request("GET", f"/runs/{run['id']}/notes").json()["notes"] == []
    assert say(daemon, run["id"], "x", "--line", "2").returncode == 2
