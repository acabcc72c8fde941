"""One function per pipeline phase; each runs inside one DBOS step (engine.workflow).

Every phase takes a freshly loaded :class:`RunContext`, does its work, records what happened
through the Recorder and returns a :class:`~agentloop.engine.outcome.StepOutcome` for the
workflow to match on.
"""

from agentloop.engine.phases.agent_step import implementation, review
from agentloop.engine.phases.experiment import baseline, measure
from agentloop.engine.phases.guard import guarded
from agentloop.engine.phases.lifecycle import (
    after_finish,
    begin,
    finish_outcome,
    pause_for_limit,
    resume_after_limit,
)
from agentloop.engine.phases.merge import merge
from agentloop.engine.phases.prepare import prepare
from agentloop.engine.phases.verify import verification
from agentloop.engine.phases.watchdog import watchdog

__all__ = [
    "after_finish",
    "baseline",
    "begin",
    "finish_outcome",
    "guarded",
    "implementation",
    "measure",
    "merge",
    "pause_for_limit",
    "prepare",
    "resume_after_limit",
    "review",
    "verification",
    "watchdog",
]
