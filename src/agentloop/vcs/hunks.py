"""Digests of the hunks one change added and removed, for the watchdog's ``circular_diff``
signal (SPEC 6): an iteration that removes exactly the lines an earlier one added (or adds
back what an earlier one removed) goes in circles.

A hunk's digest covers its file and its added (or removed) lines, whitespace at line ends
ignored; hunks of only blank lines are left out, they say nothing about intent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from agentloop.vcs.git import Git

__all__ = ["HunkDigests", "hunk_digests", "parse_hunks"]


@dataclass(frozen=True)
class HunkDigests:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def hunk_digests(worktree: Path, before: str, after: str) -> HunkDigests:
    """The digests of ``git diff before after`` in ``worktree`` (empty when git cannot say)."""
    result = Git(worktree).run(
        "diff", "-U0", "--no-color", "--no-ext-diff", before, after, check=False
    )
    if result.returncode != 0:
        return HunkDigests()
    return parse_hunks(result.stdout)


def parse_hunks(diff: str) -> HunkDigests:
    """Digests of a ``-U0`` unified diff's hunks."""
    digests = HunkDigests()
    path = ""
    added: list[str] = []
    removed: list[str] = []

    def flush() -> None:
        for lines, into in ((added, digests.added), (removed, digests.removed)):
            if any(line.strip() for line in lines):
                into.append(_digest(path, lines))
            lines.clear()

    for line in diff.splitlines():
        if line.startswith("diff --git "):
            flush()
            path = ""
        elif line.startswith("+++ ") or line.startswith("--- "):
            name = line[4:]
            if name != "/dev/null":
                path = name[2:] if name[:2] in ("a/", "b/") else name
        elif line.startswith("@@"):
            flush()
        elif line.startswith("+"):
            added.append(line[1:].rstrip())
        elif line.startswith("-"):
            removed.append(line[1:].rstrip())
    flush()
    return digests


def _digest(path: str, lines: list[str]) -> str:
    text = path + "\0" + "\n".join(lines)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
