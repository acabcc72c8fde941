"""Worktree-escape detection (SPEC 6): did an agent step touch the user's primary checkout?

Before an agent step the engine takes :func:`snapshot_primary` of the workspace; after it,
:func:`changed_since` lists the tracked paths whose state changed, plus ``"HEAD"`` when the
checkout moved to another commit or branch. It is a signal, never fatal: the user may be
editing too. Both calls run every iteration, so a snapshot is one ``git status`` (tracked
files only, no optional locks, so the user's index is never rewritten) plus a read of HEAD
from files and an ``lstat`` of each already-changed path, which catches a second edit to
a file that was dirty before the step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentloop.vcs.git import Git
from agentloop.vcs.head import HeadState, read_head

# (status code, size, mtime_ns) of a changed tracked path; size/mtime None when absent.
Fingerprint = tuple[str, int | None, int | None]


@dataclass(frozen=True)
class PrimarySnapshot:
    """HEAD and the changed tracked paths of the primary checkout at one moment."""

    repo_root: Path
    head: HeadState
    changes: Mapping[str, Fingerprint] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "repo_root": str(self.repo_root),
            "head_ref": self.head.ref,
            "head_sha": self.head.sha,
            "changes": {path: list(fp) for path, fp in self.changes.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> PrimarySnapshot:
        raw = data.get("changes")
        changes: dict[str, Fingerprint] = {}
        if isinstance(raw, dict):
            for path, (xy, size, mtime) in raw.items():
                changes[str(path)] = (str(xy), size, mtime)
        ref, sha = data.get("head_ref"), data.get("head_sha")
        return cls(
            Path(str(data["repo_root"])),
            HeadState(str(ref) if ref else None, str(sha) if sha else None),
            changes,
        )


def snapshot_primary(repo_root: Path) -> PrimarySnapshot:
    """Record HEAD and the tracked changes of the checkout at ``repo_root``."""
    root = Path(repo_root)
    changes: dict[str, Fingerprint] = {}
    for change in Git(root).tracked_changes():
        for path in (change.path, change.old_path):
            if path is not None:
                changes[path] = _fingerprint(root, path, change.xy)
    return PrimarySnapshot(root, read_head(root), changes)


def changed_since(snapshot: PrimarySnapshot) -> list[str]:
    """Tracked paths whose state differs from ``snapshot``, sorted; ``"HEAD"`` first if moved."""
    now = snapshot_primary(snapshot.repo_root)
    moved = ["HEAD"] if now.head != snapshot.head else []
    paths = {
        path
        for path in snapshot.changes.keys() | now.changes.keys()
        if snapshot.changes.get(path) != now.changes.get(path)
    }
    return moved + sorted(paths)


def _fingerprint(root: Path, path: str, xy: str) -> Fingerprint:
    try:
        st = os.lstat(root / path)
    except OSError:
        return (xy, None, None)
    return (xy, st.st_size, st.st_mtime_ns)
