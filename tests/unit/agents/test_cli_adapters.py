"""codex, gemini, opencode and command adapters through their stand-ins (real processes)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentloop.agents.base import AgentRequest, Failure, MemorySink
from agentloop.agents.codex import CodexAgent
from agentloop.agents.command import CommandAgent
from agentloop.agents.gemini import GeminiAgent
from agentloop.agents.opencode import OpencodeAgent

from .support import FIXTURES_DIR, git, implementation_prompt, make_request, plan_of, wait_dead


def request(scenario: str, env: dict[str, str], **kw: object) -> AgentRequest:
    return AgentRequest(
        prompt=str(kw.pop("prompt", "say hi")),
        model=f"standin:{scenario}",
        env=env,
        run_id="run-cli",
        **kw,  # type: ignore[arg-type]
    )


# -- codex


def test_codex_offline_fixture_retries_then_times_out(standins: dict[str, str]) -> None:
    sink = MemorySink()
    start = time.monotonic()
    result = CodexAgent().run(request("offline", standins, timeout_sec=1.0), sink)
    assert result.failure == Failure.TIMEOUT and result.exit_code == 124
    assert time.monotonic() - start < 5
    assert result.session_id == "01a20ae1-60f2-7772-9991-56c07206167b"
    assert [(r.attempt, r.max_retries) for r in sink.retries] == [
        (2, 5), (3, 5), (4, 5), (5, 5), (5, None), (6, None),
    ]  # fmt: skip
    fixture = (FIXTURES_DIR / "codex-0.169.0" / "offline.exec.jsonl").read_text().splitlines()
    assert sink.events == fixture
    assert any(line.startswith("[error] Falling back from WebSockets") for line in sink.lines)
    assert wait_dead([sink.processes[0][0]])


def test_codex_success(standins: dict[str, str], tmp_path: Path) -> None:
    argv_file = tmp_path / "argv.json"
    env = {**standins, "STANDIN_ARGV_FILE": str(argv_file)}
    sink = MemorySink()
    result = CodexAgent().run(request("success", env), sink)
    assert result.failure is None and result.final_text == "Hello from the codex stand-in."
    assert (result.tokens_in, result.tokens_out, result.turns) == (2400, 80, 1)
    assert sink.lines[0] == "$ bash -lc ls"
    seen = json.loads(argv_file.read_text())
    assert seen["argv"][1:] == [
        "exec", "--json", "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox", "-m", "standin:success", "-",
    ]  # fmt: skip
    assert seen["prompt"] == "say hi"  # on stdin
    CodexAgent().run(request("success", env, extra={"sandbox": "workspace-write"}), sink)
    assert "--sandbox" in json.loads(argv_file.read_text())["argv"]


def test_codex_usage_limit_with_reset_time(standins: dict[str, str]) -> None:
    before = time.time()
    result = CodexAgent().run(request("usage_limit", standins), MemorySink())
    assert result.failure == Failure.USAGE_LIMIT
    assert result.message.startswith("You've hit your usage limit.")
    assert result.resume_at is not None
    assert before + 7980 - 5 <= result.resume_at <= time.time() + 7980 + 5


@pytest.mark.parametrize(
    ("scenario", "failure"),
    [("throttle", Failure.TRANSIENT), ("not_logged_in", Failure.PERMANENT)],
)
def test_codex_turn_failures(scenario: str, failure: Failure, standins: dict[str, str]) -> None:
    result = CodexAgent().run(request(scenario, standins), MemorySink())
    assert result.failure == failure and result.exit_code == 1


def test_codex_work(standins: dict[str, str], repo: Path) -> None:
    req = make_request(repo, implementation_prompt(repo), standins, model="standin:work")
    result = CodexAgent().run(req, MemorySink())
    assert result.final_text == "Completed Write the greeting module. 2 tasks remain."
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "2"


# -- gemini


def test_gemini_without_credentials_is_permanent(standins: dict[str, str]) -> None:
    result = GeminiAgent().run(request("no_auth", standins), MemorySink())
    expected = (FIXTURES_DIR / "gemini-0.61.0" / "no-auth.stderr.txt").read_text().strip()
    assert result.failure == Failure.PERMANENT and result.exit_code == 41
    assert result.message == expected


def test_gemini_success_answer_is_the_text_after_the_last_tool(
    standins: dict[str, str], tmp_path: Path
) -> None:
    argv_file = tmp_path / "argv.json"
    sink = MemorySink()
    env = {**standins, "STANDIN_ARGV_FILE": str(argv_file)}
    result = GeminiAgent().run(request("success", env, prompt="the prompt"), sink)
    assert result.failure is None
    assert result.final_text == "Hello from the gemini stand-in."
    assert sink.lines == [
        "Let me look at the files.",
        "[tool] list_directory",
        "Hello from the gemini stand-in.",
    ]
    assert (result.tokens_in, result.tokens_out, result.session_id) == (1200, 300, "gem-7d1c")
    argv = json.loads(argv_file.read_text())["argv"]
    assert argv[1:] == ["-p", "the prompt", "--output-format", "stream-json",
                        "-m", "standin:success", "--yolo", "--skip-trust"]  # fmt: skip


def test_gemini_resource_exhausted_is_a_usage_limit(standins: dict[str, str]) -> None:
    before = time.time()
    result = GeminiAgent().run(request("quota", standins), MemorySink())
    assert result.failure == Failure.USAGE_LIMIT
    assert "RESOURCE_EXHAUSTED" in result.message
    assert result.resume_at is not None and before + 40 < result.resume_at < time.time() + 50


def test_gemini_work(standins: dict[str, str], repo: Path) -> None:
    req = make_request(repo, implementation_prompt(repo), standins, model="standin:work")
    result = GeminiAgent().run(req, MemorySink())
    assert result.final_text == "Completed Write the greeting module. 2 tasks remain."


# -- opencode


def test_opencode_success_sums_steps(standins: dict[str, str], tmp_path: Path) -> None:
    argv_file = tmp_path / "argv.json"
    env = {**standins, "STANDIN_ARGV_FILE": str(argv_file)}
    sink = MemorySink()
    result = OpencodeAgent().run(request("success", env, prompt="do it"), sink)
    assert result.failure is None
    assert result.final_text == "Hello from the opencode stand-in."
    assert (result.tokens_in, result.tokens_out, result.turns) == (2000, 140, 2)
    assert result.cost_usd == pytest.approx(0.004)
    assert result.session_id == "ses_44f9562d4ffe"
    seen = json.loads(argv_file.read_text())
    assert seen["argv"][1:] == [
        "run", "--format", "json", "--title", "agentloop run-cli implementation 1",
        "--print-logs", "--log-level", "ERROR", "-m", "standin:success",
    ]  # fmt: skip
    assert seen["prompt"] == "do it"  # on stdin


def test_opencode_without_credentials_only_stops_at_the_timeout(standins: dict[str, str]) -> None:
    result = OpencodeAgent().run(request("no_auth", standins, timeout_sec=0.5), MemorySink())
    assert result.failure == Failure.TIMEOUT and result.exit_code == 124


def test_opencode_api_error_is_transient(standins: dict[str, str]) -> None:
    result = OpencodeAgent().run(request("error", standins), MemorySink())
    assert result.failure == Failure.TRANSIENT and result.message == "Overloaded"


def test_opencode_work(standins: dict[str, str], repo: Path) -> None:
    req = make_request(repo, implementation_prompt(repo), standins, model="standin:work")
    result = OpencodeAgent().run(req, MemorySink())
    assert result.final_text == "Completed Write the greeting module. 2 tasks remain."
    assert "- [x] Write the greeting module" in plan_of(repo).read_text()


# -- command


def test_command_agent_prompt_on_stdin_stdout_is_the_answer(tmp_path: Path) -> None:
    sink = MemorySink()
    req = AgentRequest(
        prompt="first\nsecond\n",
        cwd=tmp_path,
        extra={"agent_cmd": "cat; echo note >&2; echo last; pwd"},
    )
    result = CommandAgent().run(req, sink)
    assert result.failure is None and result.exit_code == 0
    assert result.final_text == f"first\nsecond\nlast\n{tmp_path}"
    assert sorted(sink.lines) == sorted(["first", "second", "note", "last", str(tmp_path)])
    assert result.output_lines == 5 and result.agent == "command"


def test_command_agent_nonzero_exit_is_a_crash(tmp_path: Path) -> None:
    req = AgentRequest(prompt="x", cwd=tmp_path, extra={"agent_cmd": "echo oops >&2; exit 3"})
    result = CommandAgent().run(req, MemorySink())
    assert result.failure == Failure.CRASH and result.exit_code == 3
    assert "oops" in result.message


def test_command_agent_does_not_guess_failures_from_text(tmp_path: Path) -> None:
    cmd = "echo 'Claude AI usage limit reached|1795003200'; echo 'Not logged in'"
    result = CommandAgent().run(AgentRequest(prompt="", extra={"agent_cmd": cmd}), MemorySink())
    assert result.failure is None


def test_command_agent_without_command_is_permanent() -> None:
    result = CommandAgent().run(AgentRequest(prompt="x"), MemorySink())
    assert result.failure == Failure.PERMANENT and "agent_cmd" in result.message


def test_command_agent_timeout() -> None:
    req = AgentRequest(prompt="x", timeout_sec=0.3, extra={"agent_cmd": "sleep 30"})
    result = CommandAgent().run(req, MemorySink())
    assert result.failure == Failure.TIMEOUT and result.exit_code == 124
