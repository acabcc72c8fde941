"""The postmortem (SPEC 2.6, 13): after a run's terminal status, its agent is asked what
happened, and the answer is kept as ``analysis/postmortem.md`` in the run dir.

Durable, and apart from the run: a small DBOS workflow of its own (one step), so a slow or
failing postmortem never delays or changes the run's ending, and a restart in the middle
runs it again (its events carry idempotency keys, so history holds one START and one END).
It is started two ways:

- by the run workflow's last lines (:func:`start_after_finish`), when the run ended through
  its workflow (``COMPLETED``/``FAILED``) and ``postmortem=true``; its workflow id is
  ``<run id>-postmortem-e<epoch>``, so a replay attaches to the same one and a retried run
  (new epoch) gets a new one. A canceled run gets none automatically: the user stopped it;
- on demand (``POST /runs/{id}/postmortem``, :func:`request`), for any terminal run, with
  ``<run id>-postmortem-e<epoch>-r<n>``.

The agent runs in the run dir, never in the worktree: it cannot touch the run branch, and
the worktree cleanup need not wait for it (the prompt carries the history; the run dir has
the logs). Status (:func:`status`): ``running`` while a postmortem workflow of the run is
pending, else the last ``POSTMORTEM_END``'s ``done``/``failed`` (a START without an END and
no pending workflow: ``failed``), else ``none``.

As the reference's ``analyze`` asks (SPEC 20), a request may name the ``model`` to ask, or
want only the prompt (:func:`write_prompt`: ``analysis/postmortem-prompt.md``, no agent).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

from dbos import DBOS, SetWorkflowID

from agentloop.agents import AgentRequest, MemorySink, RetryPolicy, run_with_retries
from agentloop.artifacts.layout import analysis, iter_log, iter_tail
from agentloop.artifacts.writer import tail_lines
from agentloop.core.agent_model import agent_model
from agentloop.core.errors import AgentError, AgentloopError, Conflict
from agentloop.core.models import Event, Run
from agentloop.core.postmortem_prompt import (
    MAX_TAIL_LINES,
    PostmortemFacts,
    build_postmortem_prompt,
)
from agentloop.core.types import AgentName, EventType, Phase, StepStatus
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.recorder import Recorder
from agentloop.engine.run_env import run_env
from agentloop.engine.runtime import Runtime, current

_log = logging.getLogger("agentloop.engine")

WORKFLOW_NAME = "agentloop.postmortem"
POSTMORTEM_FILE = analysis("postmortem")
PROMPT_FILE = analysis("postmortem-prompt")
_ACTIVE_WORKFLOW = ["PENDING", "ENQUEUED"]


def workflow_prefix(run_id: str) -> str:
    return f"{run_id}-postmortem-"


# -- the durable workflow ----------------------------------------------------------------------
@DBOS.step(name="agentloop.postmortem_plan")
def plan_step(run_id: str) -> str | None:
    """The id of the run's postmortem workflow when one is wanted now, else None."""
    try:
        ctx = RunContext.load(current(), run_id)
        if not ctx.run.status.is_terminal or not ctx.config.postmortem:
            return None
        return f"{workflow_prefix(run_id)}e{ctx.state.epoch}"
    except Exception:
        _log.exception("run %s: could not plan the postmortem", run_id)
        return None


def start_after_finish(run_id: str) -> None:
    """Called by the run workflow (not a step): start the postmortem as a child workflow,
    which the parent's checkpoint makes exactly-once across a replay."""
    workflow_id = plan_step(run_id)
    if workflow_id:
        with SetWorkflowID(workflow_id):
            DBOS.start_workflow(postmortem_workflow, run_id, workflow_id, "finish")


@DBOS.step(name="agentloop.postmortem")
def postmortem_step(run_id: str, workflow_id: str, trigger: str, model: str | None = None) -> str:
    return run_postmortem(run_id, workflow_id, trigger, model)


@DBOS.workflow(name=WORKFLOW_NAME)
def postmortem_workflow(
    run_id: str, workflow_id: str, trigger: str, model: str | None = None
) -> str:
    return postmortem_step(run_id, workflow_id, trigger, model)


