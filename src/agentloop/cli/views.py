"""What runs look like in ``list``, and the formatting every view shares (times, counts,
money, id prefixes, aligned columns), in plain text and as rich renderables. Views only
build text or renderables; they never print. ``now`` is passed in, so a test fixes the
clock. rich is imported inside the functions that need it. ``inspect``'s sheet is in
:mod:`agentloop.cli.sheet`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

STATUS_STYLE = {
    "PENDING": "dim",
    "RUNNING": "cyan",
    "PAUSED": "magenta",
    "COMPLETED": "green",
    "FAILED": "red",
    "CANCELED": "yellow",
}
RUN_COLUMNS = ("ID", "NAME", "STATUS", "PHASE", "ITER", "TASKS", "ELAPSED", "TOKENS", "COST")
MIN_ID_PREFIX = 8


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def elapsed_s(run: dict[str, Any], now: datetime) -> float | None:
    """Time the run has been going: started to finished, or to ``now`` while it goes."""
    start = parse_time(run.get("started_at"))
    if start is None:
        return None
    end = parse_time(run.get("finished_at")) or now
    return max(0.0, (end - start).total_seconds())


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def fmt_count(n: Any) -> str:
    value = int(n or 0)
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return str(value)


def fmt_tokens(run: dict[str, Any]) -> str:
    return f"{fmt_count(run.get('tokens_in'))}/{fmt_count(run.get('tokens_out'))}"


def fmt_cost(usd: Any) -> str:
    return f"${float(usd or 0):.2f}"


def fmt_tasks(run: dict[str, Any]) -> str:
    total = int(run.get("tasks_total") or 0)
    return f"{int(run.get('tasks_done') or 0)}/{total}" if total else "-"


def fmt_iteration(run: dict[str, Any]) -> str:
    limit = (run.get("config") or {}).get("iterations")
    current = int(run.get("iteration") or 0)
    return f"{current}/{limit}" if limit else str(current)


def fmt_when(text: Any) -> str:
    moment = parse_time(text)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def unique_prefixes(ids: Sequence[str], minimum: int = MIN_ID_PREFIX) -> dict[str, str]:
    """The shortest prefix (at least ``minimum`` characters) telling each id apart from
    the others: run ids are UUIDv7, so runs started within a minute share 8 characters."""
    result = {}
    for run_id in ids:
        length = minimum
        while length < len(run_id) and any(
            other != run_id and other.startswith(run_id[:length]) for other in ids
        ):
            length += 1
        result[run_id] = run_id[:length]
    return result


def run_row(run: dict[str, Any], now: datetime, shown_id: str) -> list[str]:
    return [
        shown_id,
        str(run.get("name") or ""),
        str(run.get("status") or ""),
        str(run.get("phase") or "-"),
        fmt_iteration(run),
        fmt_tasks(run),
        fmt_duration(elapsed_s(run, now)),
        fmt_tokens(run),
        fmt_cost(run.get("cost_usd")),
    ]


def columns(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Rows aligned in columns, two spaces apart, the last column unpadded."""
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def runs_text(runs: Sequence[dict[str, Any]], now: datetime) -> str:
    """``list`` when piped: full ids, so each line's first field is a valid reference."""
    if not runs:
        return "no runs"
    return columns(RUN_COLUMNS, (run_row(run, now, run["id"]) for run in runs))


def runs_table(runs: Sequence[dict[str, Any]], now: datetime, title: str | None = None) -> Any:
    from rich.table import Table

    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for name in RUN_COLUMNS:
        table.add_column(
            name, no_wrap=name != "NAME", justify="right" if name == "COST" else "left"
        )
    prefixes = unique_prefixes([run["id"] for run in runs])
    for run in runs:
        row = run_row(run, now, prefixes[run["id"]])
        status = row[2]
        row[2] = (
            f"[{STATUS_STYLE.get(status, '')}]{status}[/]" if status in STATUS_STYLE else status
        )
        table.add_row(*(escape(cell) if i != 2 else cell for i, cell in enumerate(row)))
    return table


def escape(text: str) -> str:
    """``text`` as literal rich markup (square brackets are not styles)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
