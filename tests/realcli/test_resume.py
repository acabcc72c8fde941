"""Resuming the agent's own session (SPEC 18), with each real CLI against its mock model.

The mock model has the CLI's shell tool run a quick command, then a long one; while that
runs, the run is interrupted (loopd killed with SIGKILL, the run paused, or the host of a
pair on PostgreSQL killed), then loopd comes back (or the run is resumed, or the other host
takes it over). The step must start again as a new attempt whose ``STEP_STARTED``
names the session the first attempt recorded, and the CLI's first model request after that
must carry the conversation from before the interruption (the prompt, the quick command and
its output), then the short resume prompt. When the recorded session is unknown to the CLI,
the step starts over at once, recorded as an ``AGENT_RETRY`` ``resume_failed: ...``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentloop.engine.phases.resume import RESUME_PROMPT
from dbfixtures import fresh_pg_url, pg_admin_url  # noqa: F401  (fixtures)
from integration.loopd import Loopd, git, processes_with_env
from realcli.anthropic import AnthropicProtocol, claude_env
from realcli.brain import Action, Brain, ShellCall
from realcli.clis import cli_binary
from realcli.gemini_api import GeminiProtocol, gemini_env
from realcli.openai_chat import ChatProtocol, opencode_env
from realcli.openai_responses import ResponsesProtocol, codex_env
from realcli.server import MockServer, Protocol

# Run by the CLI's own shell tool: a quick command (its output, which its text does not
# contain, is part of the conversation a resume carries on), then a mark in the worktree and
# a wait the test interrupts.
QUICK_TOOL = "printf 'quick%s' -tool-output"
QUICK_OUTPUT = "quick-tool-output"
SLOW_TOOL = "touch tool-started; sleep 300"
IMPLEMENTATION = "highest-priority open task"  # words of the implementation prompt


@dataclass
class InterruptedBrain(Brain):
    """While ``slow``: the quick command, then the slow one. Then the plan's work, as the
    brain does it, whatever the conversation holds from before."""

    slow: bool = True

    def decide(self, prompt: str, tool_results: list[str]) -> Action:
        if self.slow and tool_results:  # asked to wait it out (codex reports after 10 s)
            return ShellCall(SLOW_TOOL, "Run the long command", wait_sec=300)
        if self.slow:
            return ShellCall(QUICK_TOOL, "Run a quick command")
        return super().decide(prompt, [r for r in tool_results if "BRAIN|" in r])


def _claude(url: str, home: Path) -> dict[str, str]:
    return {**claude_env(url, home), "AGENTLOOP_CLAUDE_BIN": str(cli_binary("claude"))}


@dataclass(frozen=True)
class Cli:
    protocol: Callable[[], Protocol]
    env: Callable[[str, Path], dict[str, str]]
    config: dict[str, Any]
    unknown_session: str  # a well-formed id no session of the CLI has


# Claude's model; the other CLIs then get none (their configured default), see agent_model.
OPUS = {"model": "opus"}
CLIS = {
    "claude": Cli(AnthropicProtocol, _claude, OPUS, "0b6a3c0e-1111-4222-8333-444455556666"),
    "codex": Cli(ResponsesProtocol, codex_env, OPUS, "0b6a3c0e-1111-7222-8333-444455556666"),
    "opencode": Cli(ChatProtocol, opencode_env, OPUS, "ses_0000000000000000000000000"),
    "gemini": Cli(
        GeminiProtocol,
        gemini_env,
        {"gemini_model": "gemini-2.5-flash"},
        "0b6a3c0e-1111-4222-8333-444455556666",
    ),
}


@dataclass
class Setup:
    agent: str
    brain: InterruptedBrain
    server: MockServer
    daemon: Loopd


@pytest.fixture
def setup(
    request: pytest.FixtureRequest, loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> Iterator[Setup]:
    agent = request.param
    cli = CLIS[agent]
    cli_binary(agent)  # skip (or fail under CI) when it is not installed
    brain = InterruptedBrain()
    server = MockServer(cli.protocol(), brain)
    try:
        daemon = loopd_factory(env=cli.env(server.url, tmp_path / "home"))
        yield Setup(agent, brain, server, daemon)
    finally:
        server.close()


def interrupted_run(setup: Setup, workspace: Path) -> tuple[str, str, int]:
    """Start a run whose first step runs SLOW_TOOL; once the tool runs: (run id, the session
    the step recorded, how many model requests the mock had answered)."""
    daemon = setup.daemon
    config = {"reviewer": False, "run_naming_mode": "spec_slug", **CLIS[setup.agent].config}
    run_id = str(daemon.create_run(workspace, agent=setup.agent, **config)["id"])

    def worktree_and_session() -> tuple[Path, str] | None:
        worktree = (daemon.run(run_id)["worktree"] or {}).get("worktree_path")
        steps = implementation_steps(daemon, run_id)
        session = steps[0]["session_id"] if steps else None
        return (Path(worktree), str(session)) if worktree and session else None

    worktree, session = daemon.wait_for(worktree_and_session, timeout=120, what="its session")
    # The interruption comes as soon as the tool runs, before the CLI may have saved its last
    # turns (Claude Code often had not, then): a crash must still let it save them.
    daemon.wait_for(
        (worktree / "tool-started").exists,
        timeout=120,
        what=f"{setup.agent}'s tool to start",
        every=0.002,
    )
    return run_id, str(session), len(setup.server.model_requests())


def assert_resumed(setup: Setup, workspace: Path, run_id: str, session: str, answered: int) -> None:
    """The run completed after its first step was resumed in ``session``, the CLI's first
    request after the interruption (the ``answered``-th) carrying on its conversation."""
    daemon = setup.daemon
    assert daemon.run(run_id)["tasks_done"] == 1
    assert [p["resumed_session"] for p in first_attempts(daemon, run_id)] == [None, session]
    assert [p["attempt"] for p in first_attempts(daemon, run_id)] == [1, 2]
    steps = implementation_steps(daemon, run_id)
    assert [s["status"] for s in steps] == ["CANCELED", "SUCCEEDED"]
    assert [s["session_id"] for s in steps] == [session, session]
    resumed = json.dumps(setup.server.model_requests()[answered].body)
    assert IMPLEMENTATION in resumed and QUICK_OUTPUT in resumed and RESUME_PROMPT in resumed
    assert resumed.index(IMPLEMENTATION) < resumed.index(QUICK_OUTPUT)
    assert resumed.index(QUICK_OUTPUT) < resumed.rindex(RESUME_PROMPT)
    # The worktree was left as the agent had it (the mark its tool made was committed).
    assert "tool-started" in run_branch_files(daemon, workspace, run_id)


def implementation_steps(daemon: Loopd, run_id: str) -> list[dict[str, Any]]:
    return [
        s for s in daemon.steps(run_id) if s["phase"] == "implementation" and s["iteration"] == 1
    ]


def first_attempts(daemon: Loopd, run_id: str) -> list[dict[str, Any]]:
    """The STEP_STARTED payloads of iteration 1's implementation step."""
    return [
        e["payload"]
        for e in daemon.stored_events(run_id)
        if e["event_type"] == "STEP_STARTED"
        and e["payload"]["phase"] == "implementation"
        and e["payload"]["iteration"] == 1
    ]


