"""`GET /events`, the stream of every run's events behind the dashboard's runs list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from integration.loopd import Loopd


def test_events_stream_says_ready_then_carries_every_runs_events(
    loopd: Loopd, workspace: Path, start_run: Callable[..., dict[str, Any]]
) -> None:
    frames: list[tuple[str, dict[str, Any]]] = []
    with (
        httpx.Client(base_url=loopd.addr, timeout=30) as http,
        http.stream("GET", "/events") as answer,
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        event = ""
        run_ids: list[str] = []
        for line in answer.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                frames.append((event, data))
                if event == "ready":
                    # Subscribed: runs started from now on are all seen.
                    run_ids = [start_run(loopd, workspace, name=f"r{i}")["id"] for i in (1, 2)]
                finished = {d["run_id"] for e, d in frames if e == "RUN_COMPLETED"}
                if run_ids and finished >= set(run_ids):
                    break
    assert frames[0] == ("ready", {"live": True})
    for run_id in run_ids:
        seqs = [d["seq"] for e, d in frames[1:] if d["run_id"] == run_id]
        assert seqs == list(range(1, len(seqs) + 1)), "each run's events once, in order"
        kinds = [e for e, d in frames[1:] if d["run_id"] == run_id]
        assert kinds[0] == "RUN_CREATED" and "RUN_COMPLETED" in kinds  # postmortem may follow


def test_events_stream_needs_the_token(loopd_factory: Callable[..., Loopd]) -> None:
    daemon = loopd_factory(token="t0ken")
    with httpx.Client(base_url=daemon.addr, timeout=10) as http:
        assert http.get("/events").status_code == 401
        with http.stream("GET", "/events", headers={"Authorization": "Bearer t0ken"}) as answer:
            assert answer.status_code == 200
            assert next(answer.iter_lines()) == "event: ready"
