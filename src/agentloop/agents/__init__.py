"""Agents: supervised subprocesses and the adapters that run agent CLIs through them.

The public face. ``process`` is the one helper that starts external processes (agents,
verify commands); ``base`` is the seam (request in, result out, output to a sink); the
adapters (claude, codex, gemini, opencode, command, scripted) sit behind :func:`get_agent`;
``retry`` is the engine's retry policy and ``usage`` reads usage-limit reset times.
"""

from agentloop.agents.base import (
    Agent,
    AgentRequest,
    AgentResult,
    AgentSink,
    Failure,
    FileSink,
    FunctionAgent,
    MemorySink,
    NullSink,
    RetryNotice,
)
from agentloop.agents.process import (
    TIMEOUT_EXIT_CODE,
    ProcessHandle,
    ProcessResult,
    kill_all,
    kill_owner,
    kill_stale_group,
    live_groups,
    process_start_time,
    run_command,
    run_process,
    watch_owner,
)
from agentloop.agents.registry import get_agent
from agentloop.agents.retry import RetryPolicy, run_with_retries
from agentloop.agents.usage import USAGE_LIMIT_WAIT_SEC, parse_reset_time, resume_time

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "USAGE_LIMIT_WAIT_SEC",
    "Agent",
    "AgentRequest",
    "AgentResult",
    "AgentSink",
    "Failure",
    "FileSink",
    "FunctionAgent",
    "MemorySink",
    "NullSink",
    "ProcessHandle",
    "ProcessResult",
    "RetryNotice",
    "RetryPolicy",
    "get_agent",
    "kill_all",
    "kill_owner",
    "kill_stale_group",
    "live_groups",
    "parse_reset_time",
    "process_start_time",
    "resume_time",
    "run_command",
    "run_process",
    "run_with_retries",
    "watch_owner",
]
