"""run_process / run_command with real children: streaming, decoding, stdin, exit codes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from agentloop.agents.process import (
    TIMEOUT_EXIT_CODE,
    ProcessHandle,
    live_groups,
    run_command,
    run_process,
)
from agentloop.core.errors import ProcessError

PY = sys.executable


def test_lines_arrive_while_the_child_still_runs() -> None:
    start = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    result = run_process(
        ["sh", "-c", "echo first; sleep 0.6; echo second"],
        on_line=lambda line: arrivals.append((time.monotonic() - start, line)),
    )
    assert [line for _, line in arrivals] == ["first", "second"]
    assert arrivals[0][0] < 0.4  # long before the child exits
    assert arrivals[1][0] >= 0.55
    assert result.exit_code == 0 and result.ok
    assert result.duration_ms >= 550


def test_partial_last_line_crlf_and_empty_lines() -> None:
    lines: list[str] = []
    result = run_process(["printf", "a\\r\\n\\nb\\nno newline"], on_line=lines.append)
    assert lines == ["a", "", "b", "no newline"]
    assert result.stdout_lines == 4
    assert result.tail == ("a", "", "b", "no newline")


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    lines: list[str] = []
    run_process(["printf", "\\377\\376ok \\303\\251\\n"], on_line=lines.append)
    assert lines == ["\ufffd\ufffdok é"]


def test_very_long_line_is_cut_on_character_boundaries() -> None:
    text = "é" * 5000 + "z" * 3  # 10003 bytes, no newline
    script = f"import sys; sys.stdout.write({text!r}); sys.stdout.flush()"
    pieces: list[str] = []
    run_process([PY, "-c", script], on_line=pieces.append, max_line_bytes=1001)
    assert len(pieces) > 5
    assert all("\ufffd" not in piece for piece in pieces)
    assert all(len(piece.encode()) <= 1001 for piece in pieces)
    assert "".join(pieces) == text


def test_large_prompt_on_stdin_while_the_child_writes_back() -> None:
    prompt = "".join(f"line {i} " + "x" * 90 + "\n" for i in range(20000))  # ~2 MB
    count = 0

    def seen(_line: str) -> None:
        nonlocal count
        count += 1

    result = run_process(["cat"], stdin_text=prompt, on_line=seen, timeout_sec=30)
    assert result.exit_code == 0
    assert count == 20000
    assert result.tail[-1].startswith("line 19999 ")


def test_child_that_ignores_its_stdin() -> None:
    result = run_process(["true"], stdin_text="y" * 1_000_000, timeout_sec=10)
    assert result.exit_code == 0


def test_stdin_is_dev_null_without_prompt() -> None:
    result = run_process(["cat"], timeout_sec=5)
    assert result.exit_code == 0 and result.stdout_lines == 0


def test_separate_stderr_goes_to_its_own_callback_and_tail() -> None:
    out: list[str] = []
    err: list[str] = []
    result = run_process(
        ["sh", "-c", "echo to-out; echo to-err >&2; echo more-err >&2"],
        on_line=out.append,
        on_stderr_line=err.append,
        merge_stderr=False,
    )
    assert out == ["to-out"]
    assert err == ["to-err", "more-err"]
    assert result.stderr_tail == ("to-err", "more-err")
    assert result.stderr_lines == 2


def test_merged_stderr_keeps_order() -> None:
    lines: list[str] = []
    run_process(["sh", "-c", "echo 1; echo 2 >&2; echo 3"], on_line=lines.append)
    assert lines == ["1", "2", "3"]


def test_env_is_exactly_the_given_one_and_cwd_is_used(tmp_path: Path) -> None:
    lines: list[str] = []
    env = {"PATH": os.environ["PATH"], "ONLY_THIS": "yes"}
    run_process(
        ["sh", "-c", 'pwd; echo "$ONLY_THIS"; echo "${HOME-unset}"'],
        cwd=tmp_path,
        env=env,
        on_line=lines.append,
    )
    assert lines == [str(tmp_path), "yes", "unset"]


@pytest.mark.parametrize(
    ("script", "code"),
    [("exit 3", 3), ("kill -TERM $$", 128 + 15), ("kill -KILL $$", 128 + 9), ("true", 0)],
)
def test_exit_codes_follow_the_shell_convention(script: str, code: int) -> None:
    assert run_process(["sh", "-c", script]).exit_code == code


def test_unstartable_binary_raises_process_error(tmp_path: Path) -> None:
    with pytest.raises(ProcessError, match="cannot start"):
        run_process([str(tmp_path / "no-such-binary")])
    with pytest.raises(ProcessError):
        run_process([])
    with pytest.raises(ProcessError):
        run_process(["true"], cwd=tmp_path / "missing-dir")


def test_on_start_gets_a_handle_registered_under_its_owner() -> None:
    handles: list[ProcessHandle] = []
    during: list[list[ProcessHandle]] = []

    def started(handle: ProcessHandle) -> None:
        handles.append(handle)
        during.append(live_groups("run-a"))

    result = run_process(["true"], owner="run-a", on_start=started)
    (handle,) = handles
    assert handle.pid == result.pid and handle.pgid == handle.pid
    assert abs(handle.start_time - time.time()) < 5
    assert handle.owner == "run-a" and handle.argv == ("true",)
    assert during == [[handle]]
    assert live_groups("run-a") == []


def test_on_start_failure_kills_the_child_and_propagates() -> None:
    def boom(_handle: ProcessHandle) -> None:
        raise RuntimeError("sink broke")

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="sink broke"):
        run_process(["sleep", "30"], on_start=boom)
    assert time.monotonic() - start < 3


def test_timeout_reports_124() -> None:
    start = time.monotonic()
    result = run_process(["sleep", "30"], timeout_sec=0.3)
    assert result.exit_code == TIMEOUT_EXIT_CODE == 124
    assert result.timed_out and not result.cancelled and not result.ok
    assert time.monotonic() - start < 3


def test_run_command_uses_the_shell_for_strings_and_keeps_a_tail() -> None:
    lines: list[str] = []
    result = run_command(
        "for i in $(seq 1 300); do echo $i; done; echo err >&2; exit 4",
        on_line=lines.append,
        tail_lines=200,
    )
    assert result.exit_code == 4
    assert len(lines) == 301 and lines[-1] == "err"
    assert len(result.tail) == 200 and result.tail[0] == "102"
    argv_result = run_command(["echo", "$HOME"])
    assert argv_result.tail == ("$HOME",)


def test_run_command_timeout_stdin_and_env(tmp_path: Path) -> None:
    result = run_command("sleep 20", timeout=0.2, cwd=tmp_path, env={"PATH": os.defpath})
    assert result.exit_code == 124 and result.timed_out
    assert run_command("cat", stdin="in\n", timeout=None).tail == ("in",)
