"""`/health` and `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agentloop import __version__
from agentloop.api.deps import runtime_of
from agentloop.api.schemas import Health

router = APIRouter()


@router.get("/health", response_model=Health, tags=["system"])
def health(request: Request) -> Health:
    runtime = runtime_of(request)
    return Health(
        status="ok",
        version=__version__,
        uptime_s=round(runtime.uptime_s, 3),
        runs_active=runtime.store.count_active(),
        caps=runtime.queue.caps.to_json(),
        executor_id=runtime.settings.executor_id,
    )


@router.get("/metrics", tags=["system"], response_class=Response)
def metrics(request: Request) -> Response:
    from agentloop.api.metrics import render_metrics

    body, content_type = render_metrics(runtime_of(request))
    return Response(body, media_type=content_type)
