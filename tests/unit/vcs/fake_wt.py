"""A stand-in for worktrunk's ``wt``, for tests: worktrunk is not installed here.

It implements only the subset agentloop calls, by delegating to git, with the documented
flags: ``wt [-C DIR] switch [--create] [--base B] [--no-cd] [--yes] BRANCH`` (the worktree
goes to ``$WORKTRUNK_WORKTREE_PATH``, as worktrunk's env override of its ``worktree-path``
template), ``wt [-C DIR] remove BRANCH [--foreground] [--force] [--force-delete |
--no-delete-branch] [--yes]`` and ``wt [-C DIR] step copy-ignored`` (copies ignored files
from the primary worktree). Each call is appended to ``$FAKE_WT_LOG`` as one JSON line with
argv and the WORKTRUNK_* variables. ``FAKE_WT_MISPLACE=1`` puts the worktree next to the
requested path (to test our check); ``FAKE_WT_FAIL=<subcommand>`` makes it fail after
doing its work half-way (to test rollback).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(result.returncode)
    return result.stdout


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_WT_LOG")
    if log:
        env = {k: v for k, v in os.environ.items() if k.startswith("WORKTRUNK_")}
        with open(log, "a") as fh:
            fh.write(json.dumps({"argv": argv, "env": env}) + "\n")
    cwd = Path.cwd()
    if argv[:1] == ["-C"]:
        cwd, argv = Path(argv[1]), argv[2:]
    command, rest = argv[0], argv[1:]
    flags = {a for a in rest if a.startswith("-")}
    if command == "switch":
        return switch(cwd, rest, flags)
    if command == "remove":
        return remove(cwd, rest, flags)
    if command == "step" and rest[:1] == ["copy-ignored"]:
        return copy_ignored(cwd)
    sys.stderr.write(f"fake wt: unsupported command {argv}\n")
    return 2


def positional(rest: list[str], with_value: set[str]) -> list[str]:
    out, skip = [], False
    for arg in rest:
        if skip:
            skip = False
        elif arg in with_value:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def switch(cwd: Path, rest: list[str], flags: set[str]) -> int:
    (branch,) = positional(rest, {"--base", "-b"})
    path = os.environ["WORKTRUNK_WORKTREE_PATH"]
    if os.environ.get("FAKE_WT_MISPLACE"):
        path += ".elsewhere"
    if "--create" in flags or "-c" in flags:
        base = rest[rest.index("--base") + 1] if "--base" in rest else "main"
        git(cwd, "worktree", "add", "-q", "-b", branch, path, base)
    else:
        git(cwd, "worktree", "add", "-q", path, branch)
    if os.environ.get("FAKE_WT_FAIL") == "switch":
        sys.stderr.write("fake wt: post-start hook failed\n")
        return 1
    return 0


def remove(cwd: Path, rest: list[str], flags: set[str]) -> int:
    (branch,) = positional(rest, set())
    listing = git(cwd, "worktree", "list", "--porcelain")
    path = None
    for block in listing.split("\n\n"):
        lines = block.splitlines()
        if f"branch refs/heads/{branch}" in lines:
            path = lines[0][len("worktree ") :]
    if path is None:
        sys.stderr.write(f"fake wt: no worktree found for branch {branch}\n")
        return 1
    git(cwd, "worktree", "remove", *(["--force"] if "--force" in flags else []), path)
    if "--force-delete" in flags or "-D" in flags:
        git(cwd, "branch", "-D", branch)
    return 0


def copy_ignored(cwd: Path) -> int:
    primary = Path(git(cwd, "worktree", "list", "--porcelain").splitlines()[0][len("worktree ") :])
    ignored = git(primary, "ls-files", "--others", "--ignored", "--exclude-standard", "-z")
    for name in filter(None, ignored.split("\0")):
        target = cwd / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(primary / name, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
