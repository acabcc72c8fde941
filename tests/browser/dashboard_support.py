"""Helpers of the browser tests: API calls to the daemon under test, screenshots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from integration.loopd import Loopd

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def client(daemon: Loopd) -> httpx.Client:
    headers = {"Authorization": f"Bearer {daemon.token}"} if daemon.token else {}
    return httpx.Client(base_url=daemon.addr, headers=headers, timeout=10)


def start_scripted_run(
    daemon: Loopd, workspace: Path, model: str = "scripted", name: str = "demo"
) -> dict[str, Any]:
    """POST /runs with the scripted agent (``model`` carries its knobs); the run JSON."""
    body = {
        "spec_path": "specs/demo.md",
        "workspace_root": str(workspace),
        "name": name,
        "config_override": {"agent": "scripted", "model": model},
    }
    with client(daemon) as http:
        answer = http.post("/runs", json=body)
    assert answer.status_code == 201, answer.text
    run: dict[str, Any] = answer.json()["run"]
    return run


def wait_status(daemon: Loopd, run_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    """Poll GET /runs/{id} until the run has ``status``; the run JSON."""
    deadline = time.monotonic() + timeout
    with client(daemon) as http:
        while True:
            run: dict[str, Any] = http.get(f"/runs/{run_id}").json()["run"]
            if run["status"] == status or time.monotonic() > deadline:
                assert run["status"] == status, run
                return run
            time.sleep(0.1)
