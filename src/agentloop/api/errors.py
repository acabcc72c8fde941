"""One translation of our errors into HTTP answers `{"error": ...}` (SPEC 14)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentloop.core.errors import (
    AgentloopError,
    Conflict,
    InvalidInput,
    NotFound,
    StoreError,
)

_STATUS: list[tuple[type[AgentloopError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 400),
    (StoreError, 503),
]


def status_for(error: AgentloopError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


def error_body(message: str, **extra: object) -> dict[str, object]:
    return {"error": message, **extra}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AgentloopError)
    async def _ours(_request: Request, exc: AgentloopError) -> JSONResponse:
        extra: dict[str, object] = {}
        if isinstance(exc, Conflict):
            extra["status"] = exc.facts.get("current_status")
        if isinstance(exc.facts.get("matches"), list):  # an ambiguous run reference
            extra["matches"] = exc.facts["matches"]
        if isinstance(exc.facts.get("reason"), str):  # a refusal's one-word reason
            extra["reason"] = exc.facts["reason"]
        return JSONResponse(error_body(exc.message, **extra), status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for item in exc.errors():
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
        return JSONResponse(error_body("invalid request: " + "; ".join(problems)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
