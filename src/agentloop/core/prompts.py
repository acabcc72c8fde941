"""The prompts an agent gets (SPEC 5) and the watchdog's rewrite notes (SPEC 6).

Both prompts open with one line of ``@path`` mentions (spec, plan, runner notes, context
files, LEARNINGS.md), then instructions, then the rule of the active completion mode, then
any notes from the loop. The text depends on nothing but the arguments: the same run state
gives the same prompt, byte for byte.

Custom instructions (``prompt_file``, else ``.loop/prompt.txt``) replace the default
implementation instructions; ``SPEC_PATH`` and ``PLAN_PATH`` in them become the paths. The
completion rule is still appended, since the completion gate checks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from agentloop.core.completion import COMPLETION_TOKEN
from agentloop.core.errors import PromptError
from agentloop.core.plan import Task
from agentloop.core.types import CompletionMode, WatchdogSignal
from agentloop.core.workspace import LEARNINGS_FILE, PROMPT_FILE, remap_path, resolve_path

NOTES_HEADING = "## Notes from the loop"
_BLANK_LINES = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class PromptPaths:
    """The files a prompt @-mentions, as absolute paths."""

    spec: Path
    plan: Path
    runner_notes: Path
    learnings: Path
    context_files: tuple[Path, ...] = ()

    def in_worktree(self, workspace: Path, worktree: Path) -> PromptPaths:
        """The same files inside the run's worktree, so the agent's edits land on the run
        branch. Runner notes stay where they are: they live in the run dir."""

        def move(path: Path) -> Path:
            return remap_path(path, workspace, worktree)

        return replace(
            self,
            spec=move(self.spec),
            plan=move(self.plan),
            learnings=move(self.learnings),
            context_files=tuple(move(path) for path in self.context_files),
        )

    def mentions(self) -> str:
        files = (self.spec, self.plan, self.runner_notes, *self.context_files, self.learnings)
        return " ".join(f"@{path}" for path in files)


def prompt_paths(
    workspace: Path,
    spec: Path,
    plan: Path,
    runner_notes: Path,
    context_files: Iterable[str | Path] = (),
) -> PromptPaths:
    """PromptPaths of a run in ``workspace``: relative spec, plan and context files are
    taken against the workspace; LEARNINGS.md is at its root."""
    return PromptPaths(
        spec=resolve_path(spec, workspace),
        plan=resolve_path(plan, workspace),
        runner_notes=runner_notes,
        learnings=workspace / LEARNINGS_FILE,
        context_files=tuple(resolve_path(path, workspace) for path in context_files),
    )


@dataclass(frozen=True)
class PromptInputs:
    """Everything a prompt is made of, but the notes of one iteration."""

    paths: PromptPaths
    completion_mode: CompletionMode = CompletionMode.TRAILING
    custom_instructions: str | None = None
    """Replace the default implementation instructions (see :func:`load_custom_instructions`)."""

    @classmethod
    def for_run(
        cls,
        *,
        workspace: Path,
        spec_path: Path,
        plan_path: Path,
        runner_notes: Path,
        context_files: Iterable[str | Path] = (),
        worktree: Path | None = None,
        completion_mode: CompletionMode = CompletionMode.TRAILING,
        custom_instructions: str | None = None,
    ) -> PromptInputs:
        """The inputs of a run's prompts; with ``worktree``, the paths point into it."""
        paths = prompt_paths(workspace, spec_path, plan_path, runner_notes, context_files)
        if worktree is not None:
            paths = paths.in_worktree(workspace, worktree)
        return cls(paths, completion_mode, custom_instructions)


