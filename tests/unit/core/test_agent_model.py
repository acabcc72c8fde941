"""Which model each agent's steps ask for (a Claude name goes to claude only)."""

from __future__ import annotations

import pytest

from agentloop.core.agent_model import agent_model, is_claude_model
from agentloop.core.config import Config
from agentloop.core.types import AgentName


@pytest.mark.parametrize(
    "name", ["opus", "sonnet", "haiku", "claude-opus-4-8", "claude-haiku-4-5-20251001", "opus[1m]"]
)
def test_claude_names(name: str):
    assert is_claude_model(name)


@pytest.mark.parametrize("name", ["gpt-5.5", "gemini-2.5-flash", "mock/mock-model", "o3"])
def test_other_names(name: str):
    assert not is_claude_model(name)


def test_default_model_goes_to_claude_only():
    config = Config()
    assert agent_model(config, AgentName.CLAUDE) == "opus"
    for agent in (AgentName.CODEX, AgentName.GEMINI, AgentName.OPENCODE):
        assert agent_model(config, agent) == ""  # the CLI's own default


def test_agent_keys_win():
    config = Config(codex_model="gpt-5.5", gemini_model="gemini-2.5-flash", opencode_model="p/m")
    assert agent_model(config, AgentName.CODEX) == "gpt-5.5"
    assert agent_model(config, AgentName.GEMINI, review=True) == "gemini-2.5-flash"
    assert agent_model(config, AgentName.OPENCODE) == "p/m"
    assert agent_model(config, AgentName.CLAUDE) == "opus"


def test_a_model_chosen_for_another_cli_passes():
    config = Config(model="gpt-5.5", review_model="o3")
    assert agent_model(config, AgentName.CODEX) == "gpt-5.5"
    assert agent_model(config, AgentName.CODEX, review=True) == "o3"


def test_command_and_scripted_get_model_as_is():
    config = Config(model="delay=0.5")
    assert agent_model(config, AgentName.SCRIPTED) == "delay=0.5"
    assert agent_model(config, AgentName.COMMAND) == "delay=0.5"
