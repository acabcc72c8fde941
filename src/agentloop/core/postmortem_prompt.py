"""The postmortem prompt (SPEC 2.6, 13): what an agent is asked after a run has ended.

Pure: the text depends only on :class:`PostmortemFacts`, so the same history gives the same
prompt byte for byte. Its opening paragraph says "You are writing a postmortem", which is
how an agent (the scripted one, a stand-in) can tell it from the other prompts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSTMORTEM_OPENING = "You are writing a postmortem of an agentloop run."
MAX_TAIL_LINES = 40
MAX_LIST_ITEMS = 12
_POSTMORTEM = re.compile(r"\byou are writing a postmortem\b", re.I)

INSTRUCTIONS = """\
Do not change, create or commit any file: read what you need, then answer.

Write the postmortem in Markdown, under 300 words, with these sections:
## What happened: the run's course in a few sentences.
## Why: the most likely cause of the outcome (for a completed run: what went well, what \
cost iterations).
## Next time: concrete changes to the spec, the plan, the prompt or the config that would \
help the next run.
Answer with the Markdown only."""


@dataclass(frozen=True)
class PostmortemFacts:
    """What the prompt tells about a finished run."""

    run_id: str
    name: str
    status: str
    reason: str | None
    spec_path: str
    plan_path: str
    iterations: int
    tasks_done: int
    tasks_total: int
    run_dir: str
    run_branch: str | None = None
    base_branch: str | None = None
    merge_target: str | None = None
    merge_commit: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    """None: no agent step reported a cost."""
    signals: tuple[str, ...] = ()
    """One line per watchdog signal, e.g. ``no_progress (iteration 3): ...``."""
    failures: tuple[str, ...] = ()
    """One line per failed step or verification."""
    tail_name: str | None = None
    tail: tuple[str, ...] = ()
    """The last lines of the last iteration's output."""


def is_postmortem_prompt(prompt: str) -> bool:
    """True when the prompt's opening paragraph says it asks for a postmortem."""
    opening = prompt.strip().split("\n\n", 1)[0]
    return _POSTMORTEM.search(opening) is not None


def build_postmortem_prompt(facts: PostmortemFacts) -> str:
    parts = [POSTMORTEM_OPENING + " It has ended; explain how and why, briefly.", _summary(facts)]
    parts.append(_section("Watchdog signals", facts.signals))
    parts.append(_section("Failed steps and verifications", facts.failures))
    if facts.tail:
        lines = facts.tail[-MAX_TAIL_LINES:]
        shown = "\n".join(f"    {line}" for line in lines)
        parts.append(f"Last lines of the last iteration's output ({facts.tail_name}):\n{shown}")
    else:
        parts.append("Last lines of the last iteration's output: none recorded.")
    parts.append(
        f"The run's files are in {facts.run_dir}: iter-NN.log (agent output per iteration), "
        "review-NN.log, verify-NN.log, runner-notes.txt, report.tsv, summary.json."
    )
    parts.append(INSTRUCTIONS)
    return "\n\n".join(parts) + "\n"


def _summary(facts: PostmortemFacts) -> str:
    cost = "no cost reported" if facts.cost_usd is None else f"${facts.cost_usd:.4f}"
    lines = [
        f"Run: {facts.name} ({facts.run_id})",
        f"Outcome: {facts.status}" + (f", reason: {facts.reason}" if facts.reason else ""),
        f"Spec: {facts.spec_path}",
        f"Plan: {facts.plan_path}",
        f"Iterations: {facts.iterations}; tasks done: {facts.tasks_done}/{facts.tasks_total}",
        f"Usage: {facts.tokens_in} tokens in, {facts.tokens_out} tokens out, {cost}",
    ]
    if facts.run_branch:
        lines.append(f"Branch: {facts.run_branch} (from {facts.base_branch or '?'})")
    if facts.merge_commit:
        lines.append(f"Merged into {facts.merge_target or '?'} as {facts.merge_commit}")
    return "\n".join(lines)


def _section(title: str, items: tuple[str, ...]) -> str:
    if not items:
        return f"{title}: none."
    shown = [f"- {' '.join(item.split())}" for item in items[-MAX_LIST_ITEMS:]]
    more = len(items) - len(shown)
    head = f"{title} ({len(items)}{', the last ' + str(len(shown)) + ' shown' if more else ''}):"
    return "\n".join([head, *shown])
