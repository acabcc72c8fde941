"""The dashboard served by loopd, driven in headless Chromium against a real daemon."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import client, shot, wait_status
from playwright.sync_api import Page, Request, expect

from integration.loopd import Loopd

pytestmark = pytest.mark.browser

RunStarter = Callable[..., dict[str, Any]]
TOKEN = "s3cret-dashboard-token"


def run_row(page: Page, run_id: str) -> Any:
    return page.locator(f'tr[data-run-id="{run_id}"]')


def test_started_run_appears_and_completes_without_reload(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    page.goto(f"{loopd.addr}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.evaluate("window.__sameDocument = true")

    run = start_run(loopd, workspace, model="delay=0.3", name="live-list")

    row = run_row(page, run["id"])
    expect(row).to_be_visible()
    expect(row.get_by_role("link")).to_have_text("live-list")
    expect(row.locator(".badge")).to_have_text(re.compile("COMPLETED"), timeout=30_000)
    expect(row.locator('td[data-label="Tasks"]')).to_contain_text("3/3")
    expect(row.locator('td[data-label="Branch"]')).to_contain_text("run/live-list")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    shot(page, "runs-light")
    page.emulate_media(color_scheme="dark")
    shot(page, "runs-dark")


def test_filters_by_status_and_workspace(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    run = start_run(loopd, workspace, name="filtered")
    wait_status(loopd, run["id"], "COMPLETED")
    page.goto(f"{loopd.addr}/")
    expect(run_row(page, run["id"])).to_be_visible()

    page.select_option("#filter-status", "FAILED")
    expect(run_row(page, run["id"])).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("No runs match")
    page.select_option("#filter-status", "COMPLETED")
    page.select_option("#filter-workspace", str(workspace))
    expect(run_row(page, run["id"])).to_be_visible()
    assert "status=COMPLETED" in page.url  # filters live in the fragment, never a token


def test_pages_of_runs_and_the_way_back_keeps_filters_and_page(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    runs = [start_run(loopd, workspace, name=f"paged-{i}") for i in range(3)]
    for run in runs:
        wait_status(loopd, run["id"], "COMPLETED")
    newest_first = [run["id"] for run in reversed(runs)]
    page.goto(f"{loopd.addr}/#/?workspace={workspace}&per=2")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(run_row(page, newest_first[0])).to_be_visible()
    expect(page.locator(".count")).to_have_text("1\u20132 of 3")
    newer = page.get_by_role("button", name="← Newer")
    older = page.get_by_role("button", name="Older →")
    expect(newer).to_be_disabled()

    older.click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(run_row(page, newest_first[2])).to_be_visible()
    expect(page.locator(".count")).to_have_text("3\u20133 of 3")
    expect(page.locator(".page-info")).to_have_text("Page 2 of 2")
    expect(older).to_be_disabled()
    assert "page=2" in page.url and "per=2" in page.url

    run_row(page, newest_first[2]).get_by_role("link").click()
    expect(page.locator("#run-title")).to_have_text("paged-0")
    page.reload()  # the way back survives a reload of the run view
    page.get_by_role("link", name="← All runs").click()
    expect(run_row(page, newest_first[2])).to_be_visible()
    expect(page.locator(".page-info")).to_have_text("Page 2 of 2")
    expect(page.locator("#filter-workspace")).to_have_value(str(workspace))

    page.select_option("#filter-status", "COMPLETED")  # a new filter starts at page 1
    expect(page.locator("tbody tr")).to_have_count(2)
    assert "page=" not in page.url


def test_output_streams_into_the_run_view(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    run = start_run(loopd, workspace, model="delay=1;lines=40", name="streaming")
    page.goto(f"{loopd.addr}/")
    link = run_row(page, run["id"]).get_by_role("link")
    link.focus()
    page.keyboard.press("Enter")  # keyboard navigation into the run view
    expect(page.locator("#run-title")).to_have_text("streaming")

    output = page.locator("#output-log")
    expect(output.locator(".line").first).to_be_visible(timeout=20_000)
    # Lines arrive while the run is still going: streamed, not loaded at the end.
    assert page.locator("#run-status .badge").get_attribute("data-status") in {
        "PENDING",
        "RUNNING",
    }
    expect(output.locator(".output-head").first).to_have_text("implementation · iter 1")
    expect(page.locator(".timeline .step").first).to_contain_text("implementation")

    # Scrolling up pauses auto-scroll while lines keep coming; "Jump to latest" resumes it.
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_hidden()
    expect(output.locator(".line").nth(39)).to_be_attached()  # the box overflows by now
    output.hover()
    page.mouse.wheel(0, -100_000)
    expect(jump).to_be_visible()
    lines_then = output.locator(".line").count()
    expect(output.locator(".line").nth(lines_then + 5)).to_be_attached(timeout=20_000)
    assert output.evaluate("node => node.scrollTop") == 0
    jump.click()
    expect(jump).to_be_hidden()
    assert output.evaluate("n => n.scrollHeight - n.scrollTop - n.clientHeight") < 30

    expect(page.locator("#run-status")).to_contain_text("COMPLETED", timeout=30_000)
    expect(output).to_contain_text("scripted: line 40/40")
    expect(output).to_contain_text("<promise>COMPLETE</promise>")
    first_step = page.locator(".timeline .step").first
    expect(first_step).to_have_attribute("data-status", "SUCCEEDED")
    expect(first_step.locator(".step-exit")).to_have_text("exit 0")
    expect(page.locator('[data-field="tasks"]')).to_have_text("3/3")
    expect(page.get_by_role("button", name="Retry")).to_be_disabled()
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()

    page.get_by_role("tab", name="Events").click()
    expect(page.locator('table.events tr[data-type="RUN_COMPLETED"]')).to_have_count(1)
    page.get_by_role("tab", name="Output").click()
    shot(page, "run-light")
    page.emulate_media(color_scheme="dark")
    shot(page, "run-dark")


def test_cancel_from_the_page_cancels_a_live_run(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    run = start_run(loopd, workspace, model="hang=1", name="to-cancel")
    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    expect(page.locator("#run-status")).to_contain_text("RUNNING")
    expect(page.locator('.timeline .step[data-status="IN_PROGRESS"]')).to_have_count(1)
    pause = page.get_by_role("button", name="Pause")
    retry = page.get_by_role("button", name="Retry")
    expect(pause).to_be_enabled()
    expect(retry).to_be_disabled()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel").click()

    expect(page.locator("#run-status")).to_contain_text("CANCELED")
    assert wait_status(loopd, run["id"], "CANCELED")["status"] == "CANCELED"
    expect(retry).to_be_enabled()
    expect(pause).to_be_disabled()
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(page.locator('.timeline .step[data-status="IN_PROGRESS"]')).to_have_count(0)
    shot(page, "run-canceled")


def test_diff_view_shows_the_run_commits(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    run = start_run(loopd, workspace, name="diffed")
    wait_status(loopd, run["id"], "COMPLETED")
    with client(loopd) as http:
        diff = http.get(f"/runs/{run['id']}/diff").json()
    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    tab = page.get_by_role("tab", name="Output")
    tab.focus()
    page.keyboard.press("End")  # arrow keys / Home / End move between tabs
    expect(page.get_by_role("tab", name="Notes")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Diff")).to_have_attribute("aria-selected", "true")

    commits = page.locator(".commits .commit")
    expect(commits).to_have_count(len(diff["commits"]))
    subjects = [c["subject"] for c in diff["commits"]]
    assert {"a", "b", "c"} <= set(subjects)
    expect(commits.locator(".subject")).to_have_text(subjects)
    plan = page.locator('details.file[data-path="specs/planning/demo-plan.md"]')
    plan.locator("summary").click()
    expect(plan.locator(".patch-add").first).to_have_text("+- [R] a")
    shot(page, "run-diff")


def test_narrow_window_and_theme_toggle(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    run = start_run(loopd, workspace, model="lines=2", name="narrow")
    wait_status(loopd, run["id"], "COMPLETED")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{loopd.addr}/")
    expect(run_row(page, run["id"])).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "scrolls sideways"

    toggle = page.locator("#theme-toggle")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    shot(page, "runs-narrow-light")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    shot(page, "runs-narrow-dark")

    run_row(page, run["id"]).get_by_role("link").click()
    expect(page.locator("#run-status")).to_contain_text("COMPLETED")
    expect(page.locator("#output-log")).to_contain_text("scripted: line 2/2")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "scrolls sideways"
    shot(page, "run-narrow-dark")


def test_token_prompt(
    loopd_factory: Callable[..., Loopd], workspace: Path, page: Page, start_run: RunStarter
) -> None:
    daemon = loopd_factory(token=TOKEN)
    run = start_run(daemon, workspace, name="guarded")
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))

    page.goto(f"{daemon.addr}/")
    token_input = page.get_by_label("Access token")
    expect(token_input).to_be_focused()
    shot(page, "token-prompt")

    token_input.fill("not-the-token")
    token_input.press("Enter")
    expect(page.locator("#token-error")).to_have_text("loopd refused that token.")
    assert page.evaluate("sessionStorage.length") == 0

    token_input.fill(TOKEN)
    page.get_by_role("button", name="Unlock").click()
    expect(run_row(page, run["id"])).to_be_visible()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")

    page.reload()  # kept for the tab: no second prompt
    expect(run_row(page, run["id"])).to_be_visible()
    page.goto(f"{daemon.addr}/#/runs/{run['id']}")
    expect(page.locator("#run-status")).to_contain_text("COMPLETED")
    expect(page.locator("#output-log .line").first).to_be_visible()

    page.get_by_role("button", name="Forget token").click()
    expect(page.get_by_label("Access token")).to_be_visible()

    assert requests
    for request in requests:
        assert TOKEN not in request.url and "not-the-token" not in request.url, request.url
    api_calls = [r for r in requests if "/runs" in r.url and r.resource_type == "fetch"]
    assert api_calls
    authorised = [r for r in api_calls if r.all_headers().get("authorization") == f"Bearer {TOKEN}"]
    assert authorised, "no API request carried the token in its Authorization header"


def test_pause_resume_and_retry_from_the_page(
    loopd: Loopd, workspace: Path, page: Page, start_run: RunStarter
) -> None:
    run = start_run(loopd, workspace, model="hang=1", name="controlled")
    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    status = page.locator("#run-status")
    expect(status).to_contain_text("RUNNING")
    expect(page.locator('.timeline .step[data-status="IN_PROGRESS"]')).to_have_count(1)
    button = {name: page.get_by_role("button", name=name) for name in ("Pause", "Resume", "Retry")}

    button["Pause"].click()
    expect(status).to_contain_text("PAUSED")
    expect(button["Resume"]).to_be_enabled()
    expect(button["Pause"]).to_be_disabled()
    expect(page.locator('.timeline .step[data-status="CANCELED"]')).to_have_count(1)

    button["Resume"].click()
    # PENDING until the engine records a new step (it may re-run the interrupted one first).
    expect(status).to_have_text(re.compile("PENDING|RUNNING"))
    expect(button["Pause"]).to_be_enabled()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    expect(status).to_contain_text("CANCELED")

    # The event stream ended with RUN_CANCELED; a retry brings the run, and the stream, back.
    button["Retry"].click()
    expect(status).to_have_text(re.compile("PENDING|RUNNING"))
    expect(button["Retry"]).to_be_disabled()
    page.get_by_role("tab", name="Events").click()
    events = page.locator("table.events tbody tr")
    expect(events.filter(has_text="RUN_CANCELED")).to_have_count(1)
    expect(events.filter(has_text="RUN_RESUMED").last).to_contain_text("reason=retry")

    # A change made elsewhere shows up too.
    with client(loopd) as http:
        assert http.post(f"/runs/{run['id']}/cancel").status_code == 204
    wait_status(loopd, run["id"], "CANCELED", timeout=10)
    expect(status).to_contain_text("CANCELED")


PARSER_CHECK = """async (chunks) => {
    const { EventStreamParser } = await import("./static/sse.js");
    const seen = [];
    const parser = new EventStreamParser((message) => seen.push(message));
    for (const chunk of chunks) parser.push(chunk);
    return seen;
}"""


def test_event_stream_parser_handles_any_chunking(loopd: Loopd, page: Page) -> None:
    page.goto(f"{loopd.addr}/")
    text = (
        ": ping - keep-alive\r\n\r\n"
        'id: 7\r\nevent: output\r\ndata: {"line": "a"}\r\n\r\n'
        "data: one\ndata:two\n\n"
        "event: ignored-without-data\n\n"
        "id: 8\revent: RUN_COMPLETED\rdata: {}\r\r"
    )
    expected = [
        {"type": "output", "data": '{"line": "a"}', "lastEventId": "7"},
        {"type": "message", "data": "one\ntwo", "lastEventId": "7"},
        {"type": "RUN_COMPLETED", "data": "{}", "lastEventId": "8"},
    ]
    assert page.evaluate(PARSER_CHECK, [text]) == expected
    assert page.evaluate(PARSER_CHECK, list(text)) == expected  # one character at a time
    for cut in range(1, len(text)):
        assert page.evaluate(PARSER_CHECK, [text[:cut], text[cut:]]) == expected, cut
