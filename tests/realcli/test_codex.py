"""Codex CLI 0.171.0 (npm @openai/codex), the real binary, against the mock OpenAI Responses
API: a whole loop, the model it is asked for, and each failure mode the CLI reports, as the
run must end up (SPEC 4)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integration.loopd import Loopd
from realcli import openai_responses as openai
from realcli.e2e import (
    WITHOUT_POSTMORTEM,
    agent_retries,
    check_completed_run,
    run_to_completion,
)
from realcli.openai_responses import ResponsesProtocol, codex_env
from realcli.server import MockServer

# What codex 0.171.0 asks for when neither -m nor config.toml's `model` names one.
CODEX_DEFAULT_MODEL = "gpt-6.2-sol"
HIGH_DEMAND = "We\u2019re currently experiencing high demand, which may cause temporary errors."


@pytest.fixture
def responses() -> Iterator[MockServer]:
    server = MockServer(ResponsesProtocol())
    yield server
    server.close()


@pytest.fixture
def codex_loopd(
    responses: MockServer, loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> Callable[..., Loopd]:
    """A loopd whose codex talks to the mock; ``retries`` sets the provider's
    ``request_max_retries``/``stream_max_retries`` (codex's own defaults when None);
    ``env`` adds to the environment."""

    def start(retries: int | None = None, **env: str) -> Loopd:
        base = codex_env(responses.url, tmp_path / "home", retries=retries)
        return loopd_factory(env={**base, **env})

    return start


def start_run(daemon: Loopd, workspace: Path, **config: Any) -> dict[str, Any]:
    config = {"model": "opus", "run_naming_mode": "spec_slug", "reviewer": False, **config}
    return daemon.create_run(workspace, agent="codex", **config)


def retries_of(daemon: Loopd, run_id: str) -> tuple[list[str], list[str]]:
    """The AGENT_RETRY reasons: (codex retrying on its own, our loop retrying the step)."""
    cli, ours = agent_retries(daemon, run_id)
    return [str(p["reason"]) for p in cli], ours


def test_codex_carries_a_reviewed_verified_merged_loop(
    codex_loopd: Callable[..., Loopd], workspace: Path, responses: MockServer
) -> None:
    daemon = codex_loopd()
    run, seconds = run_to_completion(daemon, workspace, "codex", model="opus")
    print(f"codex e2e: {seconds:.1f} s")
    check_completed_run(daemon, workspace, run, cost=False)
    # the default model=opus is Claude's: codex gets no -m and asks for its own default
    models = {r.body.get("model") for r in responses.model_requests()}
    assert models == {CODEX_DEFAULT_MODEL}


def test_an_explicit_codex_model_reaches_the_request(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    daemon = codex_loopd()
    run = start_run(daemon, small, codex_model="gpt-5.5")
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    models = {r.body.get("model") for r in responses.model_requests()}
    assert models == {"gpt-5.5"}


def test_an_invalid_api_key_fails_the_run_at_once(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    daemon = codex_loopd()
    responses.fail(openai.invalid_api_key(), times=100)
    started = time.monotonic()
    run = start_run(
        daemon, small, **WITHOUT_POSTMORTEM, agent_retries=2, agent_retry_backoff_sec=0.01
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    seconds = time.monotonic() - started
    print(f"codex 401: {seconds:.1f} s")
    assert done["reason"].startswith("unexpected status 401 Unauthorized: Incorrect API key")
    assert done["iteration"] == 1
    cli, ours = retries_of(daemon, run["id"])
    assert ours == []  # permanent: never retried by the loop, retries or not
    assert len(cli) == 5 and all("401 Unauthorized" in r for r in cli)  # codex's own 5
    assert len(responses.model_requests()) == 6  # one codex run: 1 + 5 reconnects
    assert seconds < 20


def test_a_usage_limit_pauses_the_run_until_the_reset(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    # codex names the reset's minute in its local time ("try again at 5:31 PM"): a zone
    # half an hour off UTC shows whether loopd reads it in the same zone
    daemon = codex_loopd(TZ="Asia/Kolkata")
    resets_at = time.time() + 20
    responses.fail(openai.usage_limit(resets_at), times=100)
    run = start_run(daemon, small)
    paused = daemon.wait_status(run["id"], "PAUSED", timeout=60)
    noticed = time.time()
    assert paused["reason"] == "usage_limit"
    resume_at = float(paused["resume_at"])
    named = datetime.fromtimestamp(resets_at).replace(second=0, microsecond=0).timestamp()
    # within the minute codex named: seconds away, not a day (nor the 900 s default)
    assert named <= resume_at <= named + 60
    assert resume_at - noticed < 60
    assert len(responses.model_requests()) == 1
    daemon.request("POST", f"/runs/{run['id']}/cancel")


def test_insufficient_quota_fails_the_run(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    daemon = codex_loopd()
    responses.fail(openai.insufficient_quota(), times=100)
    run = start_run(
        daemon, small, **WITHOUT_POSTMORTEM, agent_retries=2, agent_retry_backoff_sec=0.01
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"] == "Quota exceeded. Check your plan and billing details."
    assert retries_of(daemon, run["id"]) == ([], [])
    assert len(responses.model_requests()) == 1


def test_a_throttle_codex_retries_away_completes_and_shows_its_retries(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    daemon = codex_loopd()
    responses.fail(openai.rate_limited(retry_after=1), times=2)
    run = start_run(daemon, small)
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    cli, ours = retries_of(daemon, run["id"])
    assert ours == []
    assert [r.split(" (")[0] for r in cli] == ["Reconnecting... 1/5", "Reconnecting... 2/5"]
    assert all("429 Too Many Requests" in r for r in cli)


def test_a_5xx_codex_retries_away_completes(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    daemon = codex_loopd()
    responses.fail(openai.server_error(), times=1)
    run = start_run(daemon, small)
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert retries_of(daemon, run["id"])[1] == []
    assert responses.model_requests()[0].faulted


def test_high_demand_given_up_is_transient_and_retried_by_the_loop(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    # codex's defaults give up on a 5xx after ~24 s (30 requests); one retry of each kind
    # makes it 4 requests and a second, and keeps a "Reconnecting... 1/1" to surface
    daemon = codex_loopd(retries=1)
    responses.fail(openai.server_error(), times=4)
    run = start_run(daemon, small, agent_retries=0, agent_retry_backoff_sec=0.01)
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    cli, ours = retries_of(daemon, run["id"])
    assert ours == [f"transient: {HIGH_DEMAND}"]
    assert cli == [f"Reconnecting... 1/1 ({HIGH_DEMAND})"]


def test_high_demand_that_never_clears_fails_as_transient_never_permanent(
    codex_loopd: Callable[..., Loopd], small: Path, responses: MockServer
) -> None:
    daemon = codex_loopd(retries=0)  # codex gives up at once: 1 request per run
    responses.fail(openai.server_error(), times=100)
    run = start_run(
        daemon, small, **WITHOUT_POSTMORTEM, agent_retries=0, agent_retry_backoff_sec=0.01
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"] == f"agent_transient: {HIGH_DEMAND}"
    _cli, ours = retries_of(daemon, run["id"])
    assert ours == [f"transient: {HIGH_DEMAND}"] * 5  # SPEC 4: five retries with backoff
    assert len(responses.model_requests()) == 6
