"""Artifact tests; the indexing ones use the store fixtures of tests/dbfixtures.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from dbfixtures import *  # noqa: E402, F403


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Artifact indexing is backend-neutral: SQLite only (the store tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'loopd.db'}"
