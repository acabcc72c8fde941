"""Resuming a CLI's own session (SPEC 18), per adapter: the command line that resumes, the
session id read from the CLI's first event (reported to the sink at once), and a resume the
CLI could not carry out told apart from every other failure.

The failing outputs are the real CLIs' own (claude 2.1.197, codex 0.171.0, opencode
1.18.33, gemini 0.61.0, each asked to resume an unknown session; tests/realcli/test_resume.py
runs them for real)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from agentloop.agents._cli import Transcript
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink, Failure, MemorySink
from agentloop.agents.claude import ClaudeTranscript, claude_command
from agentloop.agents.codex import CodexTranscript, codex_command
from agentloop.agents.gemini import GeminiTranscript, gemini_command
from agentloop.agents.opencode import OpencodeTranscript, opencode_command
from agentloop.agents.process import ProcessResult
from agentloop.agents.registry import resumes_sessions
from agentloop.core.types import AgentName

from .support import FIXTURES_DIR

SESSION = "0b6a3c0e-1111-4222-8333-444455556666"
RESUMING = AgentRequest(prompt="You were interrupted", model="m", resume_session=SESSION)
FRESH = AgentRequest(prompt="do it", model="m")


def test_claude_resumes_with_dash_dash_resume() -> None:
    argv = claude_command("claude", RESUMING)
    assert argv[:2] == ["claude", "-p"] and argv[argv.index("--resume") + 1] == SESSION
    assert "--resume" not in claude_command("claude", FRESH)


def test_codex_resumes_after_its_exec_options() -> None:
    assert codex_command("codex", RESUMING) == [
        "codex", "exec", "--json", "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox", "-m", "m", "resume", SESSION, "-",
    ]  # fmt: skip
    assert "resume" not in codex_command("codex", FRESH)


def test_opencode_continues_with_dash_dash_session() -> None:
    argv = opencode_command("opencode", RESUMING)
    assert argv[argv.index("--session") + 1] == SESSION
    assert "--session" not in opencode_command("opencode", FRESH)


def test_gemini_resumes_with_dash_dash_resume_and_the_prompt() -> None:
    argv = gemini_command("gemini", RESUMING)
    assert argv[argv.index("--resume") + 1] == SESSION
    assert argv[argv.index("-p") + 1] == "You were interrupted"
    assert "--resume" not in gemini_command("gemini", FRESH)


def test_which_adapters_resume() -> None:
    resuming = {agent for agent in AgentName if resumes_sessions(agent.value)}
    assert resuming == {AgentName.CLAUDE, AgentName.CODEX, AgentName.GEMINI, AgentName.OPENCODE}


NewTranscript = Callable[[AgentSink], Transcript]


@pytest.mark.parametrize(
    ("new", "fixture", "session"),
    [
        (
            ClaudeTranscript,
            "claude-2.1.197/success-tool-use.stream.jsonl",
            "d72f6fe6-a440-4087-868e-642f1854e81d",
        ),
        (CodexTranscript, "codex-0.171.0/success-tool-use.jsonl", None),
        (GeminiTranscript, "gemini-0.61.0/success-tool-use.jsonl", None),
        (OpencodeTranscript, "opencode-1.18.33/success-tool-use.jsonl", None),
    ],
    ids=["claude", "codex", "gemini", "opencode"],
)
def test_the_session_id_is_reported_once_as_soon_as_the_cli_opens_it(
    new: NewTranscript, fixture: str, session: str | None
) -> None:
    lines = (FIXTURES_DIR / fixture).read_text(encoding="utf-8").splitlines()
    sink = MemorySink()
    transcript = new(sink)
    transcript.on_stdout(lines[0])
    assert transcript.session_opened and len(sink.sessions) == 1
    for line in lines[1:]:
        transcript.on_stdout(line)
    assert sink.sessions == [transcript.session_id]
    assert session is None or sink.sessions == [session]
    result = transcript.result(_exited(0), RESUMING)
    assert result.failure is None and result.session_id == sink.sessions[0]


CLAUDE_UNKNOWN = {
    "type": "result", "subtype": "error_during_execution", "duration_ms": 0, "is_error": True,
    "num_turns": 0, "session_id": SESSION, "total_cost_usd": 0,
    "usage": {"input_tokens": 0, "output_tokens": 0},
    "errors": [f"No conversation found with session ID: {SESSION}"],
}  # fmt: skip
# (transcript, stdout lines, stderr lines, exit status, the words the failure must carry)
UNKNOWN_SESSION = {
    "claude": (
        ClaudeTranscript,
        [json.dumps(CLAUDE_UNKNOWN)],
        [f"No conversation found with session ID: {SESSION}"],
        1,
        f"No conversation found with session ID: {SESSION}",
    ),
    "codex": (
        CodexTranscript,
        [],
        [
            "WARNING: proceeding, even though we could not create PATH aliases: Refusing to "
            'create helper binaries under temporary dir "/tmp/session-tests"',
            f"Error: thread/resume: thread/resume failed: no rollout found for thread id "
            f"{SESSION} (code -32600)",
            "",
            "Stack backtrace:",
            "   0: <unknown>",
        ],
        1,
        f"no rollout found for thread id {SESSION}",
    ),
    "opencode": (
        OpencodeTranscript,
        [],
        ["\x1b[91m\x1b[1mError: \x1b[0mSession not found"],
        1,
        "Error: Session not found",
    ),
    "gemini": (
        GeminiTranscript,
        [],
        [
            "YOLO mode is enabled. All tool calls will be automatically approved.",
            f'Error resuming session: Invalid session identifier "{SESSION}".',
            "  Searched for sessions in /home/u/.gemini/tmp/wd/chats.",
            "  Use --list-sessions to see available sessions, then use --resume {number}, "
            "--resume {uuid}, or --resume latest.",
        ],
        42,  # which, not resuming, is the CLI's permanent "input" error
        f'Invalid session identifier "{SESSION}"',
    ),
}


@pytest.mark.parametrize("agent", sorted(UNKNOWN_SESSION))
def test_an_unknown_session_is_a_resume_failure_with_the_clis_words(agent: str) -> None:
    new, stdout, stderr, exit_code, words = UNKNOWN_SESSION[agent]
    resumed = _replay(new, stdout, stderr, exit_code, RESUMING)
    assert resumed.failure is Failure.RESUME_FAILED
    assert words in resumed.message
    # The same output from a run that resumed nothing is no resume failure.
    fresh = _replay(new, stdout, stderr, exit_code, FRESH)
    assert fresh.failure not in (None, Failure.RESUME_FAILED)


def test_a_resumed_run_that_fails_later_fails_as_itself() -> None:
    """Once the CLI opened the session, a failure is the run's own (here: a crash)."""
    init = {"type": "system", "subtype": "init", "session_id": SESSION}
    result = _replay(ClaudeTranscript, [json.dumps(init)], ["boom"], 1, RESUMING)
    assert result.failure is Failure.CRASH and result.session_id == SESSION


def test_a_cancelled_resume_is_cancelled() -> None:
    proc = ProcessResult(143, False, True, 5, 1, 0, 0, ())
    result = ClaudeTranscript(MemorySink()).result(proc, RESUMING)
    assert result.failure is Failure.CANCELLED


def _exited(code: int) -> ProcessResult:
    return ProcessResult(code, False, False, 5, 1, 0, 0, ())


def _replay(
    new: NewTranscript, stdout: list[str], stderr: list[str], exit_code: int, req: AgentRequest
) -> AgentResult:
    transcript = new(MemorySink())
    for line in stdout:
        transcript.on_stdout(line)
    for line in stderr:
        transcript.on_stderr(line)
    proc = _exited(exit_code)
    transcript.finish(proc)
    return transcript.result(proc, req)
