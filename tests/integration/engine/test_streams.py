"""The SSE streams of SPEC 14 over real HTTP: a run's events and output replay then follow
live, resume after `Last-Event-ID` or `?after=` without duplicates, end at the end of the
run, and end cleanly when loopd stops."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse

from integration.loopd import Loopd

TERMINAL = {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELED"}


def read_stream(
    daemon: Loopd,
    path: str,
    headers: dict[str, str] | None = None,
    connected: threading.Event | None = None,
    first_frame: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Every frame of a stream until loopd ends it: ``event``, ``id`` and decoded ``data``.
    ``connected`` is set once the response started, ``first_frame`` once a frame came."""
    frames = []
    timeout = httpx.Timeout(30.0, read=60.0)
    with (
        daemon.client() as client,
        connect_sse(client, "GET", path, timeout=timeout, headers=headers or {}) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        if connected is not None:
            connected.set()
        for sse in source.iter_sse():
            frames.append({"event": sse.event, "id": sse.id, "data": json.loads(sse.data)})
            if first_frame is not None:
                first_frame.set()
    return frames


def test_event_stream_replays_then_follows_live_and_ends_after_the_terminal_event(
    daemon: Loopd, workspace: Path
) -> None:
    run = daemon.create_run(workspace, model="delay=0.3", reviewer=False)
    frames = read_stream(daemon, f"/runs/{run['id']}/events")  # opened while it runs
    seqs = [int(frame["id"]) for frame in frames]
    assert seqs == list(range(1, len(seqs) + 1))
    for frame in frames:
        assert frame["event"] == frame["data"]["event_type"]
        assert frame["data"]["seq"] == int(frame["id"])
    assert frames[-1]["event"] in TERMINAL  # nothing is sent after the run's end
    assert daemon.run(run["id"])["status"] == "COMPLETED"
    # The same as the stored history, which may go on after the end (cleanup, postmortem).
    stored = read_stream(daemon, f"/runs/{run['id']}/events?follow=false")
    assert [frame["data"] for frame in stored[: len(frames)]] == [f["data"] for f in frames]


def test_streams_resume_after_last_event_id_or_after_without_duplicates(
    daemon: Loopd, workspace: Path
) -> None:
    run = daemon.create_run(workspace, reviewer=False)
    daemon.wait_status(run["id"], "COMPLETED")
    everything = read_stream(daemon, f"/runs/{run['id']}/events")
    resumed = read_stream(daemon, f"/runs/{run['id']}/events", headers={"Last-Event-ID": "5"})
    assert [frame["id"] for frame in resumed] == [frame["id"] for frame in everything[5:]]
    # `?after=` wins over Last-Event-ID
    after = read_stream(daemon, f"/runs/{run['id']}/events?after=2", headers={"Last-Event-ID": "5"})
    assert [frame["id"] for frame in after] == [frame["id"] for frame in everything[2:]]

    lines = read_stream(daemon, f"/runs/{run['id']}/output")
    assert [int(frame["id"]) for frame in lines] == list(range(1, len(lines) + 1))
    assert {frame["event"] for frame in lines} == {"output"}
    assert any("scripted: implementing" in frame["data"]["line"] for frame in lines)
    for frame in lines:
        assert {"step_id", "phase", "iteration", "line"} <= frame["data"].keys()
    tail = read_stream(daemon, f"/runs/{run['id']}/output", headers={"Last-Event-ID": "2"})
    assert [frame["data"] for frame in tail] == [frame["data"] for frame in lines[2:]]


def test_open_streams_end_cleanly_when_loopd_stops(daemon: Loopd, workspace: Path) -> None:
    """A drain ends every stream with a complete response (clients then reconnect with
    Last-Event-ID to the next loopd) instead of cutting it mid-body."""
    run = daemon.create_run(workspace, model="hang=1")
    daemon.wait_status(run["id"], "RUNNING")
    outcomes: dict[str, Any] = {}
    paths = [f"/runs/{run['id']}/events", f"/runs/{run['id']}/output", "/events"]
    connected = {path: threading.Event() for path in paths}
    first = {path: threading.Event() for path in paths}

    def follow(path: str) -> None:
        try:
            outcomes[path] = read_stream(
                daemon, path, connected=connected[path], first_frame=first[path]
            )
        except Exception as error:  # reported by the assertion below
            outcomes[path] = error

    readers = [threading.Thread(target=follow, args=(path,)) for path in paths]
    for reader in readers:
        reader.start()
    for path in paths:
        assert connected[path].wait(10), f"{path} did not open"
    for path in (paths[0], "/events"):  # the output of a hanging agent may stay empty
        assert first[path].wait(10), f"{path} sent nothing"
    assert daemon.stop(timeout=15) == 0
    for reader in readers:
        reader.join(timeout=10)
        assert not reader.is_alive()
    for path in paths:
        assert isinstance(outcomes[path], list), f"{path}: {outcomes[path]!r}"
    assert [frame["event"] for frame in outcomes["/events"]][:1] == ["ready"]
    assert outcomes[paths[0]] and outcomes[paths[0]][-1]["event"] not in TERMINAL
    assert "ASGI callable returned without completing response" not in daemon.log_text()
