"""The scripted agent's per-run counters ("the first N calls of the run"): a small JSON
file in the worktree's git dir (never committed), keyed by run id."""

from __future__ import annotations

import json
from pathlib import Path

from agentloop.agents.base import AgentRequest

__all__ = ["Counters", "git_dir"]


class Counters:
    """Counts of "the first N calls of the run", kept in the git dir, loaded on first use."""

    def __init__(self, request: AgentRequest) -> None:
        self.request = request
        self._path: Path | None = None
        self._data: dict[str, int] | None = None

    def next(self, key: str) -> int:
        """How many times ``key`` was counted before; counts this one."""
        data = self._load()
        count = data.get(key, 0)
        data[key] = count + 1
        assert self._path is not None
        self._path.write_text(json.dumps(data), encoding="utf-8")
        return count

    def take(self, key: str, limit: int) -> bool:
        """True (and counted) while ``key`` has been taken fewer than ``limit`` times."""
        if limit <= 0:
            return False
        data = self._load()
        if data.get(key, 0) >= limit:
            return False
        data[key] = data.get(key, 0) + 1
        assert self._path is not None
        self._path.write_text(json.dumps(data), encoding="utf-8")
        return True

    def _load(self) -> dict[str, int]:
        if self._data is None:
            self._path = git_dir(self.request.cwd) / (
                f"agentloop-scripted-{self.request.run_id or 'run'}.json"
            )
            try:
                self._data = json.loads(self._path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._data = {}
        return self._data


def git_dir(cwd: Path) -> Path:
    """The git dir of the worktree at ``cwd`` (a worktree's ``.git`` is a file naming it),
    found without running git; ``cwd`` itself when it is not in git."""
    for directory in (cwd, *cwd.parents):
        dot_git = directory / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            line = dot_git.read_text(encoding="utf-8").strip()
            if line.startswith("gitdir:"):
                target = Path(line.removeprefix("gitdir:").strip())
                return target if target.is_absolute() else directory / target
    return cwd