def load_custom_instructions(workspace: Path, prompt_file: str | None) -> str | None:
    """Custom instructions: ``prompt_file`` (relative to the workspace; must exist), else
    ``.loop/prompt.txt`` when it exists, else None. :class:`PromptError` when unreadable."""
    path = resolve_path(prompt_file, workspace) if prompt_file else workspace / PROMPT_FILE
    if not prompt_file and not path.exists():
        return None
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise PromptError(
            f"cannot read prompt file {str(path)!r}: {exc.strerror or exc}", path=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise PromptError(f"prompt file {str(path)!r} is not UTF-8 text", path=str(path)) from exc


DEFAULT_INSTRUCTIONS = """\
You are implementing the spec above, one task per session, following its plan.

1. Read the spec, the plan, the runner notes and LEARNINGS.md. If the runner notes report a \
failed verification, fix that first.
2. Pick the highest-priority open task (`- [ ]`) of the plan, outside `## Verification`: the \
first one unless the plan says otherwise. Optional tasks (`- [ ]?`) come last. Do only that task.
3. Implement it, then run the checks relevant to it (tests, linters, type checks) and fix what \
they find.
4. Tick the task in the plan: `- [ ]` becomes `- [x]`. If it cannot be done, mark it blocked \
(`- [~]`) and list it under `## Blockers Discovered` with the reason.
5. Commit once, with a message naming the task.
6. Answer with one line: `Completed <task>. <N> tasks remain.` When no open task remains, \
answer with the completion token instead."""

REVIEW_INSTRUCTIONS = """\
1. Read the commit that implemented the task (`git log`, `git show`) and check it against the \
spec and the plan: correct, tested, nothing left half-done.
2. If it is good, mark the task reviewed: `- [x]` becomes `- [R]`.
3. If it has small problems, fix them, run the relevant checks, then mark it `- [R]`.
4. If it is wrong or incomplete, send it back: `- [x]` becomes `- [ ]`, and add a short \
learning note to LEARNINGS.md: what went wrong and how to avoid it.
5. Commit once.
6. Answer with one line: `Reviewed <task>. <N> awaiting review.` (N: the `[x]` tasks still \
awaiting review); or `Review complete. Returning to implementation.` when none awaits review \
but open tasks remain; or the completion token when every task is reviewed and none is open."""

EXPERIMENT_INSTRUCTIONS = """\
You are running an experiment: make ONE focused change toward the goal in the spec above, \
then it is measured. The metric is `{metric}` ({direction}){target}. A change that does not \
improve it is reverted; one that does is kept and becomes the new base.

1. Read the spec, the runner notes, and `{log}` (every earlier attempt: what was tried, its \
value, kept or reverted and why). Do not repeat an attempt that was reverted.
2. Make one focused change, run the checks relevant to it, and commit once, with a message \
saying what you changed and why you expect it to help.
3. Answer with one line summarising the change. Never write the completion token: the \
measurements decide when the experiment ends."""


def build_experiment_prompt(
    inputs: PromptInputs,
    *,
    metric: str,
    maximize: bool,
    target: float | None,
    log_path: Path,
) -> str:
    """The prompt of an experiment iteration (SPEC 19)."""
    paths = inputs.paths
    mentions = " ".join(
        f"@{path}" for path in (paths.spec, paths.runner_notes, *paths.context_files, log_path)
    )
    body = EXPERIMENT_INSTRUCTIONS.format(
        metric=metric,
        direction="higher is better" if maximize else "lower is better",
        target=f", target {target:g}" if target is not None else "",
        log=log_path.name,
    )
    return f"{mentions}\n\n{body}\n"


_COMPLETION_RULES = {
    CompletionMode.TRAILING: (
        f"Completion token: `{COMPLETION_TOKEN}`. Write it only when every task is done, "
        "alone on the last line of your answer, and nowhere else."
    ),
    CompletionMode.EXACT: (
        f"Completion token: `{COMPLETION_TOKEN}`. Write it only when every task is done; "
        "then your whole answer must be exactly the token, nothing before or after it."
    ),
}


def completion_rule(mode: CompletionMode) -> str:
    return _COMPLETION_RULES[mode]


USER_NOTES_HEADING = "## Notes from the user"


def user_notes_block(notes: Sequence[tuple[str, str | None, int | None]]) -> str:
    """The "Notes from the user" block for (text, file, line) notes, oldest first."""
    lines = [USER_NOTES_HEADING, "The user wrote these while the run went on; act on them:"]
    for text, file, line in notes:
        where = f"[{file}:{line}] " if file and line else (f"[{file}] " if file else "")
        first, *rest = text.strip().splitlines() or [""]
        lines.append(f"- {where}{first}")
        lines += [f"  {more}" for more in rest]
    return "\n".join(lines)


def with_user_notes(prompt: str, block: str) -> str:
    return prompt.rstrip("\n") + "\n\n" + block + "\n"


def build_implementation_prompt(inputs: PromptInputs, notes: Sequence[str] = ()) -> str:
    """The prompt of an implementation step; ``notes`` (watchdog notes, a worktree
    reminder) are appended."""
    custom = inputs.custom_instructions
    body = DEFAULT_INSTRUCTIONS if custom is None else _substitute(custom, inputs.paths)
    rule = completion_rule(inputs.completion_mode)
    return apply_rewrite("\n\n".join((inputs.paths.mentions(), body.strip(), rule)), notes)


def build_review_prompt(
    inputs: PromptInputs, task: Task | None = None, notes: Sequence[str] = ()
) -> str:
    """The prompt of a review step about ``task``, the plan's first ``[x]`` task (named
    generically when not given)."""
    subject = (
        f"Task under review (plan line {task.line_no}): {task.text}"
        if task is not None
        else "Task under review: the first `- [x]` task of the plan."
    )
    opening = (
        "You are REVIEWING, not implementing. Another session implemented the task below "
        "and ticked it `[x]`; review its work before anything else happens.\n\n" + subject
    )
    rule = completion_rule(inputs.completion_mode)
    parts = (inputs.paths.mentions(), opening, REVIEW_INSTRUCTIONS, rule)
    return apply_rewrite("\n\n".join(parts), notes)


_NOTES = {
    WatchdogSignal.NO_PROGRESS: (
        "The last iterations changed nothing: no new commit and no plan change{detail}. "
        "Pick one small open task, finish it, tick it in the plan and commit. If a task "
        "cannot be done, mark it blocked (`- [~]`) with the reason and move on."
    ),
    WatchdogSignal.REPEATED_TASK: (
        "You reported the same task several times in a row{detail}. Check whether it is "
        "really done: if so, tick it `[x]` in the plan and commit; if it cannot be done, mark "
        "it blocked (`- [~]`) with the reason. Then go on with the next open task."
    ),
    WatchdogSignal.VERIFICATION_FAILED: (
        "The verification commands failed{detail}; the failure output is in the runner "
        "notes. Fix that before anything else, and run the failing command yourself before "
        "you commit."
    ),
    WatchdogSignal.MALFORMED_COMPLETE: (
        "Your last answer had the completion token in the wrong place{detail}. Write it only "
        "when every task is done, and exactly as the completion rule says."
    ),
    WatchdogSignal.FALSE_COMPLETE: (
        "You answered with the completion token, but the run is not complete{detail}: open "
        "tasks remain in the plan, a task awaits review, or the verification failed. Go on "
        "with the next open task; write the token only when all of it holds."
    ),
    WatchdogSignal.CIRCULAR_DIFF: (
        "Your last change undid a change an earlier iteration made{detail}: the work is going "
        "in circles. Read the plan and the recent commits (`git log -p`), decide which version "
        "is right, and move forward from it instead of switching back and forth."
    ),
    WatchdogSignal.WORKTREE_ESCAPE: (
        "Files of the user's primary checkout changed while you worked{detail}. Work only in "
        "your worktree, the current directory: never edit, commit or check out anything in "
        "another directory."
    ),
}


def rewrite_note(signal: WatchdogSignal, detail: str = "") -> str:
    """The note the watchdog adds to the implementation prompt for ``signal``."""
    detail = " ".join(detail.split())
    return "NOTE: " + _NOTES[signal].format(detail=f" ({detail})" if detail else "")


def apply_rewrite(prompt: str, notes: Iterable[str]) -> str:
    """``prompt`` with ``notes`` appended under one notes heading, each as one paragraph
    (blank lines inside a note are dropped). A note already under the heading is not
    repeated, so applying the same notes twice changes nothing."""
    _, heading, present = prompt.partition(f"\n\n{NOTES_HEADING}\n\n")
    existing = set(present.split("\n\n")) if heading else set()
    paragraphs = (_BLANK_LINES.sub("\n", note.strip()) for note in notes)
    new = [note for note in dict.fromkeys(paragraphs) if note and note not in existing]
    if not new:
        return prompt
    if not heading:
        prompt = f"{prompt}\n\n{NOTES_HEADING}"
    return "\n\n".join((prompt, *new))


def _substitute(instructions: str, paths: PromptPaths) -> str:
    values = {"SPEC_PATH": str(paths.spec), "PLAN_PATH": str(paths.plan)}
    return re.sub(r"\b(SPEC_PATH|PLAN_PATH)\b", lambda m: values[m.group(1)], instructions)
