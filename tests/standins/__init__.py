"""Stand-in agent CLIs (claude, codex, gemini, opencode) for tests: executables that speak
the real protocols, shaped after (and replaying) the captured transcripts in ``fixtures/``.

Put them first on PATH with :func:`standin_env`; pick a scenario per call with
``--model standin:<name>`` (agent model), a ``STANDIN_SCENARIO=<name>`` marker in the prompt,
or ``STANDIN_SCENARIO`` in the environment. The default scenario, ``work``, does one plan
step like ``agent=scripted`` (tick a task, commit), so the engine can drive ``agent=claude``
end to end offline. Scenario lists are in each script's docstring.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

STANDINS_DIR = Path(__file__).resolve().parent
FIXTURES_DIR = STANDINS_DIR / "fixtures"

__all__ = ["FIXTURES_DIR", "STANDINS_DIR", "standin_env"]


def standin_env(
    base: Mapping[str, str] | None = None, scenario: str | None = None, **extra: str
) -> dict[str, str]:
    """An environment with the stand-ins first on PATH (then this interpreter's directory,
    so their ``python3`` can import agentloop), optionally a default scenario."""
    env = dict(os.environ if base is None else base)
    path = [str(STANDINS_DIR), str(Path(sys.executable).parent), env.get("PATH", os.defpath)]
    env["PATH"] = os.pathsep.join(path)
    if scenario is not None:
        env["STANDIN_SCENARIO"] = scenario
    env.update(extra)
    return env
