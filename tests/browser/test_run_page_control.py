"""The run page as a control surface (SPEC 8, 18): the plan's tasks change markers live as
the agent works, the diff view's review buttons merge and scrap (enabled only when the run
allows them), and a run paused for attention says why and goes on with a note."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import client, shot, wait_status
from playwright.sync_api import Page, expect

from integration.loopd import Loopd, git

pytestmark = pytest.mark.browser


def marker(page: Page, line: int) -> Any:
    return page.locator(f'.plan-task[data-line="{line}"] .plan-marker')


def start(loopd: Loopd, workspace: Path, name: str, **config: Any) -> dict[str, Any]:
    body = {
        "spec_path": "specs/demo.md",
        "workspace_root": str(workspace),
        "name": name,
        "config_override": {"agent": "scripted", **config},
    }
    with client(loopd) as http:
        answer = http.post("/runs", json=body)
    assert answer.status_code == 201, answer.text
    run: dict[str, Any] = answer.json()["run"]
    return run


def test_plan_markers_change_live_as_the_run_goes(loopd: Loopd, workspace: Path, page: Page):
    run = start(loopd, workspace, "planned", model="delay=2")
    with client(loopd) as http:  # held before the agent ticks anything
        assert http.post(f"/runs/{run['id']}/pause").status_code == 204
    wait_status(loopd, run["id"], "PAUSED")
    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    page.evaluate("window.__sameDocument = true")
    for line in (3, 4, 5):  # the plan's "- [ ] a", "b", "c"
        expect(marker(page, line)).to_have_text("[ ]")
    expect(page.locator(".plan-summary")).to_contain_text("0/3 tasks done")

    page.get_by_role("button", name="Resume").click()
    expect(marker(page, 3)).to_have_text("[x]", timeout=20_000)  # implemented ...
    expect(marker(page, 4)).to_have_text("[ ]")
    expect(marker(page, 3)).to_have_text("[R]", timeout=20_000)  # ... then reviewed
    expect(marker(page, 4)).to_have_text("[x]", timeout=20_000)
    expect(page.locator(".plan-summary")).to_contain_text("from its worktree")
    shot(page, "run-plan-live")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    with client(loopd) as http:
        http.post(f"/runs/{run['id']}/cancel")


def test_review_buttons_merge_and_scrap_from_the_diff_view(
    loopd: Loopd, workspace: Path, page: Page
):
    live = start(loopd, workspace, "unfinished", model="delay=30")
    wait_status(loopd, live["id"], "RUNNING")
    page.goto(f"{loopd.addr}/#/runs/{live['id']}")
    page.get_by_role("tab", name="Diff").click()
    review = page.get_by_role("group", name="Review")
    for name in ("Merge", "Scrap", "Create PR"):  # a running run is not for review
        expect(review.get_by_role("button", name=name)).to_be_disabled()
    expect(review).to_contain_text("Review opens once the run has ended.")
    with client(loopd) as http:
        http.post(f"/runs/{live['id']}/cancel")
    expect(review.get_by_role("button", name="Scrap")).to_be_enabled()
    expect(review.get_by_role("button", name="Merge")).to_be_disabled()  # canceled: no merge

    run = start(loopd, workspace, "reviewed", reviewer=False)
    wait_status(loopd, run["id"], "COMPLETED")
    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    page.get_by_role("tab", name="Diff").click()
    review = page.get_by_role("group", name="Review")
    expect(page.locator(".commits .commit")).to_have_count(3)
    review.get_by_label("Merge into").fill("agent/from-page")
    review.get_by_role("button", name="Merge").click()
    outcome = review.locator(".review-outcome")
    expect(outcome).to_contain_text(re.compile(r"Merged into agent/from-page as [0-9a-f]{8}"))
    expect(review.locator(".review-state")).to_contain_text("Merged (")  # the run re-read
    expect(review.get_by_role("button", name="Scrap")).to_be_enabled()
    expect(review.get_by_role("button", name="Merge")).to_be_disabled()
    assert git(workspace, "log", "-1", "--format=%s", "agent/from-page")
    tasks = git(workspace, "show", "agent/from-page:specs/planning/demo-plan.md")
    assert tasks.count("- [x]") == 3

    review.get_by_role("button", name="Create PR").click()  # never pushed: refused, with why
    expect(review.get_by_role("alert")).to_contain_text(
        re.compile(r"create-pr refused \((gh_missing|not_pushed)\)")
    )

    page.once("dialog", lambda dialog: dialog.accept())
    review.get_by_role("button", name="Scrap").click()
    expect(outcome).to_have_text("Scrapped: the run's branch and worktree are deleted.")
    expect(review.locator(".review-state")).to_contain_text("Scrapped: the branch is gone.")
    for name in ("Merge", "Scrap", "Create PR"):
        expect(review.get_by_role("button", name=name)).to_be_disabled()
    shot(page, "run-review-scrapped")
    branch = wait_status(loopd, run["id"], "COMPLETED")["worktree"]["run_branch"]
    assert git(workspace, "branch", "--list", branch) == ""


def test_a_run_that_needs_attention_says_why_and_goes_on_with_a_note(
    loopd: Loopd, workspace: Path, page: Page
):
    run = start(
        loopd,
        workspace,
        "stuck",
        model="no_commit=1",
        reviewer=False,
        watchdog_max_rewrites=0,
        postmortem=False,
    )
    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    panel = page.get_by_role("region", name="Needs attention")
    expect(panel).to_be_visible(timeout=30_000)
    expect(panel.locator('li[data-signal="no_progress"]')).to_contain_text("no_progress:")
    short = run["id"][:13]
    expect(panel.locator(".attention-commands")).to_have_text(
        f'loopctl say {short} "what to do next"\nloopctl resume {short}'
    )
    shot(page, "run-needs-attention")

    panel.get_by_label("Tell the agent what to do, then resume").fill("Tick task a, then commit.")
    panel.get_by_role("button", name="Send note and resume").click()
    loopd.wait_for(
        lambda: "RUN_RESUMED" in [e["event_type"] for e in loopd.stored_events(run["id"])],
        what="the run resumed from the page",
    )
    with client(loopd) as http:
        notes = http.get(f"/runs/{run['id']}/notes").json()["notes"]
        assert [(n["text"], n["source"]) for n in notes] == [("Tick task a, then commit.", "web")]
        http.post(f"/runs/{run['id']}/cancel")
