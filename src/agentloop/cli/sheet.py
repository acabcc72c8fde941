"""What one run looks like in ``inspect``: its fields as a sheet, its steps, and its
artifacts (the workspace copy, naming the mirror), in plain text and as rich renderables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agentloop.cli.views import (
    STATUS_STYLE,
    columns,
    elapsed_s,
    escape,
    fmt_cost,
    fmt_duration,
    fmt_iteration,
    fmt_tasks,
    fmt_tokens,
    fmt_when,
)


def run_sheet(run: dict[str, Any], now: datetime) -> list[tuple[str, str]]:
    """``inspect``'s label/value pairs, empty values left out."""
    tree = run.get("worktree") or {}
    pairs = [
        ("id", run.get("id")),
        ("name", f"{run.get('name')} ({_name_source(run)})"),
        ("status", run.get("status")),
        ("reason", run.get("reason")),
        ("resume at", _epoch(run.get("resume_at"))),
        ("phase", run.get("phase")),
        ("iteration", fmt_iteration(run)),
        ("tasks", fmt_tasks(run)),
        ("elapsed", fmt_duration(elapsed_s(run, now))),
        ("tokens in/out", f"{run.get('tokens_in') or 0}/{run.get('tokens_out') or 0}"),
        ("cost", fmt_cost(run.get("cost_usd"))),
        ("agent", " / ".join(str(x) for x in (run.get("agent"), run.get("model")) if x)),
        ("workspace", run.get("workspace_root")),
        ("spec", run.get("spec_path")),
        ("plan", run.get("plan_path")),
        ("base branch", tree.get("base_branch")),
        ("run branch", tree.get("run_branch")),
        ("merge target", _merge_target(tree)),
        ("worktree", _join(tree.get("worktree_path"), tree.get("provider"))),
        ("cleanup", run.get("worktree_cleanup_status")),
        ("review", run.get("review_status")),
        ("pull request", run.get("pr_url")),
        ("merge commit", run.get("merge_commit")),
        ("created", fmt_when(run.get("created_at"))),
        ("started", fmt_when(run.get("started_at")) if run.get("started_at") else None),
        ("finished", fmt_when(run.get("finished_at")) if run.get("finished_at") else None),
    ]
    return [(label, str(value)) for label, value in pairs if value not in (None, "", "-")]


STEP_COLUMNS = ("ITER", "PHASE", "TRY", "STATUS", "DURATION", "EXIT", "TOKENS", "COST")


def step_row(step: dict[str, Any]) -> list[str]:
    duration = step.get("duration_ms")
    exit_code = step.get("exit_code")
    return [
        str(step.get("iteration", "")),
        str(step.get("phase", "")),
        str(step.get("attempt", 1)),
        str(step.get("status", "")),
        fmt_duration(duration / 1000) if isinstance(duration, int | float) else "-",
        "-" if exit_code is None else str(exit_code),
        fmt_tokens(step),
        fmt_cost(step.get("cost_usd")),
    ]


def inspect_text(
    run: dict[str, Any],
    steps: Sequence[dict[str, Any]],
    artifacts: Sequence[dict[str, Any]],
    now: datetime,
) -> str:
    sheet = run_sheet(run, now)
    width = max(len(label) for label, _ in sheet)
    parts = ["\n".join(f"{label.ljust(width)}  {value}" for label, value in sheet)]
    if steps:
        parts.append("steps:\n" + _indent(columns(STEP_COLUMNS, map(step_row, steps))))
    if artifacts:
        title, rows = artifact_listing(artifacts)
        parts.append(f"{title}:\n" + _indent(columns(("KIND", "FILE"), rows)))
    return "\n\n".join(parts)


def inspect_rich(
    run: dict[str, Any],
    steps: Sequence[dict[str, Any]],
    artifacts: Sequence[dict[str, Any]],
    now: datetime,
) -> Any:
    from rich.console import Group
    from rich.table import Table

    sheet = Table(box=None, show_header=False, pad_edge=False)
    sheet.add_column(style="bold")
    sheet.add_column()
    for label, value in run_sheet(run, now):
        style = STATUS_STYLE.get(value, "") if label == "status" else ""
        sheet.add_row(label, f"[{style}]{escape(value)}[/]" if style else escape(value))
    parts: list[Any] = [sheet]
    if steps:
        table = Table(title="steps", title_justify="left", box=None, header_style="bold")
        for name in STEP_COLUMNS:
            table.add_column(name, no_wrap=True)
        for step in steps:
            table.add_row(*map(escape, step_row(step)))
        parts += ["", table]
    if artifacts:
        title, rows = artifact_listing(artifacts)
        listing = Table(box=None, show_header=False)
        listing.add_column(style="dim")
        listing.add_column()
        for kind, name in rows:
            listing.add_row(escape(kind), escape(name))
        parts += ["", f"[italic]{escape(title)}[/]", listing]
    return Group(*parts)


