"""``loopctl init``: write ``.loop/config`` with every key, its default and a comment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.render import emit
from agentloop.cli.workspace import find_workspace


@dataclass(frozen=True)
class InitResult:
    path: Path
    overwritten: bool

    def to_text(self) -> str:
        return f"{'overwrote' if self.overwritten else 'wrote'} {self.path}"

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "overwritten": self.overwritten}


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing .loop/config.")
def init(force: bool) -> None:
    """Write <workspace>/.loop/config listing every key with its default."""
    from agentloop.core.config import default_config_text
    from agentloop.core.errors import InvalidInput
    from agentloop.core.workspace import CONFIG_FILE

    path = find_workspace(Path.cwd()) / CONFIG_FILE
    existed = path.exists()
    if existed and not force:
        raise InvalidInput(f"{path} already exists; use --force to overwrite it", path=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_config_text(), encoding="utf-8")
    emit(InitResult(path=path, overwritten=existed), as_json=client_options().json_output)
