"""``loopctl completion bash|zsh|fish``: print the shell's completion script.

Install: ``eval "$(loopctl completion bash)"`` in ~/.bashrc (zsh: ~/.zshrc), or
``loopctl completion fish > ~/.config/fish/completions/loopctl.fish``. Commands, options
and run ids/names (asked of loopd, 1 s at most) complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.render import emit

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(loopctl completion bash)"  # in ~/.bashrc',
    "zsh": 'eval "$(loopctl completion zsh)"  # in ~/.zshrc',
    "fish": "loopctl completion fish > ~/.config/fish/completions/loopctl.fish",
}


@dataclass(frozen=True)
class CompletionScript:
    shell: str
    script: str

    def to_text(self) -> str:
        return self.script.rstrip("\n")

    def to_json(self) -> dict[str, Any]:
        return {"shell": self.shell, "script": self.script, "install": INSTALL[self.shell]}


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script of SHELL (bash, zsh or fish)."""
    emit(completion_script(shell), as_json=client_options().json_output)


def completion_script(shell: str) -> CompletionScript:
    from click.shell_completion import get_completion_class

    from agentloop.cli.main import main

    cls = get_completion_class(shell)
    assert cls is not None, shell
    source = cls(main, {}, "loopctl", "_LOOPCTL_COMPLETE").source()
    return CompletionScript(shell, source)
