import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from agentloop.cli.main import main
from agentloop.core.config import KEYS, Config, load_config

LOOPCTL = Path(sys.executable).parent / "loopctl"


def test_init_writes_every_key_at_the_workspace_root(repo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (repo / "specs").mkdir(exist_ok=True)
    monkeypatch.chdir(repo / "specs")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    path = repo / ".loop" / "config"
    assert result.output == f"wrote {path}\n"
    text = path.read_text()
    for key in KEYS:
        assert f"# {key}=" in text
    loaded = load_config(repo, environ={})
    assert loaded.config == Config() and not loaded.explicit_keys


def test_init_refuses_to_overwrite_without_force(repo: Path) -> None:
    path = repo / ".loop" / "config"
    path.parent.mkdir()
    path.write_text("model=mine\n")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 1
    assert "already exists" in result.output and "--force" in result.output
    assert path.read_text() == "model=mine\n"
    forced = CliRunner().invoke(main, ["--json", "init", "--force"])
    assert forced.exit_code == 0
    assert json.loads(forced.output) == {
        "version": 1,
        "ok": True,
        "data": {"path": str(path), "overwritten": True},
    }
    assert "# model=opus" in path.read_text()


def test_init_outside_git_uses_the_current_directory(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    done = subprocess.run(
        [LOOPCTL, "init"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".loop" / "config").is_file()
    again = subprocess.run([LOOPCTL, "init"], capture_output=True, text=True, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_reports_an_unwritable_workspace(repo: Path) -> None:
    (repo / ".loop").write_text("a file where the directory should be")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
