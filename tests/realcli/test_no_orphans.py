"""No process of a run survives 5 s after cancel, pause, the step's timeout or loopd's
SIGTERM, with each real CLI (issue "real agent CLIs"; SPEC 4): the mock model has the CLI's
own shell tool start a SIGTERM-ignoring tool in a session of its own (as Claude Code's Bash
tool does with every command), then hang; loopd must end the CLI and that tool."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integration.loopd import Loopd, processes_with_env
from realcli.anthropic import AnthropicProtocol, claude_env
from realcli.clis import cli_binary
from realcli.gemini_api import GeminiProtocol, gemini_env
from realcli.openai_chat import ChatProtocol, opencode_env
from realcli.openai_responses import ResponsesProtocol, codex_env
from realcli.server import MockServer

# A tool in its own session that ignores SIGTERM, a marker that it started (in the worktree:
# opencode refuses paths outside it), then a hang.
HANGING_TOOL = (
    "setsid sh -c \"trap '' TERM; sleep 300\" > /dev/null 2>&1 & touch tool-started; sleep 300"
)


def _claude(url: str, home: Path) -> dict[str, str]:
    return {**claude_env(url, home), "AGENTLOOP_CLAUDE_BIN": str(cli_binary("claude"))}


CLIS: dict[str, tuple[Callable[[], Any], Callable[[str, Path], dict[str, str]], dict[str, Any]]] = {
    "claude": (AnthropicProtocol, _claude, {"model": "opus"}),
    "codex": (ResponsesProtocol, codex_env, {}),
    "gemini": (GeminiProtocol, gemini_env, {"gemini_model": "gemini-2.5-flash"}),
    "opencode": (ChatProtocol, opencode_env, {"opencode_model": "mock/mock-model"}),
}


@pytest.fixture(params=sorted(CLIS))
def hanging(
    request: pytest.FixtureRequest, loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> Iterator[tuple[str, Loopd, dict[str, Any]]]:
    """(agent, a loopd whose agent's model runs HANGING_TOOL, the run's extra config)."""
    agent = request.param
    protocol, env_of, config = CLIS[agent]
    cli_binary(agent)  # skip (or fail under CI) when it is not installed
    server = MockServer(protocol())
    server.brain.command = HANGING_TOOL
    try:
        yield agent, loopd_factory(env=env_of(server.url, tmp_path / "home")), config
    finally:
        server.close()


def start_hanging_run(daemon: Loopd, workspace: Path, agent: str, config: dict[str, Any]) -> str:
    run = daemon.create_run(
        workspace,
        agent=agent,
        reviewer=False,
        postmortem=False,  # the postmortem's agent would run the hanging tool again
        run_naming_mode="spec_slug",
        **config,
    )

    def tool_started() -> bool:
        now = daemon.run(run["id"])
        assert now["status"] in ("PENDING", "RUNNING"), f"{agent}'s run ended: {now}"
        worktree = (now["worktree"] or {}).get("worktree_path")
        return bool(worktree) and (Path(worktree) / "tool-started").exists()

    daemon.wait_for(tool_started, timeout=90, what=f"{agent}'s tool to start")
    assert processes_with_env("LOOP_RUN_ID", run["id"])  # the CLI and its tool are alive
    return str(run["id"])


def assert_all_gone_within(run_id: str, seconds: float, since: float) -> None:
    while processes_with_env("LOOP_RUN_ID", run_id):
        left = seconds - (time.monotonic() - since)
        assert left > 0, f"still running: {processes_with_env('LOOP_RUN_ID', run_id)}"
        time.sleep(0.1)


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_cancel_and_pause_end_the_cli_and_its_tools(
    hanging: tuple[str, Loopd, dict[str, Any]], workspace: Path, action: str
) -> None:
    agent, daemon, config = hanging
    run_id = start_hanging_run(daemon, workspace, agent, config)
    started = time.monotonic()
    assert daemon.request("POST", f"/runs/{run_id}/{action}").status_code == 204
    assert_all_gone_within(run_id, 5.0, started)
    if action == "pause":
        daemon.request("POST", f"/runs/{run_id}/cancel")


# long enough for each CLI to start and run the tool on a busy machine (the Gemini CLI and
# opencode take 3-6 s to start)
STEP_TIMEOUT_SEC = {"claude": 15, "codex": 15, "gemini": 30, "opencode": 30}


def test_the_steps_timeout_ends_the_cli_and_its_tools(
    hanging: tuple[str, Loopd, dict[str, Any]], workspace: Path
) -> None:
    agent, daemon, config = hanging
    timeout = STEP_TIMEOUT_SEC[agent]
    limits = {"agent_timeout_sec": timeout, "iterations": 1, "agent_retries": 0}
    run_id = start_hanging_run(daemon, workspace, agent, {**config, **limits})
    step = next(s for s in daemon.steps(run_id) if s["phase"] == "implementation")
    fired_at = iso_seconds(step["started_at"]) + timeout
    assert time.time() < fired_at, "the tool started after the step's timeout"
    assert_all_gone_within(run_id, fired_at + 5.0 - time.time(), time.monotonic())
    finished = daemon.wait_for(
        lambda: next(
            (s for s in daemon.steps(run_id) if s["id"] == step["id"] and s["ended_at"]), None
        ),
        timeout=10,
        what="the timed-out step to end",
    )
    assert finished["exit_code"] == 124


def iso_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_loopd_sigterm_ends_the_cli_and_its_tools(
    hanging: tuple[str, Loopd, dict[str, Any]], workspace: Path
) -> None:
    agent, daemon, config = hanging
    run_id = start_hanging_run(daemon, workspace, agent, config)
    started = time.monotonic()
    assert daemon.stop() == 0
    assert_all_gone_within(run_id, 5.0, started)
