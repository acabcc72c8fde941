"""The claude adapter: the real fixtures parsed line by line, and end to end through the
stand-in CLI (real subprocess, real stream-json)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from agentloop.agents.base import AgentRequest, Failure, MemorySink
from agentloop.agents.claude import ClaudeAgent, ClaudeTranscript
from agentloop.agents.process import ProcessResult, kill_owner
from agentloop.core.errors import ProcessError

from .support import (
    FIXTURES_DIR,
    STANDINS_DIR,
    git,
    implementation_prompt,
    make_request,
    plan_of,
    wait_dead,
)

CLAUDE_FIXTURES = FIXTURES_DIR / "claude-2.1.197"
RESET = 1795003200.0


def replay(name: str, *, exit_code: int = 0, timed_out: bool = False) -> tuple:
    """Feed a fixture to a transcript as the process would; (result, sink)."""
    sink = MemorySink()
    transcript = ClaudeTranscript(sink)
    for line in (CLAUDE_FIXTURES / name).read_text(encoding="utf-8").splitlines():
        transcript.on_stdout(line)
    proc = ProcessResult(exit_code, timed_out, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p", timeout_sec=30)), sink


def feed(*events: dict | str, exit_code: int = 0) -> tuple:
    sink = MemorySink()
    transcript = ClaudeTranscript(sink)
    for event in events:
        transcript.on_stdout(event if isinstance(event, str) else json.dumps(event))
    proc = ProcessResult(exit_code, False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p")), sink


def run(scenario: str, env: dict[str, str], **kw: object) -> tuple:
    sink = MemorySink()
    request = AgentRequest(
        prompt=kw.pop("prompt", "say hi"),  # type: ignore[arg-type]
        model=f"standin:{scenario}",
        env=env,
        run_id=str(kw.pop("run_id", "run-claude")),
        **kw,  # type: ignore[arg-type]
    )
    return ClaudeAgent().run(request, sink), sink


# -- the real fixtures, line by line


def test_not_logged_in_fixture_is_permanent_with_the_agents_own_message() -> None:
    result, sink = replay("not-logged-in.stream.jsonl", exit_code=1)
    assert result.failure == Failure.PERMANENT == "permanent"
    assert result.message == "Not logged in · Please run /login"
    assert result.session_id == "076387cb-8657-42fb-b401-7e312ea65579"
    assert result.exit_code == 1 and result.is_error
    assert len(sink.events) == 3


def test_api_retry_fixture_reports_each_retry_and_relies_on_the_timeout() -> None:
    result, sink = replay("api-retry-offline.stream.jsonl", exit_code=124, timed_out=True)
    assert [(r.attempt, r.max_retries, r.reason) for r in sink.retries] == [
        (1, 10, "unknown"),
        (2, 10, "unknown"),
    ]
    assert sink.retries[0].delay_ms == pytest.approx(622.2868684260104)
    assert sink.lines == []  # retries are the sink's to show, not output lines
    assert result.failure == Failure.TIMEOUT and result.exit_code == 124


def test_usage_limit_fixture_pauses_until_the_protocols_reset_time() -> None:
    result, _sink = replay("usage-limit.reconstructed.stream.jsonl", exit_code=0)
    assert result.failure == Failure.USAGE_LIMIT
    assert result.resume_at == RESET
    assert result.message == "You've hit your session limit · resets 9am (Europe/Berlin)"
    assert result.exit_code == 0  # the process may exit 0 all the same
    assert result.tokens_in == 1200 + 5400 and result.tokens_out == 310
    assert result.cost_usd == pytest.approx(0.0412)


def test_spliced_line_is_resynchronised_and_nothing_is_dropped() -> None:
    _result, sink = replay("usage-limit.reconstructed.stream.jsonl")
    events = [json.loads(line) for line in sink.events]  # every raw line is clean JSON
    assert len(events) == 7  # 6 lines, one of them carrying two objects
    kinds = [event["type"] for event in events]
    assert kinds.count("rate_limit_event") == 2 and kinds.count("assistant") == 2
    spliced = next(e for e in events if e.get("uuid") == "f6")
    assert spliced["message"]["usage"] == {"input_tokens": 900, "output_tokens": 40}
    warning = next(e for e in events if e.get("uuid") == "g7")
    assert warning["rate_limit_info"]["status"] == "allowed_warning"
    assert "Reading the plan." in sink.lines


def test_text_quoted_from_a_tool_result_is_not_a_usage_limit() -> None:
    lines = (CLAUDE_FIXTURES / "usage-limit.reconstructed.stream.jsonl").read_text().splitlines()
    quoted = lines[1]
    assert "usage limit reached" in quoted
    result, _ = feed(
        lines[0],
        quoted,
        {"type": "result", "subtype": "success", "is_error": False, "result": "Done.",
         "num_turns": 2, "usage": {"input_tokens": 5, "output_tokens": 2}},
    )  # fmt: skip
    assert result.failure is None and result.final_text == "Done."


def test_allowed_warning_alone_is_not_a_limit() -> None:
    result, sink = feed(
        {"type": "rate_limit_event",
         "rate_limit_info": {"status": "allowed_warning", "resetsAt": 1795003200}},
        {"type": "result", "subtype": "success", "is_error": False, "result": "ok"},
    )  # fmt: skip
    assert result.failure is None
    assert "[rate limit] allowed_warning (?)" in sink.lines


def test_legacy_usage_limit_line() -> None:
    result, sink = replay("usage-limit-legacy.reconstructed.txt", exit_code=0)
    assert result.failure == Failure.USAGE_LIMIT and result.resume_at == RESET
    assert sink.lines == ["Claude AI usage limit reached|1795003200"]
    assert sink.events == []


def test_legacy_text_as_the_result_itself() -> None:
    result, _ = feed({"type": "result", "is_error": False,
                      "result": "Claude AI usage limit reached|1795003200"})  # fmt: skip
    assert result.failure == Failure.USAGE_LIMIT and result.resume_at == RESET


def test_assistant_rate_limit_error_without_event_parses_the_text() -> None:
    text = "You've hit your limit · resets 9am (UTC)"
    result, _ = feed(
        {"type": "assistant", "error": "rate_limit",
         "message": {"id": "m", "content": [{"type": "text", "text": text}]}},
        {"type": "result", "is_error": True, "api_error_status": 429, "result": text},
    )  # fmt: skip
    assert result.failure == Failure.USAGE_LIMIT
    assert result.resume_at is not None and time.gmtime(result.resume_at).tm_hour == 9


def test_an_api_key_orgs_429_the_cli_gave_up_on_is_a_throttle_not_a_usage_limit() -> None:
    # "error": "rate_limit" and api_error_status 429, but no rate_limit_event and no limit
    # wording: retried with backoff, never a hold of every claude run (SPEC 4)
    result, _sink = replay("rate-limit-429-gave-up.stream.jsonl", exit_code=1)
    assert result.failure == Failure.TRANSIENT
    assert result.message.startswith(
        "API Error: Request rejected (429) · This request would exceed the rate limit for your "
        "organization"
    )
    assert result.resume_at is None


def test_a_subscriptions_throttle_is_not_a_usage_limit() -> None:
    # the real CLI's "rejected" rate_limit_event names no limit, and its words say "not your
    # usage limit" (which contains "usage limit")
    result, sink = replay("throttle-subscription.stream.jsonl", exit_code=1)
    assert result.failure == Failure.TRANSIENT
    assert result.message == (
        "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited"
    )
    assert "[rate limit] rejected (?)" in sink.lines


def test_a_subscriptions_usage_limit_pauses_until_the_events_reset() -> None:
    result, sink = replay("usage-limit-subscription.stream.jsonl", exit_code=1)
    assert result.failure == Failure.USAGE_LIMIT
    assert result.resume_at == 1796367063.0  # resetsAt, not the minute of "resets 6:51am"
    assert result.message == "You've hit your session limit · resets 6:51am (UTC)"
    assert "[rate limit] rejected (five_hour)" in sink.lines


def test_limit_wording_without_an_event_reads_the_reset_from_the_text() -> None:
    lines = (CLAUDE_FIXTURES / "usage-limit-subscription.stream.jsonl").read_text().splitlines()
    without_event = [line for line in lines if '"rate_limit_event"' not in line]
    now = time.time()
    result, _ = feed(*without_event, exit_code=1)
    assert result.failure == Failure.USAGE_LIMIT
    assert result.resume_at is not None and now < result.resume_at <= now + 86400
    reset = time.gmtime(result.resume_at)
    assert (reset.tm_hour, reset.tm_min) == (6, 51)


def test_a_throttle_without_a_result_is_transient() -> None:
    lines = (CLAUDE_FIXTURES / "rate-limit-429-gave-up.stream.jsonl").read_text().splitlines()
    result, _ = feed(*[line for line in lines if '"type":"result"' not in line], exit_code=1)
    assert result.failure == Failure.TRANSIENT
    assert result.message.startswith("API Error: Request rejected (429)")


def test_limit_wording_a_tool_returned_is_not_a_usage_limit() -> None:
    quoted = "You've hit your session limit · resets 6:51am (UTC)"
    result, _ = feed(
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": quoted}]}},
        {"type": "assistant", "message": {"id": "m", "content": [
            {"type": "text", "text": quoted}]}},
        {"type": "result", "is_error": False, "result": quoted, "num_turns": 2},
    )  # fmt: skip
    assert result.failure is None and result.final_text == quoted


def test_the_401_fixture_is_permanent_with_the_clis_words() -> None:
    result, _ = replay("auth-invalid-key-401.stream.jsonl", exit_code=1)
    assert result.failure == Failure.PERMANENT
    assert result.message == "Invalid API key · Fix external API key"


def test_the_clis_own_retries_then_success_keep_the_results_usage_and_cost() -> None:
    result, sink = replay("api-retry-429-then-success.stream.jsonl")
    assert result.failure is None
    assert [(r.attempt, r.max_retries, r.reason) for r in sink.retries] == [
        (1, 10, "429 rate_limit"),
        (2, 10, "429 rate_limit"),
    ]
    assert sink.retries[0].delay_ms == 1000.0  # the retry-after
    final = json.loads(
        (CLAUDE_FIXTURES / "api-retry-429-then-success.stream.jsonl").read_text().splitlines()[-1]
    )
    usage = final["usage"]
    assert result.tokens_in == (
        usage["input_tokens"]
        + usage["cache_creation_input_tokens"]
        + usage["cache_read_input_tokens"]
    )
    assert result.tokens_out == usage["output_tokens"] > 0
    assert result.cost_usd == pytest.approx(final["total_cost_usd"]) and result.cost_usd > 0
    assert result.turns == final["num_turns"]


def test_result_429_with_limit_wording_is_a_usage_limit() -> None:
    result, _ = feed(
        {
            "type": "result",
            "is_error": True,
            "api_error_status": 429,
            "result": "Claude usage limit reached. Your limit will reset at 5pm.",
        }
    )
    assert result.failure == Failure.USAGE_LIMIT


@pytest.mark.parametrize(
    ("status", "text", "failure"),
    [
        (529, 'API Error: 529 {"type":"overloaded_error"}', Failure.TRANSIENT),
        (500, "API Error: 500 Internal server error", Failure.TRANSIENT),
        (429, "API Error: 429 rate_limit_error: tokens per minute", Failure.TRANSIENT),
        (
            429,
            "API Error: Server is temporarily limiting requests (not your usage limit) · x",
            Failure.TRANSIENT,
        ),
        (429, "You've hit your weekly limit · resets Jul 5, 9am (UTC)", Failure.USAGE_LIMIT),
        (None, "API Error: Connection error.", Failure.TRANSIENT),
        (None, "request failed: ECONNRESET", Failure.TRANSIENT),
        (401, "Invalid API key · Please run /login", Failure.PERMANENT),
        (404, 'API Error: 404 {"type":"not_found_error","message":"model: x"}', Failure.PERMANENT),
        (None, "There's an issue with the selected model (foo).", Failure.PERMANENT),
        (None, "Reached max turns (3)", Failure.CRASH),
    ],
)
def test_result_errors_are_classified(status: int | None, text: str, failure: Failure) -> None:
    result, _ = feed(
        {
            "type": "result",
            "is_error": True,
            "api_error_status": status,
            "subtype": "error_during_execution",
            "result": text,
        },
        exit_code=1,
    )
    assert result.failure == failure
    assert result.message == text


def test_stream_event_deltas_are_output_once() -> None:
    def delta(text: str) -> dict:
        return {"type": "stream_event", "event": {"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": text}}}  # fmt: skip

    result, sink = feed(
        {"type": "stream_event", "event": {"type": "content_block_start", "index": 0,
         "content_block": {"type": "text", "text": ""}}},
        delta("Hel"), delta("lo\nWor"), delta("ld"),
        {"type": "stream_event", "event": {"type": "content_block_stop", "index": 0}},
        {"type": "assistant", "message": {"id": "m1", "content": [
            {"type": "text", "text": "Hello\nWorld"},
            {"type": "tool_use", "name": "Bash", "input": {"command": "ls  -la"}}]}},
        {"type": "assistant", "message": {"id": "m2", "content": [
            {"type": "text", "text": "Not streamed."}]}},
        {"type": "result", "is_error": False, "result": "Not streamed.", "num_turns": 2},
    )  # fmt: skip
    assert sink.lines == ["Hello", "World", "[tool] Bash ls -la", "Not streamed."]
    assert result.turns == 2 and result.output_lines == 4


def test_without_a_result_usage_comes_from_the_messages() -> None:
    usage = {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 3}
    result, _ = feed(
        {"type": "assistant", "message": {"id": "a", "usage": usage,
                                          "content": [{"type": "text", "text": "one"}]}},
        {"type": "assistant", "message": {"id": "a", "usage": usage,
                                          "content": [{"type": "text", "text": "two"}]}},
        {"type": "assistant", "message": {"id": "b", "usage": usage, "content": []}},
        exit_code=1,
    )  # fmt: skip
    assert result.failure == Failure.CRASH
    assert (result.tokens_in, result.tokens_out) == (30, 6)
    assert result.final_text == "two"


def test_garbage_lines_never_break_parsing() -> None:
    result, sink = feed(
        "{not json", "[1, 2]", '{"type": 5}', '{"type": "assistant", "message": null}',
        '{"type": "result", "is_error": false, "result": "fine", "usage": "odd"}',
    )  # fmt: skip
    assert result.failure is None and result.final_text == "fine"
    assert sink.lines[:2] == ["{not json", "[1, 2]"]


# -- end to end through the stand-in


def test_success_end_to_end(standins: dict[str, str]) -> None:
    result, sink = run("success", standins)
    assert result.failure is None and result.exit_code == 0 and not result.is_error
    assert result.final_text == "Hello from the claude stand-in."
    assert result.session_id == "5f0c2a7e-1b2d-4c3e-9f4a-6b7c8d9e0f12"
    assert (result.tokens_in, result.tokens_out) == (200, 40)
    assert result.cost_usd == pytest.approx(0.0123) and result.turns == 1
    assert sink.lines == ["Hello from the claude stand-in."] and result.output_lines == 1
    assert len(sink.events) == 3 and result.agent == "claude"
    ((pid, pgid, start),) = sink.processes
    assert pid == pgid and abs(start - time.time()) < 10


def test_argv_and_prompt_on_stdin(standins: dict[str, str], tmp_path: Path) -> None:
    argv_file = tmp_path / "argv.json"
    env = {**standins, "STANDIN_ARGV_FILE": str(argv_file)}
    prompt = "line one\nSTANDIN_SCENARIO=echo\nline three"
    sink = MemorySink()
    result = ClaudeAgent().run(
        AgentRequest(prompt=prompt, model="opus", cwd=tmp_path, env=env, run_id="r"), sink
    )
    assert result.final_text == prompt
    seen = json.loads(argv_file.read_text())
    assert seen["argv"][1:] == ["-p", "--output-format", "stream-json", "--verbose",
                                "--model", "opus", "--dangerously-skip-permissions"]  # fmt: skip
    assert seen["cwd"] == str(tmp_path) and seen["prompt"] == prompt
    ClaudeAgent().run(
        AgentRequest(prompt=prompt, env=env, extra={"permission_mode": "acceptEdits"}), sink
    )
    argv = json.loads(argv_file.read_text())["argv"]
    assert argv[-2:] == ["--permission-mode", "acceptEdits"] and "--model" not in argv


def test_binary_from_extra_env_var_or_constructor(standins: dict[str, str]) -> None:
    binary = str(STANDINS_DIR / "claude")
    env = {**standins, "PATH": "/usr/bin:/bin", "STANDIN_SCENARIO": "success"}
    request = AgentRequest(prompt="hi", env=env, extra={"bin": binary})
    assert ClaudeAgent().run(request, MemorySink()).failure is None
    env_var = AgentRequest(prompt="hi", env={**env, "AGENTLOOP_CLAUDE_BIN": binary})
    assert ClaudeAgent().run(env_var, MemorySink()).failure is None
    assert ClaudeAgent(binary).run(AgentRequest(prompt="hi", env=env), MemorySink()).ok
    with pytest.raises(ProcessError, match="cannot start 'claude'"):
        ClaudeAgent().run(AgentRequest(prompt="hi", env=env), MemorySink())


def test_not_logged_in_end_to_end(standins: dict[str, str]) -> None:
    result, _ = run("not_logged_in", standins)
    assert result.failure == Failure.PERMANENT and result.exit_code == 1
    assert result.message == "Not logged in · Please run /login"


def test_usage_limit_end_to_end(standins: dict[str, str]) -> None:
    result, sink = run("usage_limit", standins)
    assert result.failure == Failure.USAGE_LIMIT and result.resume_at == RESET
    assert result.exit_code == 0 and len(sink.events) == 7


def test_subscription_limit_end_to_end(standins: dict[str, str]) -> None:
    result, _ = run("subscription_limit", standins)
    assert result.failure == Failure.USAGE_LIMIT and result.resume_at == 1796367063.0
    assert result.exit_code == 1


def test_legacy_limit_end_to_end(standins: dict[str, str]) -> None:
    result, _ = run("legacy_limit", standins)
    assert result.failure == Failure.USAGE_LIMIT and result.resume_at == RESET


@pytest.mark.parametrize(
    ("scenario", "failure"),
    [
        ("overloaded", Failure.TRANSIENT),
        ("throttle", Failure.TRANSIENT),
        ("subscription_throttle", Failure.TRANSIENT),
        ("is_error", Failure.CRASH),
        ("crash", Failure.CRASH),
        ("root_refusal", Failure.PERMANENT),
    ],
)
def test_failures_end_to_end(scenario: str, failure: Failure, standins: dict[str, str]) -> None:
    result, sink = run(scenario, standins)
    assert result.failure == failure and result.exit_code == 1
    if scenario == "overloaded":
        assert sink.retries[0].reason == "529 overloaded_error"
    if scenario == "crash":
        assert "something broke" in result.message and result.final_text == "Working on it..."
    if scenario == "root_refusal":
        assert "root/sudo" in result.message


def test_non_json_lines_and_streamed_text(standins: dict[str, str]) -> None:
    result, sink = run("non_json", standins)
    assert sink.lines == [
        "plain text before the answer",
        "Hello from the claude stand-in.",
        "another plain line",
    ]
    assert result.final_text == "Hello from the claude stand-in."
    result, sink = run("stream", standins)
    assert sink.lines == ["Hello from the claude stand-in.", "Second line of the answer."]


def test_api_retry_then_success(standins: dict[str, str]) -> None:
    result, sink = run("api_retry", standins)
    assert result.failure is None
    assert [r.attempt for r in sink.retries] == [1, 2, 3]


def test_timeout_kills_the_agent(standins: dict[str, str]) -> None:
    start = time.monotonic()
    result, sink = run("api_retry_hang", standins, timeout_sec=1.0)
    assert result.failure == Failure.TIMEOUT and result.exit_code == 124
    assert time.monotonic() - start < 5
    assert len(sink.retries) == 2
    assert wait_dead([sink.processes[0][0]])


def test_streamed_lines_arrive_before_exit(standins: dict[str, str]) -> None:
    arrivals: list[float] = []

    class Timed(MemorySink):
        def output(self, line: str) -> None:
            arrivals.append(time.monotonic())
            super().output(line)

    env = {**standins, "STANDIN_LINES": "3", "STANDIN_DELAY": "0.3"}
    start = time.monotonic()
    result = ClaudeAgent().run(AgentRequest(prompt="STANDIN_SCENARIO=slow", env=env), Timed())
    end = time.monotonic()
    assert result.final_text == "line 3" and len(arrivals) == 3
    assert arrivals[0] - start < end - start - 0.5  # the first line came well before exit


def test_kill_owner_leaves_no_orphans(standins: dict[str, str]) -> None:
    sink = MemorySink()
    results = []
    request = AgentRequest(prompt="x", model="standin:grandchild", env=standins, run_id="run-g")
    thread = threading.Thread(target=lambda: results.append(ClaudeAgent().run(request, sink)))
    thread.start()
    deadline = time.monotonic() + 10
    while not any(line.startswith("grandchild ") for line in sink.lines):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grandchild = int(sink.lines[0].split()[1])
    assert kill_owner("run-g") == 1
    thread.join(5)
    assert not thread.is_alive()
    assert results[0].failure == Failure.CANCELLED
    assert wait_dead([grandchild, sink.processes[0][0]])


def test_work_scenario_does_a_plan_step(standins: dict[str, str], repo: Path) -> None:
    request = make_request(repo, implementation_prompt(repo), standins, model="standin:work")
    result = ClaudeAgent().run(request, MemorySink())
    assert result.failure is None, result.message
    assert result.final_text == "Completed Write the greeting module. 2 tasks remain."
    assert "- [x] Write the greeting module" in plan_of(repo).read_text()
    assert git(repo, "log", "-1", "--format=%s").strip() == "Write the greeting module"
