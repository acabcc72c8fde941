"""Request-scoped access to the runtime and store."""

from __future__ import annotations

from fastapi import Request

from agentloop.engine.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
