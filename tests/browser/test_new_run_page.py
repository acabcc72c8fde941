"""Starting a run from the page (SPEC 18): the "New run" form lists the workspace's specs
(GET /workspaces/specs), takes the run flags, starts the run and opens its page, where it
runs to the end; a workspace loopd cannot use is reported in the form."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import client, shot
from playwright.sync_api import Page, expect

from integration.loopd import Loopd

pytestmark = pytest.mark.browser


def form_ready(page: Page) -> None:
    """The form has listed the known workspaces (and prefilled the last one, if any)."""
    expect(page.locator("form.new-run-form")).to_have_attribute("data-ready", "true")


def test_the_new_run_form_starts_a_run_that_runs(loopd: Loopd, workspace: Path, page: Page):
    (workspace / "specs" / "later.md").write_text("# Later\n\nStatus: draft\n")  # no plan
    page.goto(f"{loopd.addr}/")
    page.get_by_role("link", name="New run").click()
    expect(page.get_by_role("heading", name="New run")).to_be_visible()
    form_ready(page)

    page.get_by_label("Workspace", exact=True).fill(str(workspace))
    spec = page.get_by_label("Spec", exact=True)
    expect(spec.locator("option")).to_have_count(2)
    spec.select_option("specs/later.md")
    expect(page.locator(".field", has=spec)).to_contain_text(
        "no plan at specs/planning/later-plan.md yet"
    )
    spec.select_option("specs/demo.md")
    expect(page.get_by_label("Plan", exact=True)).to_have_value("specs/planning/demo-plan.md")
    page.get_by_label("Name", exact=True).fill("from-the-form")
    page.get_by_label("Agent", exact=True).select_option("scripted")
    page.get_by_label("Model", exact=True).fill("delay=0.2")
    page.get_by_label("Max iterations", exact=True).fill("9")
    page.get_by_label("Reviewer", exact=True).select_option("false")
    page.get_by_text("More options").click()
    page.get_by_label("Run branch prefix", exact=True).fill("web/")
    shot(page, "new-run-form")
    page.get_by_role("button", name="Start run").click()

    expect(page.locator("#run-title")).to_have_text("from-the-form")
    run_id = re.search(r"#/runs/([^/?]+)", page.url)
    assert run_id, page.url
    expect(page.locator("#run-status .badge")).to_have_attribute(
        "data-status", "COMPLETED", timeout=30_000
    )
    expect(page.locator('[data-field="tasks"]')).to_have_text("3/3")
    with client(loopd) as http:
        run: dict[str, Any] = http.get(f"/runs/{run_id[1]}").json()["run"]
    assert run["spec_path"] == str(workspace / "specs" / "demo.md")
    assert run["worktree"]["run_branch"] == "web/from-the-form"
    assert (run["agent"], run["model"]) == ("scripted", "delay=0.2")
    assert (run["config"]["iterations"], run["config"]["reviewer"]) == (9, False)

    page.get_by_role("link", name="← All runs").click()  # a known workspace now
    page.get_by_role("link", name="New run").click()
    expect(page.get_by_label("Workspace", exact=True)).to_have_value(str(workspace))
    expect(page.locator("#known-workspaces option")).to_have_count(1)
    expect(page.get_by_label("Spec", exact=True).locator("option")).to_have_count(2)


def test_the_form_reports_a_workspace_loopd_cannot_use(
    loopd: Loopd, workspace: Path, page: Page, tmp_path: Path
):
    page.goto(f"{loopd.addr}/#/new")
    form_ready(page)  # else the last run's workspace may land in the field while it is filled
    field = page.get_by_label("Workspace", exact=True)
    note = page.locator("#new-workspace + .hint")
    field.fill("relative/repo")
    expect(note).to_contain_text("must be an absolute path")
    field.fill(str(tmp_path / "nowhere"))
    expect(note).to_contain_text("workspace not found")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("alert")).to_contain_text("Pick a workspace and one of its specs.")

    field.fill(str(workspace))
    expect(page.get_by_label("Spec", exact=True)).to_have_value("specs/demo.md")
    page.get_by_label("Plan", exact=True).fill("specs/planning/missing-plan.md")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("alert")).to_contain_text("Not started: plan file not found")
    assert "#/new" in page.url


def test_the_form_sends_the_token_with_each_request(
    loopd_factory: Callable[..., Loopd], workspace: Path, page: Page
):
    daemon = loopd_factory(token="form-token")
    page.goto(f"{daemon.addr}/#/new")
    page.get_by_label("Access token").fill("form-token")
    page.get_by_role("button", name="Unlock").click()
    form_ready(page)
    page.get_by_label("Workspace", exact=True).fill(str(workspace))
    expect(page.get_by_label("Spec", exact=True)).to_have_value("specs/demo.md")
    page.get_by_label("Agent", exact=True).select_option("scripted")
    page.get_by_label("Name", exact=True).fill("guarded-form")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#run-title")).to_have_text("guarded-form")
    expect(page.locator(".plan-task")).to_have_count(3)  # GET /runs/{id}/plan, with the token
