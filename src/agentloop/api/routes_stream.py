"""Server-sent event streams: a run's events and its agent output (SPEC 14).

Both replay history after a sequence number (`Last-Event-ID` or `?after=`), then go live,
each item exactly once and in order (the algorithm is ``agentloop.store.follow``). The event
stream ends after the run's terminal event, the output stream once the run is terminal and
its output drained; a keep-alive comment goes out every 15 s. When loopd stops, every
stream ends cleanly within a second (clients reconnect with `Last-Event-ID`).

What the reference's clients send and read is served too (SPEC 20): frames end lines with
LF only (its loopctl splits frames at a blank line written ``\n\n``); an events ``?after=``
of at least 10^12 is a time in ms (events from that millisecond on are sent: a tie is sent
again, never lost; its dashboard drops what it has by ``id``); output frames carry
``content`` (the line and a newline) and ``offset`` (the line's byte offset within its
step's output), and ``?offset=<bytes>`` resumes within the first step's output, as the
reference reads it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from agentloop.api.deps import runtime_of
from agentloop.api.schemas import ErrorBody
from agentloop.core.errors import InvalidInput
from agentloop.core.models import Event, OutputLine
from agentloop.store.follow import follow_events_batches, follow_output_batches
from agentloop.store.output import line_bytes
from agentloop.store.repository import Store

router = APIRouter(tags=["streams"])

KEEPALIVE_SEC = 15
# How long a stream has to end by itself once loopd stops, before it is cut: more than the
# follow loop's idle wake-up (1 s), less than uvicorn's graceful shutdown timeout (2 s).
SHUTDOWN_GRACE_SEC = 1.5
REPLAY_PAGE = 500
SEP = "\n"  # sse-starlette's default is CRLF, which the reference's loopctl cannot split
TIMESTAMP_AFTER = 10**12
"""An events ``?after=`` from here on is a time in ms (the reference's), below it a seq."""
MAX_INT = 2**63 - 1  # the largest integer the databases take (more was a 500)
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "SSE stream"},
    400: {"model": ErrorBody},
    401: {"model": ErrorBody},
    404: {"model": ErrorBody},
}


def start_seq(after: int | None, last_event_id: str | None) -> int:
    """`?after=` wins over `Last-Event-ID`; both default to the beginning."""
    if after is not None:
        return after
    if not last_event_id or not last_event_id.strip():
        return 0
    try:
        value = int(last_event_id.strip())
    except ValueError as exc:
        raise InvalidInput(f"Last-Event-ID {last_event_id!r}: expected a sequence number") from exc
    if value < 0:
        raise InvalidInput("Last-Event-ID must be >= 0")
    return value


def _event_frame(item: Event) -> dict[str, str]:
    return {"event": item.event_type.value, "id": str(item.seq), "data": item.model_dump_json()}


@dataclass(frozen=True)
class PlacedLine:
    """An output line and its byte offset within its step's output."""

    line: OutputLine
    offset: int

    @property
    def run_id(self) -> str:
        return self.line.run_id

    @property
    def seq(self) -> int:
        return self.line.seq


def _output_frame(placed: PlacedLine) -> dict[str, str]:
    item = placed.line
    data = {
        "seq": item.seq,
        "step_id": item.step_id,
        "phase": item.phase.value,
        "iteration": item.iteration,
        "line": item.line,
        "timestamp": item.timestamp,
        "content": item.line + "\n",
        "offset": placed.offset,
    }
    return {"event": "output", "id": str(item.seq), "data": json.dumps(data)}


async def _placed(
    store: Store, run_id: str, start: int, batches: AsyncIterator[Sequence[OutputLine]]
) -> AsyncIterator[Sequence[PlacedLine]]:
    """``batches`` with each line's offset: counted on from the step's first line, or read
    once per step for a step begun before ``start``."""
    following: dict[str | None, int] = {}
    try:
        async for batch in batches:
            placed = []
            for line in batch:
                offset = following.get(line.step_id)
                if offset is None:
                    offset = 0
                    if start > 0:
                        offset = await run_in_threadpool(
                            store.output_offset, run_id, line.step_id, line.seq
                        )
                following[line.step_id] = offset + line_bytes(line.line)
                placed.append(PlacedLine(line, offset))
            yield placed
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def _history(
    read: Callable[[str, int, int], Sequence[Any]], run_id: str, after: int
) -> AsyncIterator[Sequence[Any]]:
    """What is stored after ``after``, page by page, then the end of the stream."""
    while True:
        page = await run_in_threadpool(read, run_id, after, REPLAY_PAGE)
        if page:
            yield page
            after = page[-1].seq
        if len(page) < REPLAY_PAGE:
            return


