"""The one exception hierarchy of agentloop.

Every error we raise derives from :class:`AgentloopError`, so callers catch one thing and
the edges (HTTP handler, CLI) translate it once. Facts live in attributes. Errors must
pickle, because DBOS stores a failed step's exception and re-raises it on replay: each
class keeps its constructor keyword arguments and rebuilds itself from them.

    AgentloopError
    ├── InvalidInput                 bad input from a user: HTTP 400 / CLI exit 2
    │   ├── ConfigError              a config key with a bad value (key, value, allowed)
    │   ├── TemplateError            worktree path template: unknown variable or filter
    │   ├── PlanError                a plan file that cannot be read
    │   ├── PromptError              a prompt file that cannot be read
    │   └── PathEscapeError          a path outside the workspace or run dir
    ├── NotFound                     unknown run, step, artifact: HTTP 404
    ├── Conflict                     impossible transition (current_status): HTTP 409
    ├── AgentError                   an agent CLI failed
    │   ├── AgentPermanentError      not logged in, bad model, permission refusal
    │   ├── AgentTransientError      overloaded, 5xx, throttled, connection reset
    │   ├── AgentTimeout             the agent ran past its timeout (exit code 124)
    │   └── UsageLimitReached        the account's usage limit (resume_at, epoch seconds)
    ├── ProcessError                 a supervised subprocess could not be started
    ├── GitError                     a git command failed (args, returncode, stderr)
    │   ├── DirtyWorktreeError       uncommitted tracked changes in the primary tree (paths)
    │   ├── MergeConflictError       merge into the target conflicted (paths)
    │   └── MergeVerificationError   verify_cmds failed on the merged tree (detail)
    ├── StoreError                   the database failed or holds inconsistent data
    ├── EventPayloadError            an event payload that does not fit its type (event_type)
    └── ArtifactError                a run-dir file could not be written (path, reason)
"""

from __future__ import annotations

from typing import Any


class AgentloopError(Exception):
    """Root of every agentloop error. ``message`` is what a user reads."""

    def __init__(self, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        self.facts: dict[str, Any] = facts
        for name, value in facts.items():
            setattr(self, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.facts))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[AgentloopError], message: str, facts: dict[str, Any]) -> AgentloopError:
    error = cls.__new__(cls)
    AgentloopError.__init__(error, message, **facts)
    return error


class InvalidInput(AgentloopError):
    """Input from a user (request body, config, CLI argument) that cannot be accepted."""


class ConfigError(InvalidInput):
    """A configuration value that is not allowed."""

    def __init__(self, key: str, value: object, allowed: str, source: str | None = None) -> None:
        where = f" in {source}" if source else ""
        super().__init__(
            f"config key {key!r}{where}: invalid value {value!r}; expected {allowed}",
            key=key,
            value=value,
            allowed=allowed,
            source=source,
        )


class TemplateError(InvalidInput):
    """A worktree path template that names an unknown variable or filter."""


class PlanError(InvalidInput):
    """A plan that cannot be read."""


class PromptError(InvalidInput):
    """A prompt file or context file that cannot be read."""


class PathEscapeError(InvalidInput):
    """A path that resolves outside the directory it must stay in."""

    def __init__(self, path: str, root: str) -> None:
        super().__init__(f"path {path!r} escapes {root!r}", path=path, root=root)


class NotFound(AgentloopError):
    """Something asked for by id does not exist."""


class Conflict(AgentloopError):
    """A control transition that the run's current status does not allow."""

    def __init__(self, message: str, current_status: str) -> None:
        super().__init__(message, current_status=current_status)


class AgentError(AgentloopError):
    """An agent CLI failed."""


class AgentPermanentError(AgentError):
    """A failure that retrying cannot fix (not logged in, invalid model, permissions)."""


class AgentTransientError(AgentError):
    """A failure worth retrying with backoff (overloaded, 5xx, throttled, reset)."""


class AgentTimeout(AgentError):
    """The agent ran past its timeout and was killed."""


class UsageLimitReached(AgentError):
    """The agent's account hit its usage limit; ``resume_at`` is epoch seconds or None."""

    def __init__(self, message: str, agent: str, resume_at: float | None) -> None:
        super().__init__(message, agent=agent, resume_at=resume_at)


class ProcessError(AgentloopError):
    """A supervised subprocess could not be started or supervised."""


class GitError(AgentloopError):
    """A git command failed."""

    def __init__(
        self,
        message: str,
        args: list[str] | None = None,
        returncode: int = 1,
        stderr: str = "",
        **facts: Any,
    ) -> None:
        super().__init__(
            message, git_args=args or [], returncode=returncode, stderr=stderr, **facts
        )


class DirtyWorktreeError(GitError):
    """The user's primary working tree has uncommitted tracked changes (``paths``)."""

    def __init__(
        self,
        message: str,
        args: list[str] | None = None,
        returncode: int = 1,
        stderr: str = "",
        paths: list[str] | None = None,
    ) -> None:
        super().__init__(message, args, returncode, stderr, paths=paths or [])


class MergeConflictError(GitError):
    """Merging the run branch into the target conflicted (``paths``)."""

    def __init__(
        self,
        message: str,
        args: list[str] | None = None,
        returncode: int = 1,
        stderr: str = "",
        paths: list[str] | None = None,
    ) -> None:
        super().__init__(message, args, returncode, stderr, paths=paths or [])


class MergeVerificationError(GitError):
    """Verification of the merged tree failed; the target did not move (``detail``)."""

    def __init__(
        self,
        message: str,
        args: list[str] | None = None,
        returncode: int = 1,
        stderr: str = "",
        detail: str = "",
    ) -> None:
        super().__init__(message, args, returncode, stderr, detail=detail)


class StoreError(AgentloopError):
    """The database failed, or holds data that contradicts itself."""


class EventPayloadError(AgentloopError):
    """An event payload that lacks a field of its type or has one of the wrong type."""

    def __init__(self, message: str, event_type: str) -> None:
        super().__init__(message, event_type=event_type)


class ArtifactError(AgentloopError):
    """A file of a run dir (log, report, summary) could not be written or read."""

    def __init__(self, message: str, path: str, reason: str) -> None:
        super().__init__(message, path=path, reason=reason)
