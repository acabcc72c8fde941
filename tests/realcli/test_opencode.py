"""opencode 1.18.33 (npm opencode-ai), the real binary, against the mock Chat Completions
API: a whole loop, the prompt and the model it is given, the directory it works in, its
coloured errors, and each failure mode the CLI reports, as the run must end up (SPEC 4)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.loopd import Loopd, git, make_workspace
from realcli import openai_chat as openai
from realcli.brain import COMPLETION_TOKEN
from realcli.e2e import (
    WITHOUT_POSTMORTEM,
    agent_retries,
    check_completed_run,
    run_to_completion,
)
from realcli.openai_chat import ChatProtocol, is_title_request, opencode_env
from realcli.server import Fault, MockServer, Recorded

# A second model of the mock provider, priced (USD per million tokens): what a user's
# opencode_model picks instead of the configured default, and what makes opencode report
# a cost.
PRICED = {"other-model": {"name": "Other model", "cost": {"input": 3.0, "output": 15.0}}}


@pytest.fixture
def chat() -> Iterator[MockServer]:
    server = MockServer(ChatProtocol())
    yield server
    server.close()


@pytest.fixture
def opencode_loopd(
    chat: MockServer, loopd_factory: Callable[..., Loopd], tmp_path: Path
) -> Callable[..., Loopd]:
    """A loopd whose opencode talks to the mock; ``env`` adds to (or replaces in) the
    environment."""

    def start(**env: str) -> Loopd:
        base = opencode_env(chat.url, tmp_path / "home", models=PRICED)
        return loopd_factory(env={**base, **env})

    return start


def start_run(daemon: Loopd, workspace: Path, **config: Any) -> dict[str, Any]:
    config = {"model": "opus", "run_naming_mode": "spec_slug", "reviewer": False, **config}
    return daemon.create_run(workspace, agent="opencode", **config)


def run_dir(workspace: Path, run: dict[str, Any]) -> Path:
    return workspace / "logs" / "loop" / f"run-{run['id']}"


def first_prompts(server: MockServer) -> list[str]:
    """The user message of each session's first model request, as the model read it."""
    prompts = []
    for request in server.model_requests():
        messages = request.body.get("messages", [])
        if not is_title_request(request.body) and not any(
            m.get("role") in ("assistant", "tool") for m in messages
        ):
            prompts.append(next(str(m["content"]) for m in messages if m["role"] == "user"))
    return prompts


def models_asked(server: MockServer) -> set[str]:
    return {r.body.get("model") for r in server.model_requests()}


def test_opencode_carries_a_reviewed_verified_merged_loop(
    opencode_loopd: Callable[..., Loopd], workspace: Path, chat: MockServer
) -> None:
    daemon = opencode_loopd()
    run, seconds = run_to_completion(daemon, workspace, "opencode", model="opus")
    print(f"opencode e2e: {seconds:.1f} s")
    # the mock model has no price: opencode says "cost": 0, which is no cost reported
    check_completed_run(daemon, workspace, run, cost=False)
    # the default model=opus is Claude's: opencode gets no -m and asks for its configured
    # default, mock/mock-model
    assert models_asked(chat) == {"mock-model"}
    # --title: no session asks the model for a title (a request no event would account for)
    assert not [r for r in chat.model_requests() if is_title_request(r.body)]
    # the prompt reached the model as loopd wrote it: no quotes around it, none escaped
    prompts = first_prompts(chat)
    snapshot = (run_dir(workspace, run) / "prompt.txt").read_text()
    implementation = [p for p in prompts if "You are REVIEWING" not in p]
    assert implementation and all(p == snapshot for p in implementation)
    reviews = [p for p in prompts if "You are REVIEWING" in p]
    assert reviews and all(p.startswith("@") and '\\"' not in p for p in reviews)