# -- the step's work -------------------------------------------------------------------------
def run_postmortem(run_id: str, workflow_id: str, trigger: str, model: str | None = None) -> str:
    """Ask the agent for the run's postmortem; its status: "done" or "failed"."""
    runtime = current()
    ctx = RunContext.load(runtime, run_id)
    files = RunFiles(ctx)
    recorder = Recorder(ctx)
    recorder.event(
        EventType.POSTMORTEM_START,
        f"postmortem:{workflow_id}:start",
        workflow_id=workflow_id,
        trigger=trigger,
    )
    status, reason = "done", None
    try:
        text = ask_agent(ctx, files, model)
        files.write(POSTMORTEM_FILE, text)
    except AgentloopError as exc:
        status, reason = "failed", exc.message
    except Exception as exc:
        _log.exception("run %s: postmortem failed", run_id)
        status, reason = "failed", f"internal_error: {type(exc).__name__}: {exc}"
    if runtime.shutting_down:
        # The agent was stopped by the drain, not by failure: leave the step unfinished so
        # it runs again on the next start (see phases.guard).
        threading.Event().wait()
    if status == "failed":
        _log.warning("run %s: postmortem failed: %s", run_id, reason)
    recorder.event(
        EventType.POSTMORTEM_END,
        f"postmortem:{workflow_id}:end",
        workflow_id=workflow_id,
        status=status,
        reason=reason,
        path=str(files.path(POSTMORTEM_FILE)) if status == "done" else None,
    )
    return status


def ask_agent(ctx: RunContext, files: RunFiles, model: str | None = None) -> str:
    """The run's agent's postmortem (asking ``model`` when given, else the run's), as
    Markdown; AgentError when it gives none."""
    from agentloop.engine.phases.lifecycle import current_agent

    agent_name = current_agent(ctx)
    held_until = ctx.store.get_hold(agent_name)
    if held_until is not None and held_until > time.time():
        raise AgentError(
            f"agent {agent_name} is at its usage limit until {time.ctime(held_until)}",
            agent=agent_name,
        )
    prompt = build_postmortem_prompt(gather_facts(ctx, files))
    files.writer.ensure_dirs()
    config = ctx.config if not model else dataclasses.replace(ctx.config, model=model)
    env = run_env(ctx, ctx.run.iteration)
    extra = {"permission_mode": str(config.permission_mode.value)}
    if config.agent_cmd:
        extra["agent_cmd"] = config.agent_cmd
    request = AgentRequest(
        prompt=prompt,
        model=agent_model(config, AgentName(agent_name)),
        cwd=files.primary_dir,
        timeout_sec=float(config.agent_timeout_sec),
        env=env,
        run_id=ctx.run_id,
        phase=Phase.POSTMORTEM,
        iteration=ctx.run.iteration,
        extra=extra,
    )
    result = run_with_retries(
        ctx.runtime.agents(agent_name),
        request,
        MemorySink(),
        RetryPolicy(config.agent_retries, config.agent_retry_backoff_sec),
    )
    error = result.to_error()
    if error is not None:
        raise error
    text = result.final_text.strip()
    if not text:
        raise AgentError(f"agent {agent_name} gave an empty postmortem", agent=agent_name)
    return text + "\n"


def gather_facts(ctx: RunContext, files: RunFiles) -> PostmortemFacts:
    """The run's ending, signals, failures and last output, from the store and run dir."""
    run = ctx.store.get_run(ctx.run_id)
    events = ctx.store.events_after(ctx.run_id)
    steps = ctx.store.list_steps(ctx.run_id)
    signals = tuple(
        f"{e.payload.get('signal')}: {e.payload.get('detail', '')}".rstrip(": ")
        for e in events
        if e.event_type is EventType.WATCHDOG_SIGNAL
    )
    failures = [
        f"{s.phase.value} (iteration {s.iteration}), exit {s.exit_code}: {s.message or ''}"
        for s in steps
        if s.status is StepStatus.FAILED
    ]
    failures += [
        f"verification `{e.payload.get('command')}` exited {e.payload.get('exit_code')}"
        for e in events
        if e.event_type is EventType.VERIFICATION_FAILED
    ]
    last = max((s.iteration for s in steps if s.phase is Phase.IMPLEMENTATION), default=0)
    tail_name, tail = _last_output(files, last)
    info = run.worktree
    return PostmortemFacts(
        run_id=run.id,
        name=run.name,
        status=run.status.value,
        reason=run.reason,
        spec_path=run.spec_path,
        plan_path=run.plan_path,
        iterations=run.iteration,
        tasks_done=run.tasks_done,
        tasks_total=run.tasks_total,
        run_dir=str(files.primary_dir),
        run_branch=info.run_branch,
        base_branch=info.base_branch,
        merge_target=info.merge_target_branch,
        merge_commit=run.merge_commit,
        tokens_in=run.tokens_in,
        tokens_out=run.tokens_out,
        cost_usd=run.cost_usd,
        signals=signals,
        failures=tuple(failures),
        tail_name=tail_name,
        tail=tuple(tail),
    )


def _last_output(files: RunFiles, iteration: int) -> tuple[str | None, list[str]]:
    if iteration <= 0:
        return None, []
    for name in (iter_tail(iteration), iter_log(iteration)):
        try:
            path = files.path(name)
            if path.exists():
                return name, tail_lines(path, MAX_TAIL_LINES)
        except AgentloopError:
            continue
    return None, []


