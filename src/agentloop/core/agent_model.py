"""Which model an agent step asks its CLI for.

``model`` defaults to ``opus``, a Claude name that no other CLI knows (codex answers it
"model 'opus' does not exist", gemini asks its API for ``models/opus``). So a Claude name
goes to claude only; codex, gemini and opencode get their own key (``codex_model``, ...)
when set, else ``model`` when it is not a Claude name (the user chose it for them), else
nothing: the CLI's own configured default. ``command`` and ``scripted`` get ``model`` as is.
"""

from __future__ import annotations

import re

from agentloop.core.config_keys import Config
from agentloop.core.types import AgentName

__all__ = ["agent_model", "is_claude_model"]

_CLAUDE = re.compile(r"(?:opus|sonnet|haiku)(?:[-\[.].*)?|claude(?:[-.].*)?|default|opusplan", re.I)


def is_claude_model(name: str) -> bool:
    """Whether ``name`` is one of Claude Code's model names or aliases."""
    return bool(_CLAUDE.fullmatch(name.strip()))


def agent_model(config: Config, agent: AgentName, *, review: bool = False) -> str:
    """The model for one step of ``agent``; empty: let the CLI use its own default."""
    chosen = config.review_model if review else config.model
    own = {
        AgentName.CODEX: config.codex_model,
        AgentName.GEMINI: config.gemini_model,
        AgentName.OPENCODE: config.opencode_model,
    }
    if agent not in own:
        return chosen
    specific = own[agent]
    if specific:
        return specific
    return "" if is_claude_model(chosen) else chosen
