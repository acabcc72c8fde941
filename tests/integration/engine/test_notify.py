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
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            received.append(json.loads(self.rfile.read(length)))
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
