"""Store tests run on SQLite and on the real PostgreSQL (fixtures in tests/dbfixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from dbfixtures import *  # noqa: E402, F403
