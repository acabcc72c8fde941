"""Notes to the agent from the run page (SPEC 18): the note box, and a comment on a line of
the diff, each reaching loopd as a note (source web) that waits for the next agent step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashboard_support import client, shot, wait_status
from playwright.sync_api import Page, expect

from integration.loopd import Loopd

pytestmark = pytest.mark.browser


def test_a_note_and_a_diff_line_comment_from_the_page(
    loopd: Loopd, workspace: Path, page: Page, start_run: Any
):
    run = start_run(loopd, workspace, name="noted")
    with client(loopd) as http:  # one iteration: a commit to comment on, then FAILED
        http.post(f"/runs/{run['id']}/cancel")
    body = {
        "spec_path": "specs/demo.md",
        "workspace_root": str(workspace),
        "name": "noted-2",
        "config_override": {"agent": "scripted", "iterations": 1, "reviewer": False},
    }
    with client(loopd) as http:
        run = http.post("/runs", json=body).json()["run"]
    wait_status(loopd, run["id"], "FAILED", timeout=30)

    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    page.get_by_role("tab", name="Notes").click()
    page.get_by_label("Note to the agent").fill("Please add tests for a.")
    page.get_by_role("button", name="Send note").click()
    note = page.locator(".notes .note").first
    expect(note).to_contain_text("Please add tests for a.")
    expect(note).to_contain_text("waiting for the next agent step")

    page.get_by_role("tab", name="Diff").click()
    page.locator("details.file").first.locator("summary").click()
    path = page.locator("details.file").first.get_attribute("data-path")
    page.get_by_role("button", name=f"Comment on {path} line 1").click()
    page.get_by_role("textbox", name=f"Comment on {path} line 1").fill("Rename this line.")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".line-comment-sent")).to_have_text(f"Note sent about {path}:1")
    shot(page, "diff-line-comment")

    with client(loopd) as http:
        notes = http.get(f"/runs/{run['id']}/notes").json()["notes"]
    assert [(n["text"], n["file"], n["line"], n["source"]) for n in notes] == [
        ("Please add tests for a.", None, None, "web"),
        ("Rename this line.", path, 1, "web"),
    ]
