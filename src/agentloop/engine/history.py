"""What the engine remembers about a run between steps: one record per iteration.

The history lives in the run row's ``state`` JSON and changes in the same transaction as
the event that records it, so after a restart the watchdog and the failure counters see
exactly what they saw before (SPEC 6: counters are rebuilt from stored history).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agentloop.engine.outcome import StepOutcome

HISTORY_WINDOW = 8
"""Iterations kept: the longest look-back of any signal is three."""


@dataclass
class IterationRecord:
    iteration: int
    head: str | None = None
    plan_digest: str | None = None
    task: str | None = None
    completion: str = "absent"
    review_completion: str = "absent"
    verification_ok: bool | None = None
    escaped_paths: list[str] = field(default_factory=list)
    review_sent_back: bool = False
    review_failed: bool = False
    done_before: int | None = None  # the plan's done count when the iteration started
    tasks_done: int | None = None  # ... and after its last agent step
    added_hunks: list[str] = field(default_factory=list)  # digests of the iteration's change
    removed_hunks: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IterationRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class FinishedStep:
    """The last iteration step whose work is recorded, saved with the events that record it.

    ``work`` is what the step's own work (agent or commands) returned; ``outcome`` is what
    the step returned, the watchdog's decision included when the step ended its iteration.

    Not a second copy of DBOS's checkpoints: it covers what they cannot. DBOS checkpoints
    a step's outcome only after the step returns, in a transaction of its own; the step's
    work (an agent's run, paid for) is recorded in ours. A crash between the two re-runs
    the step from its start, and only this record, written in the transaction that records
    the work, tells it the work is done (``phases.step_end.replay_finished``). A retry or a
    resume rewinds DBOS to this step too, and must keep its work while deciding again.
    """

    key: int
    epoch: int
    work: StepOutcome
    outcome: StepOutcome

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "epoch": self.epoch,
            "work": self.work.to_json(),
            "outcome": self.outcome.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FinishedStep | None:
        """None for a record of an older loopd (its outcomes were dicts of flags): the step
        then runs in full, as one whose work is not recorded."""
        work, outcome = data.get("work"), data.get("outcome")
        if not (isinstance(work, dict) and "kind" in work):
            return None
        if not (isinstance(outcome, dict) and "kind" in outcome):
            return None
        return cls(
            int(data["key"]),
            int(data["epoch"]),
            StepOutcome.from_json(work),
            StepOutcome.from_json(outcome),
        )


@dataclass
class RunState:
    """Engine bookkeeping for one run; serialised into ``loopd_runs.state``."""

    epoch: int = 0
    history: list[IterationRecord] = field(default_factory=list)
    rewrites_used: int = 0
    consecutive_verification_failures: int = 0
    consecutive_review_failures: int = 0
    agent_index: int = 0
    iteration_limit: int | None = None
    prompt_path: str | None = None
    failed_step: int | None = None
    start_head: str | None = None
    pending_notes: list[str] = field(default_factory=list)
    experiment: dict[str, Any] = field(default_factory=dict)  # core.experiment.ExperimentState
    attention_iteration: int | None = None  # the iteration that paused for the user
    finished_step: FinishedStep | None = None

    def record(self, iteration: int) -> IterationRecord:
        """The record of ``iteration``, created on first use."""
        for existing in self.history:
            if existing.iteration == iteration:
                return existing
        record = IterationRecord(iteration=iteration)
        self.history.append(record)
        self.history = self.history[-HISTORY_WINDOW:]
        return record

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["finished_step"] = self.finished_step.to_json() if self.finished_step else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunState:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["history"] = [IterationRecord.from_json(h) for h in known.get("history", [])]
        if known.get("finished_step"):
            known["finished_step"] = FinishedStep.from_json(known["finished_step"])
        return cls(**known)

    def reset_counters(self) -> None:
        """A retry starts the failure policy afresh (the run's history stays)."""
        self.rewrites_used = 0
        self.consecutive_verification_failures = 0
        self.consecutive_review_failures = 0
        self.history = []
        self.failed_step = None
