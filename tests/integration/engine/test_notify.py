"""`notify_webhook` (SPEC 16): a JSON POST on terminal events and usage-limit pauses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from integration.loopd import Loopd


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A webhook on a loopback port; it answers 503 to the first POST of a path that ends
    in /flaky (a retried POST must still arrive once)."""
    received: list[dict] = []
    refused: list[str] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length)
            if self.path.endswith("/flaky") and not refused:
                refused.append(self.path)
                self.send_response(503)
                self.end_headers()
                return
            kind = self.headers.get("content-type", "")
            body = json.loads(raw) if kind.startswith("application/json") else raw.decode()
            received.append(
                {"body": body, "headers": dict(self.headers)}
                if self.path.endswith(("/ntfy", "/slack", "/flaky"))
                else body
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_the_webhook_hears_of_a_usage_limit_pause_and_the_completion(
    daemon: Loopd, workspace: Path, receiver: tuple[str, list[dict]]
):
    url, received = receiver
    run = daemon.create_run(
        workspace, model="usage_limit=0", usage_limit_wait_sec=1, reviewer=False,
        notify_webhook=url,
    )  # fmt: skip
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    daemon.wait_for(lambda: len(received) >= 2, timeout=10, what="two webhook calls")
    kinds = [(r["event_type"], r.get("reason")) for r in received]
    assert kinds == [("RUN_PAUSED", "usage_limit"), ("RUN_COMPLETED", None)]
    assert all(r["run_id"] == run["id"] for r in received)
    assert received[0]["resume_at"] > 0


def test_an_unreachable_webhook_never_hurts_the_run(daemon: Loopd, workspace: Path):
    from integration.loopd import free_port

    run = daemon.create_run(
        workspace, reviewer=False, notify_webhook=f"http://127.0.0.1:{free_port()}/nobody"
    )
    assert daemon.wait_status(run["id"], "COMPLETED")["tasks_done"] == 3


def test_needs_attention_notifies_in_each_format(
    daemon: Loopd, workspace: Path, receiver: tuple[str, list[dict]]
):
    url, received = receiver
    base = url.rsplit("/", 1)[0]
    for notify_format in ("json", "slack", "ntfy"):
        hook = f"{base}/{'hook' if notify_format == 'json' else notify_format}"
        run = daemon.create_run(
            workspace, model="no_commit=1", reviewer=False, watchdog_max_rewrites=0,
            notify_webhook=hook, notify_format=notify_format,
        )  # fmt: skip
        daemon.wait_status(run["id"], "PAUSED", timeout=60)
        daemon.wait_for(lambda: received, timeout=10, what=f"the {notify_format} POST")
        got = received.pop()
        short = run["id"][:13]
        if notify_format == "json":
            assert (got["event_type"], got["reason"]) == ("RUN_PAUSED", "needs_attention")
            assert got["signals"][0]["signal"] == "no_progress"
            assert f"loopctl say {short}" in got["message"]
        elif notify_format == "slack":
            assert "needs attention" in got["body"]["text"]
            assert f"loopctl resume {short}" in got["body"]["text"]
        else:
            assert got["headers"]["Title"].endswith("needs attention")
            assert f"loopctl say {short}" in got["body"]
        daemon.request("POST", f"/runs/{run['id']}/cancel")
        daemon.wait_status(run["id"], "CANCELED")
        received.clear()


def test_a_failing_webhook_is_retried(
    daemon: Loopd, workspace: Path, receiver: tuple[str, list[dict]]
):
    url, received = receiver
    flaky = url.rsplit("/", 1)[0] + "/flaky"
    run = daemon.create_run(workspace, reviewer=False, notify_webhook=flaky)
    daemon.wait_status(run["id"], "COMPLETED")
    daemon.wait_for(lambda: received, timeout=15, what="the retried POST")
    assert received[0]["body"]["event_type"] == "RUN_COMPLETED"


def test_a_merge_conflict_notifies(
    daemon: Loopd, workspace: Path, receiver: tuple[str, list[dict]]
):
    from integration.loopd import git

    url, received = receiver
    # the target branch already has the file the agent's first task writes, other content
    git(workspace, "checkout", "-q", "-b", "agent/demo")
    (workspace / "tasks").mkdir()
    (workspace / "tasks" / "task-1.txt").write_text("written on the target first\n")
    git(workspace, "add", "tasks/task-1.txt")
    git(workspace, "commit", "-q", "-m", "Conflicting change on the target")
    git(workspace, "checkout", "-q", "main")
    run = daemon.create_run(
        workspace, reviewer=False, merge_target_branch="agent/demo", notify_webhook=url
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"] == "merge_conflict"
    daemon.wait_for(lambda: received, timeout=10, what="the webhook call")
    got = received[-1]
    assert (got["event_type"], got["reason"]) == ("RUN_FAILED", "merge_conflict")
    assert "merge conflict" in got["message"]
