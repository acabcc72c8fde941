"""Where the pinned agent CLIs are installed, and the skip-or-fail rule when one is not.

Under ``CI=true`` a CLI that is not installed fails the test (it must never pass silently
as a skip); elsewhere the test is skipped with the command that installs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = ROOT / ".cache" / "agent-clis" / "node_modules" / ".bin"


def cli_binary(name: str) -> Path:
    """The installed CLI ``name`` (claude, codex, gemini, opencode)."""
    path = BIN_DIR / name
    if path.exists():
        return path
    message = f"{name} is not installed in {BIN_DIR}: run scripts/install-agent-clis.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
