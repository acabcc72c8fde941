"""Claude Code 2.1.197 (npm @anthropic-ai/claude-code), the real binary, against the mock
Anthropic API: a whole loop, and each failure mode the CLI reports, as the run must end up
(SPEC 4): the CLI's own retries shown, a throttle retried, a usage limit held until its reset,
a bad key and a refusal to run as root failed at once."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.loopd import Loopd, make_workspace
from realcli import anthropic
from realcli.anthropic import AnthropicProtocol, claude_env
from realcli.clis import cli_binary
from realcli.e2e import (
    WITHOUT_POSTMORTEM,
    agent_retries,
    check_completed_run,
    run_to_completion,
)
from realcli.server import MockServer

THROTTLE = (
    "API Error: Request rejected (429) · This request would exceed the rate limit for your "
    "organization"
)
SUBSCRIPTION_THROTTLE = (
    "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited"
)
ROOT_REFUSAL = (
    "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
)


@pytest.fixture
def anthropic_api() -> Iterator[MockServer]:
    server = MockServer(AnthropicProtocol())
    yield server
    server.close()


@pytest.fixture
def claude_loopd(
    anthropic_api: MockServer, loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> Callable[..., Loopd]:
    """A loopd whose claude talks to the mock: logged in with an API key, or with ``oauth``
    like a subscription; ``sandbox=False`` leaves ``IS_SANDBOX`` out of its environment."""

    def start(*, oauth: bool = False, sandbox: bool = True) -> Loopd:
        env = claude_env(anthropic_api.url, tmp_path / "home", oauth=oauth)
        env["AGENTLOOP_CLAUDE_BIN"] = str(cli_binary("claude"))
        if not sandbox:
            del env["IS_SANDBOX"]
        return loopd_factory(env=env)

    return start


def start_run(daemon: Loopd, workspace: Path, **config: Any) -> dict[str, Any]:
    config = {"model": "opus", "run_naming_mode": "spec_slug", "reviewer": False, **config}
    return daemon.create_run(workspace, agent="claude", **config)


def event_types(daemon: Loopd, run_id: str) -> list[str]:
    return [e["event_type"] for e in daemon.stored_events(run_id)]


def test_claude_carries_a_reviewed_verified_merged_loop(
    claude_loopd: Callable[..., Loopd], workspace: Path, anthropic_api: MockServer
) -> None:
    daemon = claude_loopd()
    run, seconds = run_to_completion(daemon, workspace, "claude", model="opus")
    print(f"claude e2e: {seconds:.1f} s")
    check_completed_run(daemon, workspace, run, cost=True)
    models = {r.body.get("model") for r in anthropic_api.model_requests()}
    assert models == {"claude-opus-4-8"}


def test_a_throttle_claude_retries_away_completes_and_shows_its_retries(
    claude_loopd: Callable[..., Loopd], small: Path, anthropic_api: MockServer
) -> None:
    daemon = claude_loopd()
    anthropic_api.fail(anthropic.rate_limited(retry_after=1), times=2)
    run = start_run(daemon, small)
    daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    cli, ours = agent_retries(daemon, run["id"])
    assert ours == []
    # the CLI's system/api_retry events, one AGENT_RETRY each: its attempt, error, retry-after
    assert [(p["attempt"], p["reason"]) for p in cli] == [
        (1, "429 rate_limit"),
        (2, "429 rate_limit"),
    ]
    assert cli[0]["backoff_ms"] == 1000
    assert [r.faulted for r in anthropic_api.model_requests()][:3] == [True, True, False]
    run_dir = small / "logs" / "loop" / f"run-{run['id']}"
    log = (run_dir / "iter-01.log").read_text()
    assert "[agentloop] agent retrying the API, attempt 2/10: 429 rate_limit" in log
    # the result's usage and cost (the CLI's own sums) land in the step
    lines = (run_dir / "iter-01.events.jsonl").read_text().splitlines()
    result = [e for e in map(json.loads, lines) if e.get("type") == "result"][-1]
    usage = result["usage"]
    read = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    step = next(s for s in daemon.steps(run["id"]) if s["phase"] == "implementation")
    assert step["status"] == "SUCCEEDED" and step["iteration"] == 1
    assert step["tokens_in"] == sum(usage[key] for key in read)
    assert step["tokens_out"] == usage["output_tokens"] > 0
    assert step["cost_usd"] == pytest.approx(result["total_cost_usd"]) and step["cost_usd"] > 0


def test_a_throttle_claude_gave_up_on_is_retried_by_the_loop_never_held(
    claude_loopd: Callable[..., Loopd], small: Path, anthropic_api: MockServer
) -> None:
    # an API-key organisation's 429 with retry-after 3600: the CLI gives up at once with
    # `"error": "rate_limit"` and no rate_limit_event. A throttle (transient), not the
    # account's usage limit: no 900 s pause of every claude run
    daemon = claude_loopd()
    anthropic_api.fail(anthropic.rate_limited(retry_after=3600), times=2)
    started = time.monotonic()
    run = start_run(daemon, small, agent_retries=0, agent_retry_backoff_sec=0.01)
    done = daemon.wait_status(run["id"], "COMPLETED", "PAUSED", timeout=90)
    print(f"claude 429 gave up: {time.monotonic() - started:.1f} s")
    assert done["status"] == "COMPLETED", done["reason"]
    cli, ours = agent_retries(daemon, run["id"])
    assert cli == [] and len(ours) == 2
    assert all(r.startswith(f"transient: {THROTTLE}") for r in ours), ours
    types = event_types(daemon, run["id"])
    assert "RUN_PAUSED" not in types and "AGENT_HOLD" not in types
    # the next claude run is not held either
    other = start_run(daemon, make_workspace(small.parent, tasks=1, name="other"))
    daemon.wait_status(other["id"], "COMPLETED", timeout=60)
    assert "AGENT_HOLD" not in event_types(daemon, other["id"])


def test_a_subscriptions_throttle_is_retried_not_held(
    claude_loopd: Callable[..., Loopd], small: Path, anthropic_api: MockServer
) -> None:
    # logged in as a subscription, a 429 without the unified headers: a "rejected"
    # rate_limit_event naming no limit, and "not your usage limit" in the CLI's words
    daemon = claude_loopd(oauth=True)
    anthropic_api.fail(anthropic.throttled(), times=1)
    run = start_run(daemon, small, agent_retries=0, agent_retry_backoff_sec=0.01)
    done = daemon.wait_status(run["id"], "COMPLETED", "PAUSED", timeout=90)
    assert done["status"] == "COMPLETED", done["reason"]
    assert agent_retries(daemon, run["id"])[1] == [f"transient: {SUBSCRIPTION_THROTTLE}"]
    assert "RUN_PAUSED" not in event_types(daemon, run["id"])


def test_a_subscriptions_usage_limit_pauses_every_claude_run_until_the_reset(
    claude_loopd: Callable[..., Loopd], small: Path, anthropic_api: MockServer
) -> None:
    daemon = claude_loopd(oauth=True)
    resets_at = int(time.time()) + 3600
    anthropic_api.fail(anthropic.usage_limit(resets_at), times=100)
    run = start_run(daemon, small)
    paused = daemon.wait_status(run["id"], "PAUSED", timeout=60)
    assert paused["reason"] == "usage_limit"
    assert abs(float(paused["resume_at"]) - resets_at) < 1  # the mock's reset, not 900 s
    requests = anthropic_api.model_requests()
    assert len(requests) == 1 and requests[0].headers["authorization"].startswith("Bearer ")
    # the limit is the account's: the next claude run waits for the same reset, unasked
    other = start_run(daemon, make_workspace(small.parent, tasks=1, name="other"))
    held = daemon.wait_status(other["id"], "PAUSED", timeout=60)
    assert held["reason"] == "usage_limit" and held["resume_at"] == paused["resume_at"]
    holds = [e for e in daemon.stored_events(other["id"]) if e["event_type"] == "AGENT_HOLD"]
    assert [h["payload"] for h in holds] == [{"agent": "claude", "resume_at": paused["resume_at"]}]
    assert len(anthropic_api.model_requests()) == 1
    for run_id in (run["id"], other["id"]):
        daemon.request("POST", f"/runs/{run_id}/cancel")


def test_an_invalid_api_key_fails_the_run_at_once(
    claude_loopd: Callable[..., Loopd], small: Path, anthropic_api: MockServer
) -> None:
    daemon = claude_loopd()
    anthropic_api.fail(anthropic.invalid_api_key(), times=100)
    started = time.monotonic()
    run = start_run(
        daemon, small, **WITHOUT_POSTMORTEM, agent_retries=2, agent_retry_backoff_sec=0.01
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    seconds = time.monotonic() - started
    print(f"claude 401: {seconds:.1f} s")
    assert "Invalid API key · Fix external API key" in done["reason"]
    assert agent_retries(daemon, run["id"]) == ([], [])  # permanent: retried by no one
    assert len(anthropic_api.model_requests()) == 1
    assert seconds < 20


def test_overloaded_twice_claude_retries_away_completes(
    claude_loopd: Callable[..., Loopd], small: Path, anthropic_api: MockServer
) -> None:
    daemon = claude_loopd()
    anthropic_api.fail(anthropic.overloaded(), times=2)
    run = start_run(daemon, small)
    daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    cli, ours = agent_retries(daemon, run["id"])
    assert ours == []
    assert [(p["attempt"], p["reason"]) for p in cli] == [
        (1, "529 overloaded"),
        (2, "529 overloaded"),
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="the CLI refuses only root")
def test_as_root_without_is_sandbox_the_run_fails_at_once_with_the_clis_words(
    claude_loopd: Callable[..., Loopd],
    small: Path,
    anthropic_api: MockServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IS_SANDBOX", raising=False)  # loopd passes its own env on
    daemon = claude_loopd(sandbox=False)
    started = time.monotonic()
    run = start_run(daemon, small, agent_retries=2, agent_retry_backoff_sec=0.01)
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    seconds = time.monotonic() - started
    print(f"claude as root: {seconds:.1f} s")
    assert ROOT_REFUSAL in done["reason"]
    assert agent_retries(daemon, run["id"]) == ([], [])
    assert anthropic_api.model_requests() == []
    assert seconds < 10
