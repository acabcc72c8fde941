"""What a client asks for when it starts a run, as admission takes it (SPEC 2.1).

The HTTP body (``api.schemas.CreateRun``) and the MCP tool ``start_run`` convert into this;
the engine never sees a request model of the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentloop.core.types import NameSource

__all__ = ["RunRequest"]


@dataclass(frozen=True)
class RunRequest:
    """A request to start a run, not yet checked.

    ``extra_fields`` are the request's unknown top-level fields: admission accepts those that
    are config keys (or their aliases) and refuses the rest. ``overrides`` are config values
    given for this run (``config_override`` and the top-level config fields); they win over
    ``extra_fields``.
    """

    workspace_root: str
    spec_path: str
    plan_path: str | None = None
    config_path: str | None = None
    name: str | None = None
    name_source: NameSource | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    extra_fields: Mapping[str, Any] = field(default_factory=dict)
