"""loopd's MCP server (SPEC 18), driven by the official SDK's own client over streamable HTTP:
the eight tools start, watch, steer and stop a real run of the scripted agent; loopd's
errors come back as tool errors; /mcp sits behind the bearer token like the rest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from integration.loopd import Loopd

TOOLS = {
    "list_runs",
    "get_run",
    "start_run",
    "pause_run",
    "resume_run",
    "cancel_run",
    "add_note",
    "tail_output",
}


@asynccontextmanager
async def mcp_session(daemon: Loopd) -> AsyncIterator[ClientSession]:
    timeout = httpx2.Timeout(30.0, read=60.0)
    async with (
        httpx2.AsyncClient(headers=daemon.headers, timeout=timeout, trust_env=False) as http,
        streamable_http_client(f"{daemon.base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """The tool's structured answer (which its text content repeats as JSON)."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert json.loads(text_of(result)) == result.structured_content
    return dict(result.structured_content)


async def refused(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result
    return text_of(result)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    with anyio.fail_after(timeout):
        while not (value := await check()):
            await anyio.sleep(0.1)
        return value


def test_mcp_tools_start_watch_steer_and_stop_a_run(daemon: Loopd, workspace: Path):
    async def scenario() -> None:
        async with mcp_session(daemon) as session:
            assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS

            started = await call(
                session,
                "start_run",
                workspace_root=str(workspace),
                spec_path="specs/demo.md",
                config_override={"agent": "scripted", "model": "delay=2;lines=3"},
                name="mcp-demo",
            )
            run = started["run"]
            assert run["name"] == "mcp-demo" and run["status"] in {"PENDING", "RUNNING"}
            assert (await call(session, "get_run", run_id="mcp-demo"))["run"]["id"] == run["id"]
            assert (await call(session, "get_run", run_id=run["id"][:10]))["run"]["id"] == run["id"]

            async def tail(lines: int) -> list[dict[str, Any]]:
                return list(
                    (await call(session, "tail_output", run_id=run["id"], lines=lines))["lines"]
                )

            async def printed() -> bool:
                return "scripted: line 3/3" in [line["line"] for line in await tail(50)]

            await eventually(printed)  # the first step's output (its three scripted lines)
            whole, last_two = await tail(50), await tail(2)
            assert [line["seq"] for line in whole] == list(range(1, len(whole) + 1))
            assert len(last_two) == 2 and last_two[0]["seq"] + 1 == last_two[1]["seq"]
            assert last_two[0]["seq"] >= whole[-2]["seq"]  # the newest two, oldest first
            listed = await call(session, "list_runs", workspace_root=str(workspace))
            assert listed["total"] == 1 and listed["runs"][0]["id"] == run["id"]

            paused = await call(session, "pause_run", run_id=run["id"])
            assert paused["run"]["status"] == "PAUSED"
            note = (
                await call(
                    session, "add_note", run_id=run["id"], text="Use tabs.", file="a.py", line=3
                )
            )["note"]
            assert (note["source"], note["file"], note["line"]) == ("mcp", "a.py", 3)
            stored = daemon.request("GET", f"/runs/{run['id']}/notes").json()["notes"]
            assert [(n["id"], n["source"], n["text"]) for n in stored] == [
                (note["id"], "mcp", "Use tabs.")
            ]

            resumed = await call(session, "resume_run", run_id=run["id"])
            assert resumed["run"]["status"] in {"PENDING", "RUNNING"}
            canceled = await call(session, "cancel_run", run_id=run["id"])
            assert canceled["run"]["status"] == "CANCELED"
            assert daemon.run(run["id"])["status"] == "CANCELED"
            only = await call(session, "list_runs", status="canceled,failed", limit=5)
            assert [r["id"] for r in only["runs"]] == [run["id"]]

            # loopd's own refusals, as tool errors with its message; the session goes on.
            assert "cannot pause a run that is CANCELED" in await refused(
                session, "pause_run", run_id=run["id"]
            )
            assert "no run matches 'no-such-run'" in await refused(
                session, "get_run", run_id="no-such-run"
            )
            assert "no run matches" in await refused(session, "tail_output", run_id="zzz")
            assert "a note needs text" in await refused(
                session, "add_note", run_id=run["id"], text="  "
            )
            assert "status 'bogus'" in await refused(session, "list_runs", status="bogus")
            assert "specs/missing.md" in await refused(
                session, "start_run", workspace_root=str(workspace), spec_path="specs/missing.md"
            )
            assert await refused(session, "tail_output", run_id=run["id"], lines=0)
            assert (await call(session, "list_runs"))["total"] == 1

    anyio.run(scenario)


def test_mcp_needs_the_bearer_token(tmp_path: Path):
    daemon = Loopd(tmp_path / "data", token="mcp-secret").start()
    try:
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        bare = httpx.post(f"{daemon.base}/mcp", json=hello, timeout=10)
        assert bare.status_code == 401 and "error" in bare.json()
        wrong = httpx.post(
            f"{daemon.base}/mcp",
            json=hello,
            headers={"Authorization": "Bearer mcp-secreT"},
            timeout=10,
        )
        assert wrong.status_code == 401
        assert httpx.get(f"{daemon.base}/health", timeout=10).status_code == 200

        async def with_token() -> None:
            async with mcp_session(daemon) as session:
                assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
                assert (await call(session, "list_runs"))["total"] == 0

        anyio.run(with_token)
    finally:
        assert daemon.stop() == 0, daemon.log_text()
