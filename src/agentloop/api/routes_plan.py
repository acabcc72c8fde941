"""``GET /runs/{id}/plan``: the run's plan as it stands now, task by task with its marker
(SPEC 3, 18), for the run page's live task list. Where it is read from is
:mod:`agentloop.engine.run_plan`'s choice, named in ``source``.

A plan found nowhere (an experiment's plan is optional, a scrapped run's branch is gone) is a
404 saying where it was looked for; one that resolves outside its worktree or workspace (a
symlink) is refused with a 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from agentloop.api.deps import runtime_of
from agentloop.api.schemas import ErrorBody
from agentloop.core.plan import MARK_OF_STATE, Task, TaskState
from agentloop.engine.run_plan import PlanSource, RunPlan, read_run_plan

router = APIRouter(tags=["runs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 422)
}


class PlanTask(BaseModel):
    """One task line. ``marker`` as written in the plan (``[ ]``, ``[x]``, ``[R]``, ``[~]``,
    ``[ ]?`` for an optional task); ``manual`` under ``## Verification``; ``counted`` when
    it counts towards ``tasks_total``."""

    line: int
    marker: str
    state: TaskState
    text: str
    section: str
    optional: bool
    manual: bool
    counted: bool


class RunPlanAnswer(BaseModel):
    """``location``: the file read, or ``<run branch>:<path>`` for the branch's copy."""

    run_id: str
    source: PlanSource
    location: str
    tasks_done: int
    tasks_total: int
    tasks: list[PlanTask]


@router.get("/runs/{run_id}/plan", response_model=RunPlanAnswer, responses=_ERRORS)
async def get_plan(run_id: str, request: Request) -> RunPlanAnswer:
    """The run's plan now: from its worktree, else its branch, else its workspace."""
    store = runtime_of(request).store
    run = await run_in_threadpool(store.resolve_run, run_id)
    found = await run_in_threadpool(read_run_plan, run)
    return _answer(run.id, found)


def _answer(run_id: str, found: RunPlan) -> RunPlanAnswer:
    plan = found.plan
    return RunPlanAnswer(
        run_id=run_id,
        source=found.source,
        location=found.location,
        tasks_done=plan.tasks_done,
        tasks_total=plan.tasks_total,
        tasks=[_task(task) for task in plan.tasks],
    )


def _task(task: Task) -> PlanTask:
    return PlanTask(
        line=task.line_no,
        marker=f"[{MARK_OF_STATE[task.state]}]" + ("?" if task.optional else ""),
        state=task.state,
        text=task.text,
        section=task.section,
        optional=task.optional,
        manual=task.manual,
        counted=task.counted,
    )