# -- on demand and status -------------------------------------------------------------------
def request(runtime: Runtime, run_id: str, model: str | None = None) -> dict[str, Any]:
    """Start a postmortem of a terminal run (asking ``model`` when given), unless one is
    running: ``{started, status, workflow_id}``."""
    from agentloop.engine.control import run_lock

    with run_lock(run_id):
        ctx = RunContext.load(runtime, run_id, step_key=0)
        if not ctx.run.status.is_terminal:
            raise Conflict(
                f"a postmortem needs a finished run; this one is {ctx.run.status.value}",
                ctx.run.status.value,
            )
        running = _active_workflows(run_id)
        if running:
            return {"started": False, "status": "running", "workflow_id": running[0]}
        count = len(_workflows(run_id))
        workflow_id = f"{workflow_prefix(run_id)}e{ctx.state.epoch}-r{count + 1}"
        with SetWorkflowID(workflow_id):
            DBOS.start_workflow(postmortem_workflow, run_id, workflow_id, "request", model)
        return {"started": True, "status": "running", "workflow_id": workflow_id}


def write_prompt(runtime: Runtime, run_id: str) -> Path:
    """Write the postmortem's prompt to ``analysis/postmortem-prompt.md`` without asking an
    agent (the reference's ``prompt_only``); its path."""
    ctx = RunContext.load(runtime, run_id, step_key=0)
    files = RunFiles(ctx)
    return files.write(PROMPT_FILE, build_postmortem_prompt(gather_facts(ctx, files)))


def analysis_files(runtime: Runtime, run: Run) -> tuple[Path, list[Path]]:
    """The run's analysis dir and its files: the postmortem's two, then any other."""
    return _analysis_files(RunFiles(RunContext.load(runtime, run.id, step_key=0)))


def _analysis_files(files: RunFiles) -> tuple[Path, list[Path]]:
    own = [files.path(POSTMORTEM_FILE), files.path(PROMPT_FILE)]
    directory = own[0].parent
    try:
        others = sorted(p for p in directory.iterdir() if p.is_file() and p not in own)
    except OSError:
        others = []
    return directory, own + others


def status(runtime: Runtime, run: Run) -> dict[str, Any]:
    """``{status: none|running|done|failed, path, text, reason}`` of the run's postmortem,
    and (the reference's) ``analysis_dir`` and ``artifacts: [{path, exists}]``."""
    ctx = RunContext.load(runtime, run.id, step_key=0)
    files = RunFiles(ctx)
    path = files.path(POSTMORTEM_FILE)
    answer: dict[str, Any] = {"status": "none", "path": str(path), "reason": None}
    if _active_workflows(run.id):
        answer["status"] = "running"
    else:
        start, end = _last_postmortem_events(ctx.store.events_after(run.id))
        if end is not None:
            answer["status"] = str(end.payload.get("status") or "done")
            answer["reason"] = end.payload.get("reason")
        elif start is not None:
            answer["status"] = "failed"
            answer["reason"] = "interrupted"
    # Read after the status: a postmortem writes its file before its end event, so one that
    # ends while this runs is never reported done without its text.
    answer["text"] = _read(path)
    if answer["status"] == "none" and answer["text"] is not None:
        answer["status"] = "done"
    directory, listed = _analysis_files(files)
    answer["analysis_dir"] = str(directory)
    answer["artifacts"] = [{"path": str(p), "exists": p.exists()} for p in listed]
    return answer


def _last_postmortem_events(events: list[Event]) -> tuple[Event | None, Event | None]:
    """The newest START, and its END (None when it has none yet)."""
    start: Event | None = None
    end: Event | None = None
    for event in events:
        if event.event_type is EventType.POSTMORTEM_START:
            start, end = event, None
        elif (
            event.event_type is EventType.POSTMORTEM_END
            and start is not None
            and event.payload.get("workflow_id") == start.payload.get("workflow_id")
        ):
            end = event
    return start, end


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _workflows(run_id: str, statuses: list[str] | None = None) -> list[str]:
    found = DBOS.list_workflows(
        workflow_id_prefix=workflow_prefix(run_id),
        status=statuses,
        load_input=False,
        load_output=False,
    )
    return [w.workflow_id for w in found]


def _active_workflows(run_id: str) -> list[str]:
    return _workflows(run_id, _ACTIVE_WORKFLOW)


__all__ = [
    "POSTMORTEM_FILE",
    "PROMPT_FILE",
    "WORKFLOW_NAME",
    "analysis_files",
    "postmortem_workflow",
    "request",
    "run_postmortem",
    "start_after_finish",
    "status",
    "write_prompt",
]
