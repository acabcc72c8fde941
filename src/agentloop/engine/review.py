"""Review workflow reads (SPEC 8): the run branch's diff against its base, and worktrees.

Both answers carry the reference's fields beside ours (SPEC 20): the diff its ``base_ref``,
``head_ref`` and ``stats``, each commit its ``message``, RFC 3339 ``timestamp`` (ours, epoch
seconds, is ``timestamp_s``), ``files`` and ``stats``, each file its ``status`` word (ours,
the letter, is ``status_letter``); each worktree its ``commit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentloop.core.clock import ms_to_rfc3339
from agentloop.core.errors import Conflict, InvalidInput, NotFound
from agentloop.core.models import Run
from agentloop.engine.runtime import Runtime
from agentloop.vcs.diff import FileDiff, branch_diff, commit_files
from agentloop.vcs.git import Git
from agentloop.vcs.worktree import list_worktrees as git_worktrees

STATUS_WORDS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed"}


def diff(run: Run) -> dict[str, Any]:
    info = run.worktree
    if not info.run_branch or not info.base_branch:
        raise Conflict("the run has no branch yet", run.status.value)
    root = Path(run.workspace_root)
    found = branch_diff(root, info.base_branch, info.run_branch)
    answer = found.to_json()
    answer["files"] = [_file_json(f) for f in found.files]
    answer["commits"] = [
        _commit_json(commit.to_json(), commit_files(root, commit.sha)) for commit in found.commits
    ]
    answer["base_ref"], answer["head_ref"] = found.base, found.branch
    answer["stats"] = _stats(found.files)
    return answer


def _file_json(item: FileDiff) -> dict[str, Any]:
    data = item.to_json()
    data["status_letter"] = item.status
    data["status"] = STATUS_WORDS.get(item.status, "modified")
    return data


def _commit_json(commit: dict[str, Any], files: list[FileDiff]) -> dict[str, Any]:
    seconds = int(commit["timestamp"])
    return {
        **commit,
        "message": commit["subject"],
        "timestamp": ms_to_rfc3339(seconds * 1000),
        "timestamp_s": seconds,
        "files": [_file_json(f) for f in files],
        "stats": _stats(files),
    }


def _stats(files: list[FileDiff]) -> dict[str, int]:
    return {
        "files_changed": len(files),
        "additions": sum(f.additions for f in files),
        "deletions": sum(f.deletions for f in files),
    }


def list_worktrees(runtime: Runtime, workspace: str | None = None) -> list[dict[str, Any]]:
    """Worktrees of every run's workspace (or of ``workspace`` only), each marked with the
    run that owns it."""
    runs, _ = runtime.store.list_runs(limit=1000)
    owners = {r.worktree.worktree_path: r for r in runs if r.worktree.worktree_path}
    if workspace is None:
        roots = sorted({r.workspace_root for r in runs})
    else:
        roots = [str(repository_root(workspace))]
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    for root in roots:
        if not Path(root).is_dir():
            continue
        for entry in git_worktrees(Path(root)):
            path = str(entry.path)
            if path in seen or entry.primary:
                continue
            seen.add(path)
            owner = owners.get(path)
            found.append(
                {
                    "path": path,
                    "branch": entry.branch,
                    "head": entry.head,
                    "commit": entry.head or "",
                    "workspace_root": root,
                    "run_id": owner.id if owner else None,
                    "run_status": owner.status.value if owner else None,
                }
            )
    return found


def repository_root(raw: str) -> Path:
    """The git repository ``raw`` (an absolute directory) is in: NotFound when there is no
    such directory (as the reference answers), InvalidInput when it is not in git."""
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidInput(f"workspace {raw!r} must be an absolute path")
    if not path.is_dir():
        raise NotFound(f"workspace not found: {raw}")
    toplevel = Git(path.resolve()).toplevel()
    if toplevel is None:
        raise InvalidInput(f"workspace {raw!r} is not inside a git repository")
    return toplevel.resolve()
