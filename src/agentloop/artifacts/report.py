"""``report.tsv``: one tab-separated row per step, under a fixed header (SPEC 13).

Text fields are escaped so a row is always one line of exactly eleven fields: backslash,
tab, newline and carriage return become ``\\\\``, ``\\t``, ``\\n``, ``\\r``. Empty fields
stand for "none" (a step without an exit code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from agentloop.artifacts.layout import REPORT
from agentloop.artifacts.writer import ArtifactWriter
from agentloop.core.clock import rfc3339_to_ms
from agentloop.core.errors import ArtifactError
from agentloop.core.models import Artifact, Event, Step
from agentloop.core.types import EventType

REPORT_COLUMNS = (
    "timestamp_ms", "kind", "iteration", "duration_ms", "exit_code", "output_bytes",
    "output_lines", "output_path", "message", "tasks_done", "tasks_total",
)  # fmt: skip
REPORT_HEADER = "\t".join(REPORT_COLUMNS)

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


@dataclass(frozen=True)
class ReportRow:
    timestamp_ms: int
    kind: str
    iteration: int
    duration_ms: int | None = None
    exit_code: int | None = None
    output_bytes: int = 0
    output_lines: int = 0
    output_path: str = ""
    message: str = ""
    tasks_done: int = 0
    tasks_total: int = 0


def escape_field(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)


def unescape_field(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_UNESCAPES.get(following, "\\" + following))
        else:
            out.append(char)
    return "".join(out)


def format_row(row: ReportRow) -> str:
    """One report line (without its newline)."""
    return "\t".join("" if value is None else escape_field(str(value)) for value in astuple(row))


def parse_report(text: str) -> list[ReportRow]:
    """The rows of a report.tsv; ArtifactError if the header or a row is malformed."""
    lines = text.splitlines()
    if not lines:
        return []
    if lines[0] != REPORT_HEADER:
        raise ArtifactError("report.tsv has an unexpected header", path=REPORT, reason=lines[0])
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        values = line.split("\t")
        if len(values) != len(REPORT_COLUMNS):
            raise ArtifactError(
                f"report.tsv line {number} has {len(values)} fields, not {len(REPORT_COLUMNS)}",
                path=REPORT,
                reason="field count",
            )
        rows.append(_row_from(values))
    return rows


def _row_from(values: list[str]) -> ReportRow:
    parsed: dict[str, object] = {}
    for field, raw in zip(fields(ReportRow), values, strict=True):
        text = unescape_field(raw)
        if field.type in ("int", "int | None"):
            parsed[field.name] = int(text) if text else None if "None" in field.type else 0
        else:
            parsed[field.name] = text
    return ReportRow(**parsed)  # type: ignore[arg-type]


def append_report_row(writer: ArtifactWriter, row: ReportRow) -> list[Artifact]:
    """Append ``row`` to report.tsv in every location (header first) and re-index it."""
    return writer.append_text(
        REPORT, format_row(row) + "\n", index=True, header=REPORT_HEADER + "\n"
    )


def _output_stats(path: str | None) -> tuple[int, int]:
    """Bytes and lines of a step's output file (0, 0 when it is missing or unreadable)."""
    if not path:
        return 0, 0
    try:
        with Path(path).open("rb") as handle:
            size = lines = 0
            while chunk := handle.read(1 << 16):
                size += len(chunk)
                lines += chunk.count(b"\n")
        return size, lines
    except OSError:
        return 0, 0


def step_task_counts(events: Iterable[Event]) -> dict[str, tuple[int, int]]:
    """``(tasks_done, tasks_total)`` of each step as its STEP_FINISHED event recorded them."""
    counts = {}
    for event in events:
        payload = event.payload
        if event.event_type is EventType.STEP_FINISHED and event.step_id:
            done, total = payload.get("tasks_done"), payload.get("tasks_total")
            if isinstance(done, int) and isinstance(total, int):
                counts[event.step_id] = (done, total)
    return counts


def report_rows(
    steps: Sequence[Step],
    *,
    tasks_done: int = 0,
    tasks_total: int = 0,
    counts: Mapping[str, tuple[int, int]] | None = None,
) -> list[ReportRow]:
    """One row per finished step, in the given (stored) order; output sizes read from disk.

    Each row carries the task counts its step finished with (``counts``, by step id, see
    :func:`step_task_counts`). A step without them (closed by a cancel, or recorded before
    steps kept them) carries the previous row's; rows before any, the given (the run's).
    """
    rows = []
    current = (tasks_done, tasks_total)
    for step in steps:
        when = step.finished_at or step.started_at
        if when is None:
            continue
        current = (counts or {}).get(step.id, current)
        output_bytes, output_lines = _output_stats(step.output_path)
        rows.append(
            ReportRow(
                timestamp_ms=rfc3339_to_ms(when),
                kind=step.phase.value,
                iteration=step.iteration,
                duration_ms=step.duration_ms,
                exit_code=step.exit_code,
                output_bytes=output_bytes,
                output_lines=output_lines,
                output_path=step.output_path or "",
                message=step.message or "",
                tasks_done=current[0],
                tasks_total=current[1],
            )
        )
    return rows


def write_report(
    writer: ArtifactWriter, rows: Sequence[ReportRow], *, index: bool = True
) -> list[Artifact]:
    """Write the whole report.tsv (header + ``rows``) atomically in every location; index it
    (unless the caller indexes it in a transaction of its own)."""
    text = "".join(f"{line}\n" for line in [REPORT_HEADER, *map(format_row, rows)])
    return writer.write_text(REPORT, text, atomic=True, index=index)
