"""Which workspace the caller is in: the git toplevel of the working directory, else the
directory itself (SPEC 1)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentloop.core.workspace import workspace_root


def find_workspace(cwd: Path) -> Path:
    # The one subprocess of the CLI so far; it moves to agentloop.vcs.git once the CLI may
    # import it without slowing `loopctl --help`.
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return workspace_root(None, cwd)
    toplevel = done.stdout.strip() if done.returncode == 0 else None
    return workspace_root(toplevel, cwd)
