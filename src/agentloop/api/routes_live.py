"""`GET /events`: every run's events as they are committed, for the dashboard's runs list.

Live only, no replay: a client reads `GET /runs` for the state and this stream to learn
when to read it again. The first frame is `ready` (the subscription is in place, so a
list read after it misses nothing); `lagged` means deliveries were dropped for a slow
reader, so re-read the list. Other frames carry one event envelope, `event:` its type.
Frames have no `id:` (seq numbers are per run), so a reconnecting client starts again
from `ready`. Events written by another host are not on this host's bus: clients that
need them poll as well. A keep-alive comment goes out every 15 s. When loopd stops, the
stream ends cleanly within a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from sse_starlette.sse import EventSourceResponse

from agentloop.api.deps import runtime_of
from agentloop.api.routes_stream import sse_response
from agentloop.api.schemas import ErrorBody
from agentloop.store.bus import Bus

router = APIRouter(tags=["streams"])

WAIT_SEC = 1.0  # how often a quiet stream checks whether its client has gone
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "SSE stream"},
    401: {"model": ErrorBody},
}


async def _all_events(
    request: Request, bus: Bus | None, stopping: anyio.Event
) -> AsyncIterator[dict[str, str]]:
    if bus is None:  # a store without a bus: nothing live to offer
        yield {"event": "ready", "data": '{"live":false}'}
        return
    with bus.subscribe_all() as subscription:
        yield {"event": "ready", "data": '{"live":true}'}
        while True:
            delivery = await subscription.get(timeout=WAIT_SEC)
            if delivery.closed or await request.is_disconnected():
                return
            # What was taken from the bus is sent even when loopd stops: dropping it would
            # lose it for a client that reconnects (the live stream has no replay).
            if delivery.lagged:
                yield {"event": "lagged", "data": "{}"}
            for event in delivery:
                yield {"event": event.event_type.value, "data": event.model_dump_json()}
            if stopping.is_set():
                return


@router.get("/events", responses=_RESPONSES, response_model=None)
async def stream_all_events(request: Request) -> EventSourceResponse:
    """Every run's events, live (no replay); see the module docstring."""
    bus = runtime_of(request).store.bus
    return sse_response(lambda stopping: _all_events(request, bus, stopping))
