import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from agentloop.cli.context import DEFAULT_ADDR, ClientOptions, client_options
from agentloop.cli.main import COMMANDS, main

LOOPCTL = Path(sys.executable).parent / "loopctl"


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    assert "--addr" in result.output and "--token" in result.output and "--json" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_global_options_reach_the_command(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[ClientOptions] = []

    @click.command()
    def probe() -> None:
        seen.append(client_options())

    main.add_command(probe)
    try:
        runner = CliRunner()
        assert (
            runner.invoke(main, ["probe"], env={"LOOPD_ADDR": None, "LOOPD_TOKEN": None}).exit_code
            == 0
        )
        assert (
            runner.invoke(
                main, ["--addr", "http://h:1", "--token", "t", "--json", "probe"]
            ).exit_code
            == 0
        )
        assert (
            runner.invoke(
                main, ["probe"], env={"LOOPD_ADDR": "http://env:2", "LOOPD_TOKEN": "envtok"}
            ).exit_code
            == 0
        )
    finally:
        main.commands.pop("probe")
    assert seen == [
        ClientOptions(addr=DEFAULT_ADDR, token=None, json_output=False),
        ClientOptions(addr="http://h:1", token="t", json_output=True),
        ClientOptions(addr="http://env:2", token="envtok", json_output=False),
    ]


def test_our_errors_exit_1_with_one_message_and_as_json_with_json() -> None:
    from agentloop.core.errors import NotFound

    @click.command()
    def failing() -> None:
        raise NotFound("run 'abc' not found")

    main.add_command(failing)
    try:
        text = CliRunner().invoke(main, ["failing"])
        as_json = CliRunner().invoke(main, ["--json", "failing"])
    finally:
        main.commands.pop("failing")
    assert text.exit_code == 1 and text.output == "error: run 'abc' not found\n"
    assert as_json.exit_code == 1
    assert json.loads(as_json.output) == {"version": 1, "ok": False, "error": "run 'abc' not found"}


def test_loopctl_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['loopctl', '--help']\n"
        "from agentloop.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('pydantic', 'httpx', 'rich', 'fastapi', 'sqlalchemy', 'dbos')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout


def test_console_script_runs() -> None:
    done = subprocess.run([LOOPCTL, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "loopctl" in done.stdout
