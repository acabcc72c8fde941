"""loopd as a Model Context Protocol server (SPEC 18): streamable HTTP at ``/mcp``.

An agent in an editor lists, starts, watches, steers and stops runs with eight tools. Each
tool calls what the HTTP route of the same job calls (admission, control, the store, the
notes), never loopd over HTTP. Our errors become MCP tool errors carrying loopd's message,
so an unknown run or a 409 reads the same as over HTTP and never ends the session.

The transport is the official SDK's, stateless with JSON answers: no session to keep and no
stream held open, so a SIGTERM drain is not held up by an editor left connected. It sits
behind the app's bearer-token middleware like every route; its session manager runs in the
app's lifespan (:func:`lifespan`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Annotated, Any

from fastapi import FastAPI
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, ValidationError

from agentloop import __version__
from agentloop.api.routes_notes import NoteAnswer, check_note
from agentloop.api.routes_runs import parse_statuses
from agentloop.api.schemas import ConfigValue, CreateRun, RunEnvelope, RunList
from agentloop.core.errors import AgentloopError
from agentloop.core.models import OutputLine, Run
from agentloop.core.types import RunStatus
from agentloop.engine import admission, control
from agentloop.engine.runtime import Runtime
from agentloop.store.notes import Notes

__all__ = ["MCP_PATH", "TailOutput", "create_mcp_server", "lifespan", "mount"]

MCP_PATH = "/mcp"
MAX_TAIL_LINES = 1000

RunRef = Annotated[str, Field(description="A run id, a unique prefix of one, or a run's name.")]
JsonObject = dict[str, Any]
"""What the tools about runs answer: ``{"run": ...}`` or ``{"runs": [...], "total": N}``, the
JSON of ``GET /runs/{id}`` and ``GET /runs``. Not the models: the SDK would publish a
model's validation schema, where a run's ``worktree`` is an object, and clients check
answers against it, but a run's JSON has ``worktree: null`` until its worktree exists."""


class TailOutput(BaseModel):
    """The last lines of a run's agent output, oldest first."""

    run_id: str
    status: RunStatus
    lines: list[OutputLine]


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    """Our errors and refused input become tool errors with the message loopd gives."""
    try:
        yield
    except AgentloopError as exc:
        raise ToolError(exc.message) from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'input'}: {item['msg']}"
            for item in exc.errors()
        )
        raise ToolError(f"invalid request: {problems}") from exc


def _run_json(run: Run) -> JsonObject:
    return RunEnvelope(run=run).model_dump(mode="json")


def create_mcp_server(runtime: Runtime) -> MCPServer[Any]:
    """The MCP server with loopd's tools, bound to ``runtime``."""
    server: MCPServer[Any] = MCPServer(
        "loopd",
        version=__version__,
        instructions=(
            "agentloop's daemon: start runs of an AI coding agent on a spec and plan in a git "
            "workspace, watch them, pause, resume or cancel them, and leave notes for their "
            "next agent step."
        ),
    )
    store = runtime.store

    @server.tool()
    def list_runs(
        workspace_root: Annotated[
            str | None, Field(description="Only runs of this workspace.")
        ] = None,
        status: Annotated[
            str | None, Field(description="Comma-separated statuses, e.g. RUNNING,PAUSED.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
    ) -> JsonObject:
        """Runs, newest first, and how many match the filters."""
        with _as_tool_errors():
            runs, total = store.list_runs(
                workspace_root=workspace_root, status=parse_statuses(status), limit=limit
            )
            return RunList(runs=runs, total=total).model_dump(mode="json")

    @server.tool()
    def get_run(run_id: RunRef) -> JsonObject:
        """One run: status, reason, iteration, tasks done, tokens, cost, worktree, review."""
        with _as_tool_errors():
            return _run_json(store.resolve_run(run_id))

    @server.tool()
    def start_run(
        workspace_root: Annotated[str, Field(description="The git repository to work in.")],
        spec_path: Annotated[str, Field(description="The spec, relative to the workspace.")],
        plan_path: Annotated[
            str | None, Field(description="The plan; default: found from the spec.")
        ] = None,
        config_override: Annotated[
            dict[str, ConfigValue] | None,
            Field(description='.loop/config keys for this run, e.g. {"agent": "codex"}.'),
        ] = None,
        name: Annotated[str | None, Field(description="The run's name.")] = None,
        merge_target_branch: Annotated[
            str | None, Field(description="The branch the run merges into.")
        ] = None,
    ) -> JsonObject:
        """Start a run of the agent loop on a spec (and its plan) in a workspace."""
        with _as_tool_errors():
            body = CreateRun(
                workspace_root=workspace_root,
                spec_path=spec_path,
                plan_path=plan_path,
                config_override=config_override,
                name=name,
                merge_target_branch=merge_target_branch,
            )
            return _run_json(admission.admit(runtime, body.run_request()))

    def _control(action: str, run_id: str) -> JsonObject:
        with _as_tool_errors():
            run = store.resolve_run(run_id)
            control.apply(runtime, run.id, action, via="mcp")
            return _run_json(store.get_run(run.id))

    @server.tool()
    def pause_run(run_id: RunRef) -> JsonObject:
        """Pause a pending or running run (its agent stops; resume continues it)."""
        return _control("pause", run_id)

    @server.tool()
    def resume_run(run_id: RunRef) -> JsonObject:
        """Resume a paused run."""
        return _control("resume", run_id)

    @server.tool()
    def cancel_run(run_id: RunRef) -> JsonObject:
        """Cancel a run for good."""
        return _control("cancel", run_id)

    @server.tool()
    def add_note(
        run_id: RunRef,
        text: Annotated[str, Field(description="What the agent should know (20,000 chars).")],
        file: Annotated[str | None, Field(description="A file of the run's repository.")] = None,
        line: Annotated[int | None, Field(description="A line of that file, from 1.")] = None,
    ) -> NoteAnswer:
        """Leave a note for the run's next agent step (any status but COMPLETED/CANCELED).
        A paused run that needs attention goes on with it once resumed."""
        with _as_tool_errors():
            check_note(text, file, line)
            run = store.resolve_run(run_id)
            note = Notes(store).add(run.id, text, file=file, line=line, source="mcp")
            return NoteAnswer(note=note)

    @server.tool()
    def tail_output(
        run_id: RunRef,
        lines: Annotated[int, Field(ge=1, le=MAX_TAIL_LINES, description="How many.")] = 50,
    ) -> TailOutput:
        """The last lines of the run's agent output, oldest first."""
        with _as_tool_errors():
            run = store.resolve_run(run_id)
            last = store.get_run_counters(run.id).last_output_seq
            tail = store.output_after(run.id, max(0, last - lines), lines)
            return TailOutput(run_id=run.id, status=run.status, lines=tail)

    return server


def mount(app: FastAPI, server: MCPServer[Any], host: str) -> None:
    """Serve ``server`` at ``/mcp`` of ``app`` (every method; the app's middleware applies).

    ``host`` is the address loopd listens on: on a loopback one the SDK also refuses a
    request whose Host or Origin is not loopback (DNS rebinding)."""
    transport = server.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host
    )
    app.router.routes.extend(transport.routes)
    # Stateless, each request ends a one-off session with an INFO line that says nothing.
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)


def lifespan(server: MCPServer[Any]) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the MCP session manager runs while loopd serves."""

    def run(_app: FastAPI) -> AbstractAsyncContextManager[None]:
        return server.session_manager.run()

    return run
