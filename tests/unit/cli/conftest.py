import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with a spec and its default plan; the current directory."""
    root = tmp_path / "shop"
    (root / "specs" / "planning").mkdir(parents=True)
    (root / "specs" / "auth.md").write_text("# Auth\n")
    (root / "specs" / "planning" / "auth-plan.md").write_text(
        "# Plan\n- [x] Add user model\n- [ ] Add login form\n"
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("LOOP_CONFIG", raising=False)
    return root.resolve()
