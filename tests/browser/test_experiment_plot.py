"""An experiment run's metric plotted on its page (SPEC 19): inline SVG, kept and
reverted iterations told apart, growing live as measurements arrive."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dashboard_support import client, shot, wait_status
from playwright.sync_api import Page, expect

from integration.loopd import Loopd

pytestmark = pytest.mark.browser

GIT_IDENTITY = ["-c", "user.name=agentloop tests", "-c", "user.email=tests@agentloop.invalid"]
BENCH = (
    "import json, os; x = float(open('tune.txt').read()); "
    "json.dump({'score': -(x - 7) ** 2}, open(os.environ['LOOP_METRICS_OUT'], 'w'))"
)


def test_the_metric_is_plotted_kept_and_reverted_apart(loopd: Loopd, tmp_path: Path, page: Page):
    repo = tmp_path / "tune"
    (repo / "specs").mkdir(parents=True)
    (repo / "specs" / "tune.md").write_text("# Tune\n\nRaise the score.\n")
    (repo / "tune.txt").write_text("3\n")
    (repo / "bench.py").write_text(BENCH)
    (repo / ".gitignore").write_text("logs/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, check=True, capture_output=True)
    body = {
        "spec_path": "specs/tune.md",
        "workspace_root": str(repo),
        "name": "tuning",
        "config_override": {
            "agent": "scripted",
            "model": "delay=0.3",
            "mode": "experiment",
            "measure_cmd": "python3 bench.py",
            "metric": "score",
            "metric_target": 0,
        },
    }
    with client(loopd) as http:
        answer = http.post("/runs", json=body)
    assert answer.status_code == 201, answer.text
    run = answer.json()["run"]
    page.goto(f"{loopd.addr}/#/runs/{run['id']}")
    svg = page.locator(".metric-card svg[role=img]")
    expect(svg).to_be_visible()
    # It grows while the run goes on: the baseline first, then iterations.
    expect(svg.locator(".point.baseline")).to_have_count(1)
    wait_status(loopd, run["id"], "COMPLETED", timeout=60)
    expect(svg.locator(".point")).to_have_count(8)
    expect(svg.locator(".point.kept")).to_have_count(4)
    expect(svg.locator(".point.reverted")).to_have_count(3)
    expect(svg.locator('.point[data-iteration="7"]')).to_have_attribute("data-kept", "true")
    expect(page.locator(".metric-summary")).to_contain_text("baseline -16 · best 0 (iteration 7)")
    expect(svg).to_have_attribute("aria-label", "score per iteration: baseline -16, best 0, 4 kept")
    shot(page, "experiment-plot")
