import json
import socket
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from agentloop.cli.client import Address, Loopd
from agentloop.cli.errors import ApiError, DaemonUnreachable, Unauthorized
from agentloop.cli.main import main
from agentloop.cli.sse import SseFrame, StreamReader, parse_frames

from .fake_loopd import FakeLoopd, serve, sse


@pytest.fixture
def fake() -> Iterator[FakeLoopd]:
    yield from serve(FakeLoopd())


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_address_forms() -> None:
    assert str(Address.parse("http://127.0.0.1:7700")) == "http://127.0.0.1:7700"
    assert str(Address.parse("localhost:9000")) == "http://localhost:9000"
    assert str(Address.parse("https://h")) == "https://h:443"
    assert str(Address.parse("http://[::1]:80/")) == "http://[::1]:80"
    with pytest.raises(Exception, match="expected http://HOST:PORT"):
        Address.parse("ftp://x")


def test_readiness_backs_off_from_200ms_for_5s_then_gives_up() -> None:
    t = FakeTime()
    client = Loopd(closed_port(), clock=t.clock, sleep=t.sleep)
    with pytest.raises(DaemonUnreachable) as caught:
        client.list_runs()
    assert t.sleeps == [0.2, 0.4, 0.8, 1.6, 2.0]
    message = str(caught.value)
    assert "connection refused" in message and "retried for 5 s" in message
    assert "start it with `loopd --addr" in message and "LOOPD_TOKEN" in message


def test_readiness_returns_as_soon_as_health_answers(fake: FakeLoopd) -> None:
    fake.json("GET", "/health", 200, {"status": "ok", "version": "9"})
    t = FakeTime()
    assert Loopd(fake.addr, clock=t.clock, sleep=t.sleep).wait_ready()["version"] == "9"
    assert t.sleeps == [0.2]


def test_token_is_sent_and_401_is_unauthorized(fake: FakeLoopd) -> None:
    fake.json("GET", "/runs", 401, {"error": "missing or invalid bearer token"})
    with pytest.raises(Unauthorized, match="--token or set LOOPD_TOKEN"):
        Loopd(fake.addr, "s3cret").list_runs()
    assert fake.seen[-1].headers["Authorization"] == "Bearer s3cret"
    result = CliRunner().invoke(main, ["--addr", fake.addr, "--token", "bad", "list", "--all"])
    assert result.exit_code == 3
    assert "refused the request" in result.output


def test_api_errors_carry_status_and_message(fake: FakeLoopd) -> None:
    fake.json("POST", "/runs/r1/pause", 409, {"error": "run is COMPLETED", "status": "COMPLETED"})
    with pytest.raises(ApiError) as caught:
        Loopd(fake.addr).control("r1", "pause")
    assert caught.value.message == "run is COMPLETED"
    assert caught.value.facts["status"] == 409
    assert caught.value.facts["current_status"] == "COMPLETED"


def test_missing_review_endpoint_is_reported_as_such(fake: FakeLoopd) -> None:
    fake.json("GET", "/runs/r1", 200, {"run": {"id": "r1", "name": "n", "status": "COMPLETED"}})
    result = CliRunner().invoke(main, ["--addr", fake.addr, "merge", "r1"])
    assert result.exit_code == 1
    assert "has no POST /runs/{id}/merge (HTTP 404: Not Found)" in result.output


def test_parse_frames_joins_data_lines_and_skips_comments() -> None:
    body = b": ping\r\n\r\nevent: output\r\nid: 7\r\ndata: a\r\ndata: b\r\n\r\ndata: x\n\n"
    lines = iter(body.splitlines(keepends=True))
    frames = list(parse_frames(lambda: next(lines, b"")))
    assert frames == [SseFrame("output", "7", "a\nb"), SseFrame("message", "7", "x")]


def event(seq: int, kind: str = "STEP_STARTED", timestamp: int = 0) -> bytes:
    data = {"seq": seq, "run_id": "r1", "event_type": kind, "timestamp": timestamp, "payload": {}}
    return sse(seq, kind, data)


def line(seq: int) -> bytes:
    return sse(
        seq,
        "output",
        {
            "seq": seq,
            "phase": "implementation",
            "iteration": 1,
            "step_id": "s",
            "line": f"line {seq}",
        },
    )


