"""The event and output streams as the reference's clients read and resume them (SPEC 20)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from integration.compat.conftest import compat_workspace, completed_run
from integration.compat.reference import (
    BACKOFF_MULTIPLIER,
    EVENT_NAMES,
    INITIAL_BACKOFF_MS,
    MAX_BACKOFF_MS,
    EventStream,
    OutputStream,
    event_source,
    loopctl_tail,
)
from integration.loopd import Loopd


def body_of(daemon: Loopd, path: str, **params: str) -> tuple[bytes, list[bytes]]:
    """The whole body of a (finished run's) stream, and the chunks it came in."""
    with daemon.client() as client, client.stream("GET", path, params=params) as response:
        assert response.status_code == 200
        chunks = list(response.iter_raw())
    return b"".join(chunks), chunks


def test_frames_end_lines_with_lf_only(daemon: Loopd, finished: dict[str, Any]) -> None:
    for kind in ("events", "output"):
        body, _ = body_of(daemon, f"/runs/{finished['id']}/{kind}")
        assert body and b"\r" not in body, kind
        assert body.count(b"\n\n") == len(event_source(body))


def test_the_dashboard_resumes_events_by_time_without_losing_any(
    daemon: Loopd, finished: dict[str, Any]
) -> None:
    path = f"/runs/{finished['id']}/events"
    everything = EventStream()
    everything.take(event_source(body_of(daemon, path)[0]))
    events = everything.received
    assert [e.event_type for e in events][:2] == ["RUN_CREATED", "RUN_STARTED"]
    # Cut after an event that shares its millisecond with the next one, if any: the tie
    # the reference's own resume (strictly after) would lose.
    cut = next(
        (i for i in range(len(events) - 1) if events[i].timestamp == events[i + 1].timestamp),
        len(events) // 2,
    )
    stream = EventStream()
    heard = [m for m in event_source(body_of(daemon, path)[0]) if m.event in EVENT_NAMES]
    stream.take(heard[: cut + 1])  # the connection drops after events[cut]
    assert stream.query() == {"after": str(events[cut].timestamp)}
    assert int(stream.query()["after"]) >= 10**12  # a time, not a seq
    again = event_source(body_of(daemon, path, **stream.query())[0])
    first_again = EventStream()
    first_again.take(again)
    assert first_again.received[0].timestamp == events[cut].timestamp  # ties are sent again
    stream.take(again)
    assert [e.id for e in stream.received] == [e.id for e in events]  # each once, in order
    assert [stream.failed() for _ in range(7)] == [
        min(INITIAL_BACKOFF_MS * BACKOFF_MULTIPLIER**k, MAX_BACKOFF_MS) for k in range(7)
    ]


def test_a_small_after_is_still_a_seq(daemon: Loopd, finished: dict[str, Any]) -> None:
    body, _ = body_of(daemon, f"/runs/{finished['id']}/events", after="3")
    first = event_source(body)[0]
    assert first.last_event_id == "4"


def test_loopctl_tail_prints_every_line_of_every_step(
    daemon: Loopd, finished: dict[str, Any]
) -> None:
    body, chunks = body_of(daemon, f"/runs/{finished['id']}/output")
    printed = loopctl_tail(chunks)
    ours = [m for m in event_source(body) if m.event == "output"]
    assert len(printed) == len(ours) > 10
    lines = [json.loads(m.data)["line"] for m in ours]
    assert "".join(p.content for p in printed) == "".join(f"{line}\n" for line in lines)


def test_output_offsets_are_byte_offsets_in_each_steps_output(
    daemon: Loopd, finished: dict[str, Any]
) -> None:
    steps = {
        s["id"]: s for s in daemon.request("GET", f"/runs/{finished['id']}/steps").json()["steps"]
    }
    printed = loopctl_tail(body_of(daemon, f"/runs/{finished['id']}/output")[1])
    expected: dict[str, int] = defaultdict(int)
    for chunk in printed:
        assert chunk.offset == expected[chunk.step_id]
        data = chunk.content.encode()
        expected[chunk.step_id] += len(data)
        log = Path(steps[chunk.step_id]["output_path"]).read_bytes()
        assert log[chunk.offset : chunk.offset + len(data)] == data
    assert len(expected) >= 3  # implementation and review steps


def test_the_dashboard_resumes_output_by_offset(daemon: Loopd, finished: dict[str, Any]) -> None:
    path = f"/runs/{finished['id']}/output"
    whole = OutputStream()
    whole.take(event_source(body_of(daemon, path)[0]))
    chunks = whole.received
    first_step = [c for c in chunks if c.step_id == chunks[0].step_id]
    assert len(first_step) >= 3
    cut = len(first_step) // 2
    stream = OutputStream()
    stream.take(event_source(body_of(daemon, path, follow="false")[0])[:cut])
    resumed = OutputStream()
    resumed.take(event_source(body_of(daemon, path, **stream.query())[0]))
    assert resumed.received == chunks[cut:]  # the rest, nothing twice
    inside = str(first_step[cut].offset + 1)  # a byte inside a line: that line again
    again = OutputStream()
    again.take(event_source(body_of(daemon, path, offset=inside)[0]))
    assert again.received == chunks[cut:]
    beyond = OutputStream()
    beyond.take(event_source(body_of(daemon, path, offset=str(10**9))[0]))
    assert beyond.received == chunks[len(first_step) :]  # later steps whole, as the reference


def test_offsets_hold_when_ours_resume_by_seq(daemon: Loopd, places: dict[str, Path]) -> None:
    """A stream resumed inside a step reads the step's earlier bytes back from the store
    (read first, before any full replay: frames are encoded once and shared)."""
    done = completed_run(daemon, compat_workspace(places["root"], "resume"))
    path = f"/runs/{done['id']}/output"
    steps = daemon.request("GET", f"/runs/{done['id']}/steps").json()["steps"]
    logs = [
        Path(s["output_path"]).read_bytes().splitlines(keepends=True) if s["output_path"] else []
        for s in steps
    ]
    step = next(i for i, lines in enumerate(logs) if i > 0 and len(lines) >= 3)
    seq = 1 + sum(len(lines) for lines in logs[:step]) + 2  # the step's third line
    resumed = [
        json.loads(m.data) for m in event_source(body_of(daemon, path, after=str(seq - 1))[0])
    ]
    assert resumed[0]["seq"] == seq and resumed[0]["step_id"] == steps[step]["id"]
    assert resumed[0]["offset"] == len(b"".join(logs[step][:2])) > 0
    everything = [json.loads(m.data) for m in event_source(body_of(daemon, path)[0])]
    assert resumed == everything[seq - 1 :]
