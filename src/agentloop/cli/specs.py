"""The workspace's specs for ``run --pick``: each with its title and the ``Status:`` and
``Last Updated:`` lines from its head, newest first.

Those lines are found in the usual spellings (``Status: draft``, ``**Status:** draft``,
``- Last Updated: 2025-01-31``). "Newest" is the date in ``Last Updated`` when it has one
(``YYYY-MM-DD``), else the file's modification time. Plans under ``plans_dir`` are not specs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
    """Markdown files under ``specs_dir`` (not under ``plans_dir``), newest first."""
    root = workspace / specs_dir
    plans = (workspace / plans_dir).resolve()
    if not root.is_dir():
        return []
    entries = [
        read_spec_head(path)
        for path in sorted(root.rglob("*.md"))
        if path.is_file() and not path.resolve().is_relative_to(plans)
    ]
    return sorted(entries, key=lambda e: (e.newest, str(e.path)), reverse=True)


def pick_listing(entries: Sequence[SpecEntry], workspace: Path) -> str:
    from agentloop.cli.views import columns

    rows = [
        [
            f"{number}.",
            _relative(entry.path, workspace),
            entry.status or "-",
            entry.last_updated or "-",
            entry.title,
        ]
        for number, entry in enumerate(entries, start=1)
    ]
    return columns(("#", "SPEC", "STATUS", "LAST UPDATED", "TITLE"), rows)


def _relative(path: Path, workspace: Path) -> str:
    try:
        return str(path.relative_to(workspace))
    except ValueError:
        return str(path)
