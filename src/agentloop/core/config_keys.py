# ruff: noqa: RUF009  # setting() is our dataclasses.field(): it returns a Field, not a value
"""Every configuration key (SPEC 16) with its kind, default and meaning: the one table.

:class:`Config` *is* the table: one typed field per canonical key, declared with
:func:`setting`, which keeps the value kind, the one-line doc and the old spellings
(aliases) in the field's metadata. :data:`KEYS`, :data:`ALIASES`, the JSON snapshot
and the commented file of ``loopctl init`` are all derived from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from agentloop.core.config_values import (
    Boolean,
    Choice,
    Integer,
    Items,
    Number,
    OrNone,
    Text,
    ValueKind,
    url,
)
from agentloop.core.errors import ConfigError, TemplateError
from agentloop.core.names import is_valid_branch_name
from agentloop.core.templates import DEFAULT_WORKTREE_TEMPLATE, validate_template
from agentloop.core.types import (
    AgentName,
    ArtifactMode,
    CompletionMode,
    MergeStrategy,
    MetricGoal,
    NamingMode,
    NotifyFormat,
    QueuePolicy,
    RunMode,
    WatchdogExhausted,
    WorktreeProviderName,
)

T = TypeVar("T")


class PermissionMode(StrEnum):
    """Claude Code's permission modes. ``bypassPermissions`` is passed to claude as
    ``--dangerously-skip-permissions``, any other as ``--permission-mode <mode>``."""

    DEFAULT = "default"
    ACCEPT_EDITS = "acceptEdits"
    PLAN = "plan"
    BYPASS_PERMISSIONS = "bypassPermissions"


@dataclass(frozen=True)
class KeySpec:
    name: str
    kind: ValueKind[Any]
    default: Any
    doc: str
    aliases: tuple[str, ...] = ()
    derived_from: str | None = None
    """For a key whose default is another key's resolved value (``review_model``)."""


def setting(
    kind: ValueKind[T],
    default: T,
    doc: str,
    *,
    aliases: tuple[str, ...] = (),
    derived_from: str | None = None,
) -> T:
    """Declare one config key as a :class:`Config` field."""
    spec = {"kind": kind, "doc": doc, "aliases": aliases, "derived_from": derived_from}
    return field(default=default, metadata={"key": spec})


def _template_problem(value: str) -> str | None:
    try:
        validate_template(value)
    except TemplateError as exc:
        return f"a worktree path template ({exc})"
    return None


def _branch_problem(value: str) -> str | None:
    return None if is_valid_branch_name(value) else "a valid git branch name"


def _prefix_problem(value: str) -> str | None:
    return None if is_valid_branch_name(f"{value}x") else "a valid git branch name prefix"


_PATH = Text("a path")
_OPTIONAL_PATH = OrNone(Text("a path"))
_SECONDS = Integer(minimum=0)
_BRANCH = OrNone(Text("a branch name", validate=_branch_problem))