def interrupt(daemon: Loopd, run_id: str, how: str, before_restart: Callable[[], None]) -> None:
    if how == "kill9":
        daemon.kill9()
        before_restart()
        daemon.start()
        return
    assert daemon.request("POST", f"/runs/{run_id}/pause").status_code == 204
    daemon.wait_status(run_id, "PAUSED")
    before_restart()
    assert daemon.request("POST", f"/runs/{run_id}/resume").status_code == 204


def end_tools(run_id: str) -> None:
    """The interrupted tool (a sleep in a session of its own) must not outlive the test."""
    if not run_id:
        return
    for pid in processes_with_env("LOOP_RUN_ID", run_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def run_branch_files(daemon: Loopd, workspace: Path, run_id: str) -> list[str]:
    branch = daemon.run(run_id)["worktree"]["run_branch"]
    return git(workspace, "ls-tree", "--name-only", branch).splitlines()


CASES = [(agent, "kill9") for agent in sorted(CLIS)] + [("claude", "pause")]


@pytest.mark.parametrize(
    ("setup", "how"), CASES, indirect=["setup"], ids=[f"{a}-{h}" for a, h in CASES]
)
def test_an_interrupted_step_resumes_the_agents_own_session(
    setup: Setup, small: Path, how: str
) -> None:
    daemon = setup.daemon
    run_id, session, answered = interrupted_run(setup, small)
    try:

        def before_restart() -> None:
            setup.brain.slow = False  # from now on the model does the task

        interrupt(daemon, run_id, how, before_restart)
        daemon.wait_status(run_id, "COMPLETED", timeout=240)
    finally:
        end_tools(run_id)
    assert_resumed(setup, small, run_id, session, answered)


@pytest.mark.postgres
def test_a_step_whose_host_died_resumes_its_session_on_the_other_host(
    tmp_path: Path,
    fresh_pg_url: str,  # noqa: F811
    small: Path,
) -> None:
    """Two loopds on one PostgreSQL database; the host running the step is killed. The
    other takes the run over and resumes the session: on one machine, the CLI's session
    files are the survivor's too (on another, the resume fails and the step starts over,
    as in the unknown-session test)."""
    cli_binary("claude")
    brain = InterruptedBrain()
    server = MockServer(AnthropicProtocol(), brain)
    env = _claude(server.url, tmp_path / "home")
    args = ["--database-url", fresh_pg_url]
    hosts = [Loopd(tmp_path / f"host-{name}", env=env, args=args) for name in "ab"]
    run_id = ""
    try:
        for host in hosts:
            host.start()
        setup = Setup("claude", brain, server, hosts[0])
        run_id, session, answered = interrupted_run(setup, small)
        started = [e for e in hosts[0].stored_events(run_id) if e["event_type"] == "RUN_STARTED"]
        owner = str(started[-1]["payload"]["worker_id"])
        dying, survivor = hosts if owner.endswith(f":{hosts[0].port}") else hosts[::-1]
        brain.slow = False
        dying.kill9()
        survivor.wait_status(run_id, "COMPLETED", timeout=120)
        assert [
            e["payload"]["reason"]
            for e in survivor.stored_events(run_id)
            if e["event_type"] == "RUN_RESUMED"
        ] == ["host_failover"]
        assert_resumed(Setup("claude", brain, server, survivor), small, run_id, session, answered)
    finally:
        end_tools(run_id)
        for host in hosts:
            host.stop()
        server.close()


@pytest.mark.parametrize("setup", sorted(CLIS), indirect=True)
def test_an_unknown_session_starts_the_step_over_recorded(setup: Setup, small: Path) -> None:
    daemon, server = setup.daemon, setup.server
    run_id, session, answered = interrupted_run(setup, small)
    unknown = CLIS[setup.agent].unknown_session
    try:

        def forget_session() -> None:  # as if the session lived on a host now gone
            setup.brain.slow = False
            with sqlite3.connect(daemon.data_dir / "loopd.db") as db:
                db.execute("UPDATE loopd_steps SET session_id = ?", (unknown,))

        interrupt(daemon, run_id, "kill9", forget_session)
        done = daemon.wait_status(run_id, "COMPLETED", timeout=240)
    finally:
        end_tools(run_id)
    assert done["tasks_done"] == 1
    assert [p["resumed_session"] for p in first_attempts(daemon, run_id)] == [None, unknown]
    retries = [
        e["payload"]
        for e in daemon.stored_events(run_id)
        if e["event_type"] == "AGENT_RETRY" and e["payload"]["reason"].startswith("resume_failed")
    ]
    assert len(retries) == 1 and retries[0]["session"] == unknown
    assert unknown in retries[0]["reason"] or "not found" in retries[0]["reason"].lower()
    steps = implementation_steps(daemon, run_id)
    assert [s["status"] for s in steps] == ["CANCELED", "SUCCEEDED"]
    assert steps[1]["session_id"] not in (None, unknown, session)  # a new session
    # The CLI started afresh: its next request is the step's own prompt, nothing before it.
    fresh = json.dumps(server.model_requests()[answered].body)
    assert IMPLEMENTATION in fresh and QUICK_OUTPUT not in fresh and RESUME_PROMPT not in fresh
    # Started over on a clean worktree: the interrupted tool's mark was set aside.
    assert "tool-started" not in run_branch_files(daemon, small, run_id)
