"""The workspace's specs for ``run --pick``: a numbered listing of what
:mod:`agentloop.core.specs` finds (title, status, last updated), newest first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentloop.core.specs import SpecEntry, find_specs, read_spec_head, workspace_relative

__all__ = ["SpecEntry", "find_specs", "pick_listing", "read_spec_head"]


def pick_listing(entries: Sequence[SpecEntry], workspace: Path) -> str:
    from agentloop.cli.views import columns

    rows = [
        [
            f"{number}.",
            workspace_relative(entry.path, workspace),
            entry.status or "-",
            entry.last_updated or "-",
            entry.title,
        ]
        for number, entry in enumerate(entries, start=1)
    ]
    return columns(("#", "SPEC", "STATUS", "LAST UPDATED", "TITLE"), rows)
