"""Agent adapters by name (the ``agent=`` config key): :func:`get_agent`, and which of them
resume a CLI session (:func:`resumes_sessions`)."""

from __future__ import annotations

from collections.abc import Mapping

from agentloop.agents.base import Agent
from agentloop.core.errors import ConfigError
from agentloop.core.types import AgentName

__all__ = ["get_agent", "resumes_sessions"]

# The CLIs that continue a session they are given (AgentRequest.resume_session, SPEC 18).
_RESUMING = frozenset({AgentName.CLAUDE, AgentName.CODEX, AgentName.GEMINI, AgentName.OPENCODE})


def resumes_sessions(name: str) -> bool:
    """Whether agent ``name``'s adapter can resume its CLI's session (the others start an
    interrupted step over)."""
    return name in _RESUMING


def get_agent(name: str, *, bin_overrides: Mapping[str, str] | None = None) -> Agent:
    """The adapter for ``name`` (an :class:`~agentloop.core.types.AgentName` value).

    ``bin_overrides`` maps an agent name to the binary to run instead of the default
    lookup (for ``command``: the command string). :class:`ConfigError` for an unknown name.
    """
    try:
        agent = AgentName(name)
    except ValueError:
        allowed = " | ".join(a.value for a in AgentName)
        raise ConfigError("agent", name, allowed) from None
    binary = (bin_overrides or {}).get(agent.value)
    match agent:
        case AgentName.CLAUDE:
            from agentloop.agents.claude import ClaudeAgent

            return ClaudeAgent(binary)
        case AgentName.CODEX:
            from agentloop.agents.codex import CodexAgent

            return CodexAgent(binary)
        case AgentName.GEMINI:
            from agentloop.agents.gemini import GeminiAgent

            return GeminiAgent(binary)
        case AgentName.OPENCODE:
            from agentloop.agents.opencode import OpencodeAgent

            return OpencodeAgent(binary)
        case AgentName.COMMAND:
            from agentloop.agents.command import CommandAgent

            return CommandAgent(binary)
        case AgentName.SCRIPTED:
            from agentloop.agents.scripted import ScriptedAgent

            return ScriptedAgent()