@dataclass(frozen=True)
class Config:
    """A fully resolved configuration: every key typed and valid (checked on construction,
    so an invalid Config cannot exist)."""

    specs_dir: str = setting(_PATH, "specs", "Directory of the specs, relative to the workspace.")
    plans_dir: str = setting(
        _PATH, "specs/planning", "Directory of the plans: <spec-stem>-plan.md."
    )
    log_dir: str = setting(_PATH, "logs/loop", "Run directories go to <log_dir>/run-<id>/.")
    model: str = setting(
        Text("a model name"),
        "opus",
        "Model of the implementation steps. A Claude name (opus, sonnet, haiku, claude-*) "
        "goes to claude only; codex, gemini and opencode then use their <agent>_model, "
        "else their CLI's own default.",
    )
    review_model: str = setting(
        Text("a model name"),
        "opus",
        "Model of the review steps; empty: the same as model.",
        derived_from="model",
    )
    codex_model: str | None = setting(
        OrNone(Text("a model name")), None, "Model of codex steps; empty: see model."
    )
    gemini_model: str | None = setting(
        OrNone(Text("a model name")), None, "Model of gemini steps; empty: see model."
    )
    opencode_model: str | None = setting(
        OrNone(Text("a model name")),
        None,
        "Model of opencode steps (provider/model); empty: see model.",
    )
    agent: AgentName = setting(
        Choice(AgentName), AgentName.CLAUDE, "Agent CLI that runs the steps."
    )
    agent_cmd: str | None = setting(
        OrNone(Text("a command line")),
        None,
        "Command of agent=command: prompt on stdin, answer on stdout.",
    )
    permission_mode: PermissionMode = setting(
        Choice(PermissionMode),
        PermissionMode.BYPASS_PERMISSIONS,
        "Claude permission mode; bypassPermissions: --dangerously-skip-permissions.",
    )
    iterations: int = setting(Integer(minimum=1), 50, "Most implementation iterations of a run.")
    completion_mode: CompletionMode = setting(
        Choice(CompletionMode),
        CompletionMode.TRAILING,
        "Where the completion token must be: alone on the last line, or the whole answer.",
    )
    reviewer: bool = setting(Boolean(), True, "Review each implemented task before completion.")
    prompt_file: str | None = setting(
        _OPTIONAL_PATH, None, "File replacing the prompt instructions (default .loop/prompt.txt)."
    )
    context_files: tuple[str, ...] = setting(
        Items(Text("a path"), None, "paths"), (), "Extra files @-mentioned in every prompt."
    )
    verify_cmds: tuple[str, ...] = setting(
        Items(Text("a command"), "|", "shell commands"),
        (),
        "Verification commands, run in the worktree after each iteration.",
    )
    verify_timeout_sec: int = setting(_SECONDS, 0, "Timeout of each verify command; 0: none.")
    agent_timeout_sec: int = setting(
        _SECONDS, 600, "Timeout of one agent step; 0: none.", aliases=("claude_timeout_sec",)
    )
    agent_retries: int = setting(
        Integer(minimum=0), 0, "Retries of a failed agent step.", aliases=("claude_retries",)
    )
    agent_retry_backoff_sec: float = setting(
        Number(minimum=0),
        5.0,
        "First retry backoff, doubled on each retry.",
        aliases=("claude_retry_backoff_sec",),
    )
    artifact_mode: ArtifactMode = setting(
        Choice(ArtifactMode),
        ArtifactMode.MIRROR,
        "Run dir in the workspace, the global log dir, or both (mirror).",
    )
    global_log_dir: str | None = setting(
        _OPTIONAL_PATH, None, "Global log dir; empty: the daemon's data dir."
    )
    run_naming_mode: NamingMode = setting(
        Choice(NamingMode), NamingMode.HAIKU, "How runs are named: by the agent, or the spec slug."
    )
    run_naming_model: str = setting(Text("a model name"), "haiku", "Model that names runs.")
    base_branch: str | None = setting(
        _BRANCH, None, "Branch runs start from; empty: the repo's default branch."
    )
    run_branch_prefix: str = setting(
        Text("a branch name prefix", allow_empty=True, validate=_prefix_problem),
        "run/",
        "Prefix of run branches: <prefix><name-slug>.",
    )
    merge_target_branch: str | None = setting(
        _BRANCH, None, "Branch a completed run is merged into; empty: no merge."
    )
    merge_strategy: MergeStrategy = setting(
        Choice(MergeStrategy), MergeStrategy.SQUASH, "How a run is merged into the target."
    )
    worktree_path_template: str = setting(
        Text("a worktree path template", validate=_template_problem),
        DEFAULT_WORKTREE_TEMPLATE,
        "Worktree directory, relative to the workspace.",
    )
    worktree_provider: WorktreeProviderName = setting(
        Choice(WorktreeProviderName),
        WorktreeProviderName.AUTO,
        "Who makes worktrees: git, worktrunk (wt), or auto (wt when on PATH).",
    )
    worktrunk_bin: str = setting(Text("a command"), "wt", "The worktrunk executable.")
    worktrunk_config_path: str | None = setting(
        _OPTIONAL_PATH, None, "Worktrunk config file; empty: worktrunk's own default."
    )
    worktrunk_copy_ignored: bool = setting(
        Boolean(), False, "Copy ignored files into new worktrees (wt step copy-ignored)."
    )
    worktree_cleanup: bool = setting(Boolean(), True, "Remove the worktree when a run ends.")
    summary_json: bool = setting(Boolean(), True, "Write summary.json when a run ends.")
    postmortem: bool = setting(Boolean(), True, "Run the postmortem analysis when a run ends.")
    max_concurrency: int = setting(Integer(minimum=1), 3, "Runs at once on this host (daemon cap).")
    max_runs_per_workspace: int | None = setting(
        OrNone(Integer(minimum=1)), None, "Runs at once per workspace; empty: unlimited."
    )
    queue_policy: QueuePolicy = setting(
        Choice(QueuePolicy), QueuePolicy.FIFO, "Order of pending runs."
    )
    watchdog_max_rewrites: int = setting(
        Integer(minimum=0),
        2,
        "Prompt rewrites by the watchdog (per run, fresh after a resume) before it escalates.",
    )
    watchdog_exhausted: WatchdogExhausted = setting(
        Choice(WatchdogExhausted),
        WatchdogExhausted.PAUSE,
        "When rewrites and fallback agents are used up: pause (needs_attention) or fail.",
    )
    max_consecutive_verification_failures: int = setting(
        Integer(minimum=0), 3, "Failed verifications in a row that fail the run; 0: off."
    )
    max_consecutive_review_failures: int = setting(
        Integer(minimum=0), 0, "Failed reviews in a row that fail the run; 0: off."
    )
    max_cost_usd: float | None = setting(
        OrNone(Number(minimum=0, exclusive=True)), None, "Cost budget of a run in USD; empty: none."
    )
    max_runtime_sec: int | None = setting(
        OrNone(Integer(minimum=1)), None, "Time budget of a run in seconds; empty: none."
    )
    fallback_agents: tuple[AgentName, ...] = setting(
        Items(Choice(AgentName), "|", "agent names"),
        (),
        "Agents to switch to, in order, when the agent hits its usage limit.",
    )
    usage_limit_wait_sec: int = setting(
        _SECONDS, 900, "Wait after a usage limit that gives no reset time."
    )
    verify_merge: bool = setting(
        Boolean(), True, "Run verify_cmds on the merged tree before the target moves."
    )
    notify_webhook: str | None = setting(
        OrNone(Text("an http(s) URL", validate=url)),
        None,
        "URL that gets a POST when a run completes, fails, pauses for a usage limit or "
        "needs attention.",
    )
    notify_format: NotifyFormat = setting(
        Choice(NotifyFormat),
        NotifyFormat.JSON,
        "Body of the notify_webhook POST: json, slack (incoming webhook) or ntfy (topic URL).",
    )
    mode: RunMode = setting(
        Choice(RunMode),
        RunMode.PLAN,
        "plan: carry the plan to completion; experiment: keep only changes that improve "
        "the metric (needs measure_cmd and metric; reviewer off unless set).",
    )
    measure_cmd: str | None = setting(
        OrNone(Text("a command")),
        None,
        "Experiment mode: command that writes the metrics JSON to $LOOP_METRICS_OUT.",
    )
    measure_timeout_sec: int = setting(_SECONDS, 0, "Timeout of measure_cmd; 0: none.")
    metric: str | None = setting(
        OrNone(Text("a metric name")), None, "Experiment mode: the key of the metrics JSON."
    )
    metric_goal: MetricGoal = setting(
        Choice(MetricGoal), MetricGoal.MAX, "Experiment mode: whether higher or lower is better."
    )
    metric_target: float | None = setting(
        OrNone(Number()), None, "Experiment mode: stop once the metric reaches this value."
    )
    experiment_patience: int = setting(
        Integer(minimum=1), 5, "Experiment mode: stop after this many iterations without gain."
    )

    def __post_init__(self) -> None:
        for spec in KEYS.values():
            value = getattr(self, spec.name)
            try:
                spec.kind.check(value)
            except ValueError as exc:
                raise ConfigError(spec.name, value, str(exc)) from None
        if self.mode is RunMode.EXPERIMENT:
            for needed in ("measure_cmd", "metric"):
                if not getattr(self, needed):
                    raise ConfigError(
                        "mode", self.mode.value, f"'experiment' only together with {needed}"
                    )
        if not self.agent_cmd:
            # The error names the key that asks for the command, so it points at its line.
            needs = "'command' only together with agent_cmd"
            if self.agent is AgentName.COMMAND:
                raise ConfigError("agent", self.agent.value, needs)
            if AgentName.COMMAND in self.fallback_agents:
                fallbacks = KEYS["fallback_agents"].kind.format(self.fallback_agents)
                raise ConfigError("fallback_agents", fallbacks, needs)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe snapshot: enums as their values, lists as lists."""
        return {name: spec.kind.to_json(getattr(self, name)) for name, spec in KEYS.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "config snapshot") -> Config:
        """The inverse of :meth:`to_json`. Missing keys take their defaults (a snapshot from
        an older version); unknown keys are ignored. Raises :class:`ConfigError`."""
        values: dict[str, Any] = {}
        for name, spec in KEYS.items():
            if name in data:
                try:
                    values[name] = spec.kind.from_json(data[name])
                except ValueError as exc:
                    raise ConfigError(name, data[name], str(exc), source) from None
        return cls(**with_derived(values))


def with_derived(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` plus every derived key that is not set, taken from its source key."""
    for spec in KEYS.values():
        if spec.derived_from and spec.name not in values:
            source = KEYS[spec.derived_from]
            values[spec.name] = values.get(source.name, source.default)
    return values


KEYS: Mapping[str, KeySpec] = {
    f.name: KeySpec(name=f.name, default=f.default, **f.metadata["key"])
    for f in dataclasses.fields(Config)
}
ALIASES: Mapping[str, str] = {alias: spec.name for spec in KEYS.values() for alias in spec.aliases}