def test_events_resume_after_a_cut_without_repeating(fake: FakeLoopd) -> None:
    statuses = iter(["RUNNING", "RUNNING"])
    fake.routes[("GET", "/runs/r1")] = lambda _s: (
        200,
        {"run": {"id": "r1", "status": next(statuses, "COMPLETED")}},
    )
    calls: list[str | None] = []

    def stream(seen):  # type: ignore[no-untyped-def]
        calls.append(seen.headers.get("Last-Event-ID"))
        if len(calls) == 1:
            return [event(1), event(2), b'event: STEP_STARTED\r\nid: 3\r\ndata: {"se']
        # The replay overlaps what was already seen: 2 must not come out twice.
        return [event(2), event(3), event(4, "RUN_COMPLETED")]

    fake.streams["/runs/r1/events"] = stream
    reader = StreamReader(Loopd(fake.addr), "r1", "events", follow=True)
    assert [item["seq"] for item in reader] == [1, 2, 3, 4]
    assert calls == [None, "2"]
    assert reader.finished


def test_output_drains_once_more_when_the_run_ended_meanwhile(fake: FakeLoopd) -> None:
    statuses = iter(["RUNNING", "COMPLETED"])
    fake.routes[("GET", "/runs/r1")] = lambda _s: (
        200,
        {"run": {"id": "r1", "status": next(statuses)}},
    )
    calls: list[str | None] = []

    def stream(seen):  # type: ignore[no-untyped-def]
        calls.append(seen.headers.get("Last-Event-ID"))
        return [line(1), line(2)] if len(calls) == 1 else [line(3)]

    fake.streams["/runs/r1/output"] = stream
    notes: list[str] = []
    reader = StreamReader(Loopd(fake.addr), "r1", "output", follow=True, on_reconnect=notes.append)
    assert [item["line"] for item in reader] == ["line 1", "line 2", "line 3"]
    assert calls == [None, "2"]
    assert notes == []  # a normal end is not a lost connection


def test_snapshot_of_a_running_run_stops_when_the_replay_goes_quiet(fake: FakeLoopd) -> None:
    fake.json("GET", "/runs/r1", 200, {"run": {"id": "r1", "status": "RUNNING"}})
    fake.streams["/runs/r1/output"] = lambda _s: [line(1), line(2), 1.0, line(3)]
    reader = StreamReader(Loopd(fake.addr), "r1", "output", follow=False, idle_s=0.3)
    assert [item["seq"] for item in reader] == [1, 2]
    assert reader.finished


def test_json_tail_prints_one_envelope_per_line(fake: FakeLoopd) -> None:
    fake.json("GET", "/runs/r1", 200, {"run": {"id": "r1", "name": "n", "status": "COMPLETED"}})
    fake.streams["/runs/r1/output"] = lambda _s: [line(1), line(2)]
    result = CliRunner().invoke(main, ["--addr", fake.addr, "--json", "tail", "r1"])
    assert result.exit_code == 0, result.output
    envelopes = [json.loads(text) for text in result.output.splitlines()]
    assert [e["data"]["line"] for e in envelopes] == ["line 1", "line 2"]
    assert all(e["version"] == 1 and e["ok"] is True for e in envelopes)


def test_events_go_on_past_a_terminal_event_when_the_run_was_retried(fake: FakeLoopd) -> None:
    # History: failed (seq 2), retried, completed (seq 4). loopd ends each connection at a
    # terminal event; the reader must look past the old one, and stop at the last.
    finished = "2025-01-01T00:00:10Z"
    fake.json(
        "GET",
        "/runs/r1",
        200,
        {"run": {"id": "r1", "status": "COMPLETED", "finished_at": finished}},
    )
    calls: list[str | None] = []

    def stream(seen):  # type: ignore[no-untyped-def]
        calls.append(seen.headers.get("Last-Event-ID"))
        if len(calls) == 1:
            return [event(1), event(2, "RUN_FAILED", 1_735_689_605_000)]
        return [event(3, "RUN_RESUMED"), event(4, "RUN_COMPLETED", 1_735_689_610_000)]

    fake.streams["/runs/r1/events"] = stream
    for follow in (True, False):
        calls.clear()
        reader = StreamReader(Loopd(fake.addr), "r1", "events", follow=follow)
        assert [item["seq"] for item in reader] == [1, 2, 3, 4]
        assert calls == [None, "2"] and reader.finished