class _EncodedFrames:
    """Encoded frames of committed items, shared by every subscriber: a run's item is
    encoded once, not once per subscriber (an item never changes once committed). Used on
    the event loop only; the oldest entries go first once ``size`` are kept."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._frames: dict[tuple[str, str, int], bytes] = {}

    def get(self, kind: str, item: Event | PlacedLine, frame: Callable[[Any], Any]) -> bytes:
        key = (kind, item.run_id, item.seq)
        encoded = self._frames.get(key)
        if encoded is None:
            encoded = ServerSentEvent(**frame(item), sep=SEP).encode()
            self._frames[key] = encoded
            if len(self._frames) > self._size:
                del self._frames[next(iter(self._frames))]
        return encoded


_ENCODED = _EncodedFrames()


async def _until_disconnect(
    request: Request,
    batches: AsyncIterator[Sequence[Any]],
    frame: Callable[[Any], Any],
    stopping: anyio.Event,
) -> AsyncIterator[bytes]:
    """Each batch of items as one chunk of frames: one socket write per batch, not per
    item (a write per line is what 50 subscribers of a busy agent could not keep up with).
    Ends when the client leaves or loopd stops (checked at least once a second)."""
    kind = frame.__name__
    try:
        async for batch in batches:
            if await request.is_disconnected():
                return
            # A batch already read is sent before the stream ends for a stopping loopd.
            if batch:
                yield b"".join(_ENCODED.get(kind, item, frame) for item in batch)
            if stopping.is_set():
                return
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def _respond(
    request: Request,
    run_id: str,
    start: int | Callable[[Store, str], int],
    follow: bool,
    live: Callable[[Store, str, int], AsyncIterator[Sequence[Any]]],
    read: Callable[[Store], Callable[[str, int, int], Sequence[Any]]],
    frame: Callable[[Any], dict[str, str]],
) -> EventSourceResponse:
    """A run's stream: replay then live, or (``follow=false``) only what is stored.
    ``start`` is the seq to start after, or how to find it from the store and run id."""
    store = runtime_of(request).store
    run = await run_in_threadpool(store.resolve_run, run_id)
    if callable(start):
        start = await run_in_threadpool(start, store, run.id)
    batches = live(store, run.id, start) if follow else _history(read(store), run.id, start)
    if frame is _output_frame:
        batches = _placed(store, run.id, start, batches)
    return sse_response(lambda stopping: _until_disconnect(request, batches, frame, stopping))


def sse_response(body: Callable[[anyio.Event], AsyncIterator[Any]]) -> EventSourceResponse:
    """An SSE response with keep-alives whose ``body`` gets the event set when loopd stops,
    and ``SHUTDOWN_GRACE_SEC`` to end by itself (a clean end) before it is cut."""
    stopping = anyio.Event()
    return EventSourceResponse(
        body(stopping),
        ping=KEEPALIVE_SEC,
        sep=SEP,
        shutdown_event=stopping,
        shutdown_grace_period=SHUTDOWN_GRACE_SEC,
    )


@router.get("/runs/{run_id}/events", responses=_STREAM_RESPONSES, response_model=None)
async def stream_events(
    run_id: str,
    request: Request,
    after: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    follow: bool = True,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """The run's events: replay, then live; with ``follow=false`` only those stored.
    ``after`` >= 10^12 is a time in ms: the events from that millisecond on."""
    start: int | Callable[[Store, str], int] = start_seq(after, last_event_id)
    if after is not None and after >= TIMESTAMP_AFTER:
        since_ms = after

        def start(store: Store, run: str) -> int:
            return store.event_seq_before_time(run, since_ms)

    return await _respond(
        request, run_id, start, follow, follow_events_batches,
        lambda store: store.events_after, _event_frame,
    )  # fmt: skip


@router.get("/runs/{run_id}/output", responses=_STREAM_RESPONSES, response_model=None)
async def stream_output(
    run_id: str,
    request: Request,
    after: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    follow: bool = True,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
) -> EventSourceResponse:
    """The run's agent output: replay, then live; with ``follow=false`` only what is stored.
    ``offset`` (bytes, the reference's resume) counts only without ``after`` and
    ``Last-Event-ID``: the first step's output from the line holding that byte."""
    start: int | Callable[[Store, str], int] = start_seq(after, last_event_id)
    if offset and after is None and not (last_event_id or "").strip():
        at_byte = offset

        def start(store: Store, run: str) -> int:
            return store.output_seq_before_offset(run, at_byte)

    return await _respond(
        request, run_id, start, follow, follow_output_batches,
        lambda store: store.output_after, _output_frame,
    )  # fmt: skip