def test_the_worktree_not_the_daemons_pwd_is_where_opencode_works(
    opencode_loopd: Callable[..., Loopd],
    small: Path,
    chat: MockServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # opencode takes its directory from $PWD: a loopd started in one repository with PWD
    # naming another must still have every step work in its worktree, never in either
    started_in = make_workspace(tmp_path, tasks=1, name="started-in")
    decoy = make_workspace(tmp_path, tasks=1, name="decoy")
    before = {repo: git(repo, "rev-parse", "HEAD") for repo in (started_in, decoy)}
    monkeypatch.chdir(started_in)
    daemon = opencode_loopd(PWD=str(decoy))
    run = start_run(daemon, small, merge_target_branch="agent/demo")
    daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    for repo, head in before.items():
        assert git(repo, "rev-parse", "HEAD") == head, repo
        assert git(repo, "status", "--porcelain") == "", repo
        assert "- [ ] task number 1" in (repo / "specs/planning/demo-plan.md").read_text()
    # the worktree's commit (on the run's branch), merged into the target
    assert "Implement task number 1" in git(small, "log", "--all", "--format=%s")
    assert git(small, "show", "agent/demo:task-number-1.txt") == "task number 1"


def test_an_explicit_opencode_model_reaches_the_request_and_its_price_the_cost(
    opencode_loopd: Callable[..., Loopd], small: Path, chat: MockServer
) -> None:
    daemon = opencode_loopd()
    run = start_run(daemon, small, opencode_model="mock/other-model")
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert models_asked(chat) == {"other-model"}
    # the prompt reached the model as loopd wrote it (opencode quotes a positional message)
    assert first_prompts(chat) == [(run_dir(small, run) / "prompt.txt").read_text()]
    # priced: opencode reports what the tokens cost, and the run adds it up
    assert done["cost_usd"] and done["cost_usd"] > 0
    assert done["tokens_in"] > 0


def test_coloured_cli_errors_are_logged_and_streamed_as_plain_text(
    opencode_loopd: Callable[..., Loopd], small: Path, chat: MockServer
) -> None:
    # opencode prints its own errors in colour on stderr, even into a pipe:
    # "\x1b[91m\x1b[1mError: \x1b[0mConfiguration is invalid at OPENCODE_CONFIG_CONTENT"
    daemon = opencode_loopd(OPENCODE_CONFIG_CONTENT=json.dumps({"model": 5}))
    run = start_run(daemon, small, agent_retries=0)
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    log = (run_dir(small, run) / "iter-01.log").read_text()
    assert "Error: Configuration is invalid at OPENCODE_CONFIG_CONTENT" in log
    assert "\x1b" not in log
    live = [item["line"] for item in daemon.output(run["id"])]
    assert "Error: Configuration is invalid at OPENCODE_CONFIG_CONTENT" in live
    assert not [line for line in live if "\x1b" in line]
    assert "\x1b" not in done["reason"]
    assert chat.model_requests() == []


def test_an_invalid_api_key_fails_the_run_at_once_with_the_providers_message(
    opencode_loopd: Callable[..., Loopd], small: Path, chat: MockServer
) -> None:
    daemon = opencode_loopd()
    chat.fail(openai.invalid_api_key(), times=100)
    started = time.monotonic()
    run = start_run(
        daemon, small, **WITHOUT_POSTMORTEM, agent_retries=2, agent_retry_backoff_sec=0.01
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    print(f"opencode 401: {time.monotonic() - started:.1f} s")
    assert done["reason"] == openai.invalid_api_key().body["error"]["message"]
    assert done["iteration"] == 1
    assert agent_retries(daemon, run["id"])[1] == []  # permanent: never retried, retries or not
    assert len(chat.model_requests()) == 1  # nor by opencode


@pytest.mark.parametrize(
    ("fault", "times"),
    [
        (Fault(429, openai.rate_limited().body, {"retry-after-ms": "50"}), 2),
        (Fault(500, openai.server_error().body, {"retry-after-ms": "50"}), 1),
    ],
    ids=["429", "500"],
)
def test_a_failure_opencode_retries_away_completes(
    opencode_loopd: Callable[..., Loopd], small: Path, chat: MockServer, fault: Fault, times: int
) -> None:
    daemon = opencode_loopd()
    chat.fail(fault, times=times)
    started = time.monotonic()
    run = start_run(daemon, small)
    daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    print(f"opencode {fault.status} then success: {time.monotonic() - started:.1f} s")
    requests: list[Recorded] = chat.model_requests()
    assert [r.faulted for r in requests[: times + 1]] == [True] * times + [False]
    # the work's own request was the one retried (opencode asks no title: --title)
    assert not any(is_title_request(r.body) for r in requests)
    cli, ours = agent_retries(daemon, run["id"])
    assert ours == []  # opencode's own retries, not the loop's, shown as they happen
    assert [p["attempt"] for p in cli] == list(range(1, times + 1))
    assert all(p["reason"] == fault.body["error"]["message"] for p in cli)
    assert COMPLETION_TOKEN in (run_dir(small, run) / "iter-01.log").read_text()


def test_an_unknown_model_fails_the_run_at_once_naming_the_model(
    opencode_loopd: Callable[..., Loopd], small: Path, chat: MockServer
) -> None:
    # opencode's error event says only "UnknownError: Unexpected server error"; its log
    # (--print-logs --log-level ERROR) says which model it did not find
    daemon = opencode_loopd()
    run = start_run(daemon, small, opencode_model="nowhere/no-model", agent_retries=2)
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert (
        done["reason"] == "opencode: ProviderModelNotFoundError: Model not found: nowhere/no-model."
    )
    assert agent_retries(daemon, run["id"]) == ([], [])  # permanent: never retried
    assert chat.model_requests() == []
    log = (run_dir(small, run) / "iter-01.log").read_text()
    assert "Model not found: nowhere/no-model" in log
    assert "    at " not in log  # the message, not opencode's stack trace


def test_an_exhausted_quota_ends_opencode_at_once_as_permanent(
    opencode_loopd: Callable[..., Loopd], small: Path, chat: MockServer
) -> None:
    # opencode retries an insufficient_quota 429 on its own, for ever: the run must not wait
    # for the step's timeout
    daemon = opencode_loopd()
    chat.fail(openai.insufficient_quota(), times=100)
    started = time.monotonic()
    run = start_run(daemon, small, **WITHOUT_POSTMORTEM, agent_retries=2, agent_timeout_sec=120)
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    print(f"opencode insufficient_quota: {time.monotonic() - started:.1f} s")
    message = openai.insufficient_quota().body["error"]["message"]
    assert done["reason"] == f"opencode: {message}"
    assert agent_retries(daemon, run["id"]) == ([], [])
    assert len(chat.model_requests()) == 1
