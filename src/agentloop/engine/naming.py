"""Run names (SPEC 9): a short label from the agent CLI's small model, else the spec slug."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from agentloop.core.config import Config
from agentloop.core.names import sanitize_run_name, spec_slug
from agentloop.core.types import NameSource, NamingMode

NAMING_TIMEOUT_SEC = 10.0
_log = logging.getLogger("agentloop.engine")

_PROMPT = (
    "Give a short, lowercase, hyphenated label (two to four words, ASCII only) for a coding "
    "task described by this spec. Answer with the label only.\n\n{spec}"
)


def choose_name(config: Config, spec_path: Path, scratch: Path) -> tuple[str, NameSource]:
    """``scratch`` is where the naming call runs: never the user's checkout, since an agent
    CLI asked for a label could still edit files where it stands."""
    fallback = spec_slug(spec_path)
    if config.run_naming_mode is not NamingMode.HAIKU or config.agent.value != "claude":
        return fallback, NameSource.SPEC_SLUG
    binary = os.environ.get("AGENTLOOP_CLAUDE_BIN") or "claude"
    if shutil.which(binary) is None:
        return fallback, NameSource.SPEC_SLUG
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        label = _ask(binary, config.run_naming_model, spec_path, scratch)
        return sanitize_run_name(label), NameSource.HAIKU
    except Exception as exc:
        _log.info("run naming fell back to the spec slug: %s", exc)
        return fallback, NameSource.SPEC_SLUG


def _ask(binary: str, model: str, spec_path: Path, cwd: Path) -> str:
    from agentloop.agents.process import run_command

    spec = spec_path.read_text(encoding="utf-8", errors="replace")[:4000]
    lines: list[str] = []
    result = run_command(
        [binary, "-p", "--model", model, "--output-format", "text"],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k not in {"LOOPD_AUTH_TOKEN"}},
        timeout=NAMING_TIMEOUT_SEC,
        on_line=lines.append,
        stdin=_PROMPT.format(spec=spec),
    )
    text = next((line.strip() for line in lines if line.strip()), "")
    if result.exit_code != 0 or not text:
        raise RuntimeError(f"naming model answered exit {result.exit_code}")
    return text.strip("`\"' ")[:64]
