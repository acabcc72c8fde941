"""What a phase step answers the workflow: a :class:`StepOutcome`, whose ``kind`` the
workflow matches on (engine.workflow).

DBOS pickles each step's outcome into its database and hands it back on replay, so an
outcome is a frozen dataclass of plain fields, and changing its shape changes what recorded
steps return: bump ``WORKFLOW_VERSION`` with it.

The kinds, and the fields each one reads (the others keep their defaults):

- ``DONE``: the phase did its work and the workflow goes on. ``iteration`` (begin: the
  last iteration recorded), ``experiment`` (prepare: the run is an experiment),
  ``needs_review`` / ``verify`` (an agent step: review and verification follow in its
  iteration);
- ``NEXT_ITERATION``: the iteration is decided (the watchdog, or an experiment's
  measurement), and the next one starts;
- ``ENDED``: the loop ends with ``status`` (and ``reason``), merging first when ``merge``;
  also the finish step's answer, with the status the run ended with;
- ``FAILED``: the run fails with ``reason``;
- ``STOPPED``: the run was stopped from outside (paused, canceled, reset, ended) and its
  status is ``status``: the workflow ends quietly;
- ``USAGE_LIMIT``: the agent ``agent`` hit its usage limit, which resets at ``resume_at``
  (None: unknown); ``held`` when another run's hold said so before the agent started;
- ``WAIT``: the usage-limit pause: wait ``wait_sec`` (durably) then resume; 0 when the run
  switched to the fallback agent ``agent`` instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Kind", "StepOutcome"]


class Kind(StrEnum):
    DONE = "done"
    NEXT_ITERATION = "next_iteration"
    ENDED = "ended"
    FAILED = "failed"
    STOPPED = "stopped"
    USAGE_LIMIT = "usage_limit"
    WAIT = "wait"


@dataclass(frozen=True)
class StepOutcome:
    kind: Kind
    status: str | None = None
    reason: str | None = None
    merge: bool = False
    iteration: int = 0
    experiment: bool = False
    needs_review: bool = False
    verify: bool = False
    agent: str | None = None
    resume_at: float | None = None
    held: bool = False
    wait_sec: float = 0.0

    # -- the one way to make each kind -------------------------------------------------------
    @classmethod
    def done(
        cls,
        *,
        iteration: int = 0,
        experiment: bool = False,
        needs_review: bool = False,
        verify: bool = False,
    ) -> StepOutcome:
        return cls(
            Kind.DONE,
            iteration=iteration,
            experiment=experiment,
            needs_review=needs_review,
            verify=verify,
        )

    @classmethod
    def next_iteration(cls) -> StepOutcome:
        return cls(Kind.NEXT_ITERATION)

    @classmethod
    def ended(cls, status: str, reason: str | None = None, *, merge: bool = False) -> StepOutcome:
        return cls(Kind.ENDED, status=status, reason=reason, merge=merge)

    @classmethod
    def failed(cls, reason: str) -> StepOutcome:
        return cls(Kind.FAILED, reason=reason)

    @classmethod
    def stopped(cls, status: str) -> StepOutcome:
        return cls(Kind.STOPPED, status=status)

    @classmethod
    def usage_limit(cls, agent: str, resume_at: float | None, *, held: bool = False) -> StepOutcome:
        return cls(Kind.USAGE_LIMIT, agent=agent, resume_at=resume_at, held=held)

    @classmethod
    def wait(cls, seconds: float, agent: str | None = None) -> StepOutcome:
        return cls(Kind.WAIT, wait_sec=seconds, agent=agent)

    # -- questions the pipeline asks ---------------------------------------------------------
    @property
    def went_well(self) -> bool:
        """The phase's own work succeeded (what follows may still decide otherwise)."""
        return self.kind is Kind.DONE

    @property
    def ends_iteration(self) -> bool:
        """No review or verification follows this step's work in its iteration."""
        return not (self.needs_review or self.verify)

    def as_ending(self) -> StepOutcome:
        """This outcome as the loop's last: a failure ends the run FAILED with its reason."""
        if self.kind is Kind.FAILED:
            return StepOutcome.ended("FAILED", self.reason or "failed")
        return self

    # -- the run state's JSON (engine.history.FinishedStep) ------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepOutcome:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "kind": Kind(data["kind"])})
