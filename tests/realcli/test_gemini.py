"""Gemini CLI 0.61.0 (npm @google/gemini-cli), the real binary, against the mock Gemini API:
a whole loop in fresh (untrusted) worktrees, the model it is asked for, and each failure mode
the CLI reports, as the run must end up (SPEC 4)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.loopd import Loopd
from realcli import gemini_api as gemini
from realcli.e2e import (
    WITHOUT_POSTMORTEM,
    agent_retries,
    check_completed_run,
    run_to_completion,
)
from realcli.gemini_api import GeminiProtocol, gemini_env, is_utility_request, model_of
from realcli.server import MockServer

# Without -m the CLI asks for "auto": its router has a utility model classify the prompt
# (the mock answers a complexity of 30, under its threshold of 90), then sends every turn
# to the flash model of 0.61.0's "auto" family.
GEMINI_ROUTER_MODEL = "gemini-3.5-flash-lite"
GEMINI_AUTO_FLASH_MODEL = "gemini-3.8-flash"
# A model named explicitly: no routing, every request is a turn (the failure cases use it,
# so that each queued fault reaches a turn, not the router).
EXPLICIT_MODEL = "gemini-2.5-flash"
UNTRUSTED = (
    "Gemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust`, "
    "set the `GEMINI_CLI_TRUST_WORKSPACE=true` environment variable, or trust this directory "
    "in interactive mode."
)
QUOTA = "You exceeded your current quota, please check your plan and billing details."


@pytest.fixture
def api() -> Iterator[MockServer]:
    server = MockServer(GeminiProtocol())
    yield server
    server.close()


@pytest.fixture
def gemini_loopd(
    api: MockServer, loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> Callable[..., Loopd]:
    """A loopd whose gemini talks to the mock; ``max_attempts`` sets the CLI's own retries
    (its default when None); ``env`` adds to (or replaces in) the environment."""

    def start(max_attempts: int | None = None, **env: str) -> Loopd:
        base = gemini_env(api.url, tmp_path / "home", max_attempts=max_attempts)
        return loopd_factory(env={**base, **env})

    return start


def start_run(daemon: Loopd, workspace: Path, **config: Any) -> dict[str, Any]:
    config = {
        "model": "opus",
        "gemini_model": EXPLICIT_MODEL,
        "run_naming_mode": "spec_slug",
        "reviewer": False,
        **config,
    }
    return daemon.create_run(workspace, agent="gemini", **config)


def turn_models(server: MockServer) -> set[str | None]:
    return {model_of(r.path) for r in server.model_requests() if not is_utility_request(r.path)}


def test_gemini_carries_a_reviewed_verified_merged_loop(
    gemini_loopd: Callable[..., Loopd], workspace: Path, api: MockServer
) -> None:
    # no GEMINI_CLI_TRUST_WORKSPACE: every step runs in a fresh worktree the CLI never saw
    daemon = gemini_loopd()
    run, seconds = run_to_completion(daemon, workspace, "gemini", model="opus")
    print(f"gemini e2e: {seconds:.1f} s")
    check_completed_run(daemon, workspace, run, cost=False)  # gemini reports no cost
    # the default model=opus is Claude's: gemini gets no -m, so it routes its own "auto"
    requests = api.model_requests()
    assert not [r.path for r in requests if "opus" in r.path]
    assert turn_models(api) == {GEMINI_AUTO_FLASH_MODEL}
    routed = {model_of(r.path) for r in requests if is_utility_request(r.path)}
    assert routed == {GEMINI_ROUTER_MODEL}


def test_an_explicit_gemini_model_reaches_the_request(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer
) -> None:
    daemon = gemini_loopd()
    run = start_run(daemon, small, gemini_model="gemini-2.5-pro")
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert {model_of(r.path) for r in api.model_requests()} == {"gemini-2.5-pro"}
    assert not [r for r in api.model_requests() if is_utility_request(r.path)]


def test_an_untrusted_folder_fails_the_run_at_once_with_the_clis_words(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer, tmp_path: Path
) -> None:
    # the real CLI without the adapter's --skip-trust: what any CLI that refused the
    # worktree as untrusted would say (exit 55)
    real = gemini_env(api.url, tmp_path / "home")["AGENTLOOP_GEMINI_BIN"]
    wrapper = tmp_path / "gemini-without-skip-trust"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for a; do shift; [ "$a" = --skip-trust ] || set -- "$@" "$a"; done\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    daemon = gemini_loopd(AGENTLOOP_GEMINI_BIN=str(wrapper))
    run = start_run(daemon, small, agent_retries=2, agent_retry_backoff_sec=0.01)
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"].startswith(UNTRUSTED), done["reason"]
    assert agent_retries(daemon, run["id"]) == ([], [])  # permanent: never retried
    assert api.model_requests() == []


def test_an_invalid_api_key_fails_the_run_at_once(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer
) -> None:
    daemon = gemini_loopd()
    api.fail(gemini.invalid_api_key(), times=100)
    run = start_run(
        daemon, small, **WITHOUT_POSTMORTEM, agent_retries=2, agent_retry_backoff_sec=0.01
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"].startswith("[API Error: "), done["reason"]
    assert "API key not valid. Please pass a valid API key." in done["reason"]
    assert done["iteration"] == 1
    assert agent_retries(daemon, run["id"]) == ([], [])
    assert len(api.model_requests()) == 1  # a 400 is not retried, by the CLI nor by us


def test_an_unknown_model_fails_the_run_at_once(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer
) -> None:
    daemon = gemini_loopd()
    api.fail(gemini.model_not_found("gemini-9-ultra"), times=100)
    run = start_run(
        daemon, small, **WITHOUT_POSTMORTEM, gemini_model="gemini-9-ultra", agent_retries=2
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"].startswith("[API Error: models/gemini-9-ultra is not found")
    assert agent_retries(daemon, run["id"]) == ([], [])
    assert len(api.model_requests()) == 1


def test_the_daily_quota_pauses_the_run_for_the_configured_wait(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer
) -> None:
    daemon = gemini_loopd()
    api.fail(gemini.daily_quota(), times=100)
    started = time.time()
    run = start_run(daemon, small, usage_limit_wait_sec=1234)
    paused = daemon.wait_status(run["id"], "PAUSED", timeout=60)
    noticed = time.time()
    assert paused["reason"] == "usage_limit"
    # the CLI names no reset for a daily quota: loopd waits usage_limit_wait_sec
    assert started + 1234 <= float(paused["resume_at"]) <= noticed + 1234
    assert len(api.model_requests()) == 1  # the CLI's TerminalQuotaError: no retry
    daemon.request("POST", f"/runs/{run['id']}/cancel")


def test_a_quota_with_a_long_retry_delay_pauses_the_run_until_then(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer
) -> None:
    # RetryInfo over 300 s: the CLI gives up at once (TerminalQuotaError, retryDelayMs)
    daemon = gemini_loopd()
    api.fail(gemini.rate_limited(retry_delay="2400s"), times=100)
    started = time.time()
    run = start_run(daemon, small, usage_limit_wait_sec=60)
    paused = daemon.wait_status(run["id"], "PAUSED", timeout=60)
    noticed = time.time()
    assert paused["reason"] == "usage_limit"
    assert started + 2400 <= float(paused["resume_at"]) <= noticed + 2400
    daemon.request("POST", f"/runs/{run['id']}/cancel")


def test_a_throttle_the_cli_gives_up_is_transient_and_retried_by_the_loop(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer
) -> None:
    # one attempt: the CLI gives the per-minute quota up at once (RetryableQuotaError,
    # exit 173 like the daily quota's): a throttle, not a usage limit
    daemon = gemini_loopd(max_attempts=1)
    api.fail(gemini.rate_limited(retry_delay="1s"), times=1)
    run = start_run(daemon, small, agent_retries=0, agent_retry_backoff_sec=0.01)
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    cli, ours = agent_retries(daemon, run["id"])
    assert cli == []
    assert len(ours) == 1 and ours[0].startswith(f"transient: [API Error: {QUOTA}")


def test_an_overload_the_cli_retries_away_completes_and_shows_its_retries(
    gemini_loopd: Callable[..., Loopd], small: Path, api: MockServer
) -> None:
    # the CLI's backoff from 5 s is this file's slowest wait: its per-minute quota retried
    # away (stderr "Attempt 1 failed: ... Retrying after 5325ms...") is the same wait and
    # is covered on the real transcript in tests/unit/agents/test_gemini_adapter.py
    daemon = gemini_loopd()
    api.fail(gemini.unavailable(), times=1)
    started = time.monotonic()
    run = start_run(daemon, small)
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    print(f"gemini 503 retried by the CLI: {time.monotonic() - started:.1f} s")
    cli, ours = agent_retries(daemon, run["id"])
    assert ours == []
    assert [(p["attempt"], p["reason"]) for p in cli] == [
        (1, "503 UNAVAILABLE: The model is overloaded. Please try again later.")
    ]
