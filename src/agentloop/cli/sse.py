"""Reading loopd's SSE streams (``/runs/{id}/events``, ``/runs/{id}/output``) to the end,
across dropped connections and daemon restarts, without repeating or losing an item.

Every item carries its per-run sequence number as the SSE ``id``. :class:`StreamReader`
remembers the last one it handed out and resumes after it (``Last-Event-ID``) when it has
to reconnect; an item at or below it (a replay overlapping what was seen) is skipped.

When a stream ends:
* ``events``: loopd ends it after a terminal event (``RUN_COMPLETED`` / ``RUN_FAILED`` /
  ``RUN_CANCELED``). That is the end if the run is still in that status since that event;
  a run retried or reset since has more events after it, so the reader resumes after it.
* ``output``: loopd closes it when the run is terminal and drained. A close of a live
  stream is followed by one more connection that drains what is left (or, if loopd went
  away, by a reconnection once it is back).
* Any other end (a dropped connection, 45 s without even a keep-alive) is a lost
  connection: wait for loopd (up to 60 s) and resume.

Without ``follow`` the reader returns what loopd has now: the stream up to its end, or up
to the first pause of ``idle_s`` once the history is replayed.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from agentloop.cli.client import Loopd, run_path
from agentloop.cli.errors import ClientError, DaemonUnreachable, Unauthorized
from agentloop.cli.views import parse_time

TERMINAL_EVENTS = frozenset({"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELED"})
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELED"})
FOLLOW_READ_TIMEOUT_S = 45.0
"""Three missed keep-alives (loopd sends one every 15 s): the connection is dead."""
RECONNECT_BUDGET_S = 60.0
"""How long a follower waits for a restarting loopd before giving up."""
SNAPSHOT_IDLE_S = 1.0
PEEK_IDLE_S = 0.5
"""After an earlier terminal event of a finished run: how long to wait for what followed."""
SAME_FINISH_MS = 5000

Kind = Literal["events", "output"]
Mode = Literal["follow", "snapshot", "peek", "drain"]
"""How a connection is read: ``follow`` live (a silence means a dead connection),
``snapshot`` and ``peek`` until a pause, ``drain`` until loopd closes it."""


@dataclass(frozen=True)
class SseFrame:
    event: str
    id: str | None
    data: str


def parse_frames(readline: Callable[[], bytes]) -> Iterator[SseFrame]:
    """Frames from an ``text/event-stream`` body read line by line; comments (keep-alives)
    are skipped. Returns at the end of the body."""
    event, last_id, data = "message", None, list[str]()
    while True:
        raw = readline()
        if not raw:
            return
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield SseFrame(event, last_id, "\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            last_id = value


class StreamReader:
    """The items of one run's stream, in order, each once."""

    def __init__(
        self,
        client: Loopd,
        run_id: str,
        kind: Kind,
        *,
        after: int = 0,
        follow: bool = True,
        on_reconnect: Callable[[str], None] | None = None,
        reconnect_budget: float = RECONNECT_BUDGET_S,
        idle_s: float = SNAPSHOT_IDLE_S,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.kind = kind
        self.last_seq = after
        self.follow = follow
        self.on_reconnect = on_reconnect or (lambda _reason: None)
        self.reconnect_budget = reconnect_budget
        self.idle_s = idle_s
        self.finished = False
        """True once the stream reached its real end (not an interruption)."""
        self._terminal: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        mode = self._mode_for(self.client.get_run(self.run_id))
        while True:
            self._terminal = None
            try:
                yield from self._one_connection(mode)
            except TimeoutError:
                if mode != "follow":
                    self.finished = True  # quiet after the replay: that is all there is
                    return
                self._wait_for_daemon("the stream went silent")
                continue
            except (OSError, http.client.HTTPException):
                if not self.follow:
                    return
                self._wait_for_daemon("the connection to loopd dropped")
                continue
            if self._terminal is not None:
                next_mode = self._after_terminal(self._terminal)
            elif mode != "follow":
                next_mode = None
            else:  # loopd closed a live stream: the run ended, or loopd is stopping
                run = self._run_after_close()
                if run.get("status") not in TERMINAL_STATUSES:
                    self.on_reconnect("loopd closed the stream")
                next_mode = self._mode_for(run, draining=True)
            if next_mode is None:
                self.finished = True
                return
            mode = next_mode

    def _mode_for(self, run: dict[str, Any], draining: bool = False) -> Mode:
        if run.get("status") not in TERMINAL_STATUSES:
            return "follow" if self.follow else "snapshot"
        # A terminal run's output stream ends once drained; its events at the terminal event.
        return "drain" if self.kind == "output" or draining else "snapshot"

    def _after_terminal(self, event: dict[str, Any]) -> Mode | None:
        """After a terminal event: the end, unless the run was retried or reset since (then
        more events follow it) or it is an earlier terminal event (then look further)."""
        run = self.client.get_run(self.run_id)
        if run.get("status") not in TERMINAL_STATUSES:
            return "follow" if self.follow else "snapshot"
        return None if _is_last_terminal(event, run) else "peek"

    def _one_connection(self, mode: Mode) -> Iterator[dict[str, Any]]:
        timeout = {
            "follow": FOLLOW_READ_TIMEOUT_S,
            "snapshot": self.idle_s,
            "peek": PEEK_IDLE_S,
            "drain": self.client.timeout,
        }[mode]
        with self.client.stream(
            run_path(self.run_id, self.kind), after=self.last_seq, read_timeout=timeout
        ) as readline:
            for frame in parse_frames(readline):
                item = self._item(frame)
                if item is None:
                    continue
                self.last_seq = int(item["seq"])
                yield item
                if self.kind == "events" and item.get("event_type") in TERMINAL_EVENTS:
                    self._terminal = item
                    return

    def _item(self, frame: SseFrame) -> dict[str, Any] | None:
        try:
            item = json.loads(frame.data)
            seq = int(item.get("seq", frame.id or 0))
        except (ValueError, TypeError, KeyError) as exc:
            raise ClientError(
                f"loopd sent a malformed {self.kind} item: {frame.data[:200]!r}"
            ) from exc
        if seq <= self.last_seq:
            return None
        item["seq"] = seq
        return dict(item)

    def _wait_for_daemon(self, reason: str) -> None:
        self.on_reconnect(reason)
        self.client.wait_ready(self.reconnect_budget)

    def _run_after_close(self) -> dict[str, Any]:
        try:
            return self.client.get_run(self.run_id)
        except Unauthorized:
            raise
        except DaemonUnreachable:
            self._wait_for_daemon("loopd went away")
            return self.client.get_run(self.run_id)


def _is_last_terminal(event: dict[str, Any], run: dict[str, Any]) -> bool:
    """Whether ``event`` is the terminal event that ended ``run`` as it is now (the same
    status, stamped with its finish), not one from before a retry."""
    if event.get("event_type") != f"RUN_{run.get('status')}":
        return False
    finished = parse_time(run.get("finished_at"))
    stamp = event.get("timestamp")
    if finished is None or not isinstance(stamp, int | float):
        return True
    return abs(finished.timestamp() * 1000 - stamp) <= SAME_FINISH_MS
