"""The completion token and how an agent's answer is classified against it (SPEC 3)."""

from __future__ import annotations

from enum import StrEnum

from agentloop.core.types import CompletionMode

COMPLETION_TOKEN = "<promise>COMPLETE</promise>"


class Completion(StrEnum):
    """What an agent's output says about completion."""

    COMPLETE = "complete"
    """The token is where ``completion_mode`` wants it."""
    MALFORMED = "malformed"
    """The token is there, but elsewhere: the ``malformed_complete`` watchdog signal."""
    ABSENT = "absent"
    """No token at all."""


def completion_status(output: str, mode: CompletionMode) -> Completion:
    """Classify ``output``.

    ``trailing``: complete when the last non-empty line, trimmed, is the token.
    ``exact``: complete when the whole output, trimmed, is the token.
    Any other occurrence of the token is malformed.
    """
    if mode is CompletionMode.EXACT:
        complete = output.strip() == COMPLETION_TOKEN
    else:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        complete = bool(lines) and lines[-1] == COMPLETION_TOKEN
    if complete:
        return Completion.COMPLETE
    return Completion.MALFORMED if COMPLETION_TOKEN in output else Completion.ABSENT
