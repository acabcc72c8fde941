"""Cheap reads of HEAD that do not spawn git, for calls made every iteration.

A working tree's ``.git`` is a directory (primary checkout) or a file ``gitdir: <path>``
(linked worktree, whose ``commondir`` file points at the shared repository). HEAD is either
a commit id or ``ref: refs/heads/<name>``; the ref is a loose file in the common dir or a
line of ``packed-refs``. Anything unusual (reftable, a missing ref, a broken file) falls
back to ``git rev-parse``, so the answer is always git's.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path

from agentloop.vcs.git import Git

_HEX = frozenset(string.hexdigits.lower())
_MAX_SYMREF_DEPTH = 5

# packed-refs parsed per file, reused while the file's (mtime_ns, size) stays the same.
_packed_cache: dict[Path, tuple[int, int, dict[str, str]]] = {}


@dataclass(frozen=True)
class HeadState:
    """Where HEAD points: ``ref`` (None when detached) and ``sha`` (None when unborn)."""

    ref: str | None
    sha: str | None


def head_sha(worktree: Path | str) -> str | None:
    """The commit checked out in ``worktree``; None when its branch has no commit yet."""
    return read_head(worktree).sha


def read_head(worktree: Path | str) -> HeadState:
    """HEAD of ``worktree`` read from files, falling back to git when they don't say."""
    root = Path(worktree)
    state = _read_head_files(root)
    if state is not None:
        return state
    return _read_head_git(root)


def _read_head_files(root: Path) -> HeadState | None:
    try:
        git_dir = git_dir_of(root)
        if git_dir is None:
            return None
        common = common_dir_of(git_dir)
        content = (git_dir / "HEAD").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if _is_sha(content):
        return HeadState(None, content)
    if not content.startswith("ref: "):
        return None
    head_ref = content[5:].strip()
    ref = head_ref
    for _ in range(_MAX_SYMREF_DEPTH):
        value = _read_ref(git_dir, common, ref)
        if value is None:
            return None
        if _is_sha(value):
            return HeadState(head_ref, value)
        if not value.startswith("ref: "):
            return None
        ref = value[5:].strip()
    return None


def git_dir_of(root: Path) -> Path | None:
    """The git dir of the working tree at ``root`` (None when it has none)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        text = dot_git.read_text().strip()
        if text.startswith("gitdir: "):
            target = Path(text[8:].strip())
            return target if target.is_absolute() else (root / target)
    return None


def common_dir_of(git_dir: Path) -> Path:
    """The repository's shared dir of a (worktree's) git dir."""
    try:
        rel = (git_dir / "commondir").read_text().strip()
    except FileNotFoundError:
        return git_dir
    target = Path(rel)
    return target if target.is_absolute() else (git_dir / target)


def _read_ref(git_dir: Path, common: Path, ref: str) -> str | None:
    # Per-worktree refs (HEAD-like pseudo refs) live in the worktree's git dir, the rest
    # in the common dir; packed-refs is shared.
    base = common if ref.startswith("refs/") else git_dir
    try:
        return (base / ref).read_text().strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass
    return _packed_refs(common).get(ref)


def _packed_refs(common: Path) -> dict[str, str]:
    path = common / "packed-refs"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    cached = _packed_cache.get(path)
    if cached is not None and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
        return cached[2]
    refs: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith(("#", "^")):
                continue
            sha, _, name = line.rstrip("\n").partition(" ")
            if name and _is_sha(sha):
                refs[name] = sha
    _packed_cache[path] = (st.st_mtime_ns, st.st_size, refs)
    return refs


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and set(text) <= _HEX


def _read_head_git(root: Path) -> HeadState:
    git = Git(root)
    symbolic = git.run("symbolic-ref", "--quiet", "HEAD", check=False)
    ref = symbolic.stdout.strip() if symbolic.returncode == 0 else None
    result = git.run("rev-parse", "--verify", "--quiet", "HEAD", check=False)
    sha = result.stdout.strip() if result.returncode == 0 else None
    if result.returncode not in (0, 1):
        # Not a repository at all: let git's own message surface.
        git.run("rev-parse", "--git-dir")
    return HeadState(ref or None, sha or None)
