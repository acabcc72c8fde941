"""The environment of every process a run starts (agents, verify and measure commands):
the daemon's own, minus agentloop's secrets, plus the run's ``LOOP_*`` facts (SPEC 4)."""

from __future__ import annotations

import os

__all__ = ["SECRET_ENV", "child_env"]

SECRET_ENV = frozenset({"LOOPD_AUTH_TOKEN", "LOOPD_TOKEN"})


def child_env(**loop: str) -> dict[str, str]:
    """The daemon's environment without secrets, with ``loop`` (e.g. ``LOOP_RUN_ID``) set."""
    env = {key: value for key, value in os.environ.items() if key not in SECRET_ENV}
    env.update(loop)
    return env
