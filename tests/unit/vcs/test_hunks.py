"""Hunk digests for circular_diff, from real git diffs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentloop.vcs.hunks import hunk_digests, parse_hunks


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(repo: Path, text: str) -> str:
    (repo / "f.txt").write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    return git(repo, "rev-parse", "HEAD")


def test_undoing_a_change_removes_the_hunk_it_added(tmp_path: Path):
    git(tmp_path, "init", "-q")
    base = commit(tmp_path, "one\ntwo\n")
    added = commit(tmp_path, "one\nextra line\ntwo\n")
    undone = commit(tmp_path, "one\ntwo\n")
    first = hunk_digests(tmp_path, base, added)
    second = hunk_digests(tmp_path, added, undone)
    assert first.added and not first.removed
    assert second.removed == first.added and not second.added


def test_blank_only_hunks_are_left_out():
    diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,0 +2 @@\n+\n"
    assert parse_hunks(diff).added == []


def test_a_bad_revision_gives_nothing(tmp_path: Path):
    git(tmp_path, "init", "-q")
    base = commit(tmp_path, "one\n")
    assert hunk_digests(tmp_path, base, "0" * 40).added == []
