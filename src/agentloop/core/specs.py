"""A workspace's specs (SPEC 1, 18): the markdown files under ``specs_dir``, each with its
title, the ``Status:`` and ``Last Updated:`` lines from its head, and its default plan.

``loopctl run --pick`` numbers them; the dashboard's "New run" form lists them through
``GET /workspaces/specs``. Those lines are found in the usual spellings (``Status: draft``,
``**Status:** draft``, ``- Last Updated: 2025-01-31``). "Newest" is the date in ``Last
Updated`` when it has one (``YYYY-MM-DD``), else the file's modification time. Plans under
``plans_dir`` are not specs. A file that resolves outside the workspace (a symlink) is not
listed, and a ``specs_dir`` or ``plans_dir`` leading out of it is refused (SPEC 17).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agentloop.core.errors import InvalidInput, PathEscapeError
from agentloop.core.workspace import ensure_within, resolve_plan_path

__all__ = [
    "SpecChoice",
    "SpecEntry",
    "find_specs",
    "read_spec_head",
    "spec_choices",
    "workspace_relative",
]

HEAD_LINES = 40
_FIELD = re.compile(
    r"^[\s>*_\-]*(?P<key>status|last[ _-]?updated)[\s*_]*:[\s*_]*(?P<value>.*?)[\s*_]*$",
    re.IGNORECASE,
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class SpecEntry:
    path: Path
    title: str
    status: str | None
    last_updated: str | None
    newest: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "title": self.title,
            "status": self.status,
            "last_updated": self.last_updated,
        }


@dataclass(frozen=True)
class SpecChoice:
    """A spec a run can be started on, with the plan it would get by default."""

    spec: SpecEntry
    plan_path: Path
    plan_exists: bool


def read_spec_head(path: Path) -> SpecEntry:
    title, status, updated = path.stem, None, None
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = [line for _, line in zip(range(HEAD_LINES), handle, strict=False)]
    except OSError:
        head = []
    for line in head:
        text = line.strip()
        if text.startswith("# ") and title == path.stem:
            title = text[2:].strip() or title
        match = _FIELD.match(text)
        if match:
            key = match["key"].lower()
            if key == "status" and status is None:
                status = match["value"] or None
            elif key != "status" and updated is None:
                updated = match["value"] or None
    return SpecEntry(path, title, status, updated, _newest(path, updated))


def _newest(path: Path, updated: str | None) -> datetime:
    found = _DATE.search(updated or "")
    if found:
        try:
            year, month, day = (int(part) for part in found.groups())
            return datetime(year, month, day, tzinfo=UTC)
        except ValueError:
            pass
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.min.replace(tzinfo=UTC)


def find_specs(workspace: Path, specs_dir: str, plans_dir: str) -> list[SpecEntry]:
    """Markdown files under ``specs_dir`` (not under ``plans_dir``, none resolving outside
    the workspace), newest first."""
    root = workspace / specs_dir
    plans = (workspace / plans_dir).resolve()
    inside = workspace.resolve()
    if not root.is_dir():
        return []
    entries = [
        read_spec_head(path)
        for path in sorted(root.rglob("*.md"))
        if path.is_file()
        and path.resolve().is_relative_to(inside)
        and not path.resolve().is_relative_to(plans)
    ]
    return sorted(entries, key=lambda e: (e.newest, str(e.path)), reverse=True)


def spec_choices(workspace: Path, specs_dir: str, plans_dir: str) -> list[SpecChoice]:
    """The workspace's specs, newest first, each with its default plan
    (``<plans_dir>/<spec-stem>-plan.md``). :class:`InvalidInput` when ``specs_dir`` or
    ``plans_dir`` leads outside the workspace."""
    for key, value in (("specs_dir", specs_dir), ("plans_dir", plans_dir)):
        try:
            ensure_within(value, workspace)
        except PathEscapeError as exc:
            raise InvalidInput(
                f"{key} {value!r} is outside the workspace {str(workspace)!r}", key=key
            ) from exc
    choices = []
    for entry in find_specs(workspace, specs_dir, plans_dir):
        plan = resolve_plan_path(entry.path, plans_dir, workspace)
        choices.append(SpecChoice(entry, plan, plan.is_file()))
    return choices


def workspace_relative(path: Path, workspace: Path) -> str:
    """``path`` relative to the workspace (as runs and the listings show it), else as is."""
    try:
        return path.relative_to(workspace).as_posix()
    except ValueError:
        return str(path)
