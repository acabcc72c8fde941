"""Claude Code 2.1.197 (npm @anthropic-ai/claude-code), the real binary, against the mock
Anthropic API: a whole loop, and each failure mode the CLI reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.loopd import Loopd
from realcli.anthropic import AnthropicProtocol, claude_env
from realcli.clis import cli_binary
from realcli.e2e import check_completed_run, run_to_completion
from realcli.server import MockServer


@pytest.fixture
def anthropic() -> Iterator[MockServer]:
    server = MockServer(AnthropicProtocol())
    yield server
    server.close()


@pytest.fixture
def claude_daemon(
    anthropic: MockServer, loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> Loopd:
    env = claude_env(anthropic.url, tmp_path / "home")
    env["AGENTLOOP_CLAUDE_BIN"] = str(cli_binary("claude"))
    return loopd_factory(env=env)


def test_claude_carries_a_reviewed_verified_merged_loop(
    claude_daemon: Loopd, workspace: Path, anthropic: MockServer
):
    run, seconds = run_to_completion(claude_daemon, workspace, "claude", model="opus")
    print(f"claude e2e: {seconds:.1f} s")
    check_completed_run(claude_daemon, workspace, run, cost=True)
    models = {r.body.get("model") for r in anthropic.model_requests()}
    assert models == {"claude-opus-4-8"}