def artifact_listing(artifacts: Sequence[dict[str, Any]]) -> tuple[str, list[list[str]]]:
    """A title naming the run dir (and its mirror) and ``[kind, file]`` rows: the files of
    the workspace copy (else of the first location), relative to their directory."""
    by_location: dict[str, list[dict[str, Any]]] = {}
    for item in artifacts:
        by_location.setdefault(str(item.get("location") or "workspace"), []).append(item)
    order = sorted(by_location, key=lambda loc: (loc != "workspace", loc))
    shown = by_location[order[0]]
    base = _common_dir([str(item.get("path", "")) for item in shown])
    rows = [
        [str(item.get("kind", "")), _relative(str(item.get("path", "")), base)] for item in shown
    ]
    title = f"artifacts in {base}" if base else "artifacts"
    mirrors = [_common_dir([str(i.get("path", "")) for i in by_location[loc]]) for loc in order[1:]]
    if any(mirrors):
        title += f" (mirrored in {', '.join(m for m in mirrors if m)})"
    return title, rows


def _common_dir(paths: Sequence[str]) -> str:
    import os.path

    try:
        common = os.path.commonpath(paths)
    except ValueError:
        return ""
    return os.path.dirname(common) if len(paths) == 1 else common


def _relative(path: str, base: str) -> str:
    prefix = base.rstrip("/") + "/"
    return path[len(prefix) :] if base and path.startswith(prefix) else path


def _name_source(run: dict[str, Any]) -> Any:
    """``user`` for a name the user gave (loopd says ``spec_slug`` and ``name_given``)."""
    return "user" if run.get("name_given") else run.get("name_source")


def _merge_target(tree: dict[str, Any]) -> str | None:
    target = tree.get("merge_target_branch")
    return f"{target} ({tree.get('merge_strategy') or 'squash'})" if target else None


def _join(*parts: Any) -> str | None:
    present = [str(p) for p in parts if p]
    return " via ".join(present) if present else None


def _epoch(value: Any) -> str | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def experiment_text(measurements: dict[str, Any]) -> str:
    """An experiment's baseline, best and series (SPEC 19), as plain lines."""
    target = measurements.get("target")
    goal = "higher" if measurements.get("goal") == "max" else "lower"
    aim = f"{goal} is better" + (f", target {_number(target)}" if target is not None else "")
    best = f"{_number(measurements.get('best'))} (iteration {measurements.get('best_iteration')})"
    lines = [
        f"experiment: {measurements.get('metric')} ({aim})",
        f"  baseline  {_number(measurements.get('baseline'))}",
        f"  best      {best}",
    ]
    rows = [
        (str(p.get("iteration")), _number(p.get("value")), _verdict(p), str(p.get("reason") or ""))
        for p in measurements.get("series", [])
    ]
    if rows:
        lines.append(_indent(columns(("ITER", "VALUE", "RESULT", "WHY"), rows)))
    return "\n".join(lines)


def _number(value: Any) -> str:
    return "-" if value is None else f"{value + 0.0:g}"  # no "-0"


def _verdict(point: dict[str, Any]) -> str:
    if point.get("iteration") == 0:
        return "baseline"
    return "kept" if point.get("kept") else "reverted"


def attention_text(run: dict[str, Any], signals: Sequence[dict[str, Any]]) -> str:
    """Why a run paused for the user (SPEC 6, 18), and how to go on."""
    short = str(run.get("id", ""))[:13]
    lines = ["needs attention: the watchdog saw no progress and used up its rewrites"]
    lines += [f"  {s.get('signal')}: {s.get('detail')}" for s in signals]
    lines += [
        "to go on, tell the agent what to do, then resume:",
        f'  loopctl say {short} "what to do next"',
        f"  loopctl resume {short}",
    ]
    return "\n".join(lines)
